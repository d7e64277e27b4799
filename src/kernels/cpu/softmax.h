// Softmax over the last axis with an optional additive mask.
#pragma once

#include <cstdint>

#include "kernels/cpu/log_sum_exp.h"

namespace attnscope::cpu {

// y[rows, n] = softmax(x + mask) along n. mask is [rows, n] or null; −∞ entries mask a column.
// A row whose entries are all −∞ gives all zeros (never NaN).
void softmax_forward(const float* x, const float* mask, float* y, int64_t rows, int64_t n);
// y[rows, n] = x − row_log_sum_exp(x) along n (in place when y == x): the next-token
// log-probabilities of decoding. Beam search ranks a step's raw logits instead and subtracts
// row_log_sum_exp from the candidates it keeps (the same float arithmetic, so the same values).
void log_softmax_forward(const float* x, float* y, int64_t rows, int64_t n);
// dx[rows, n] += y ⊙ (dy − Σ_n dy ⊙ y)
void softmax_backward(const float* y, const float* dy, float* dx, int64_t rows, int64_t n);

}  // namespace attnscope::cpu
