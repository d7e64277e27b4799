// Softmax over the last axis with an optional additive mask.
#pragma once

#include <cstdint>

namespace attnscope::cpu {

// y[rows, n] = softmax(x + mask) along n. mask is [rows, n] or null; −∞ entries mask a column.
// A row whose entries are all −∞ gives all zeros (never NaN).
void softmax_forward(const float* x, const float* mask, float* y, int64_t rows, int64_t n);
// log Σ_j e^(x_j) of one row of n ≥ 1: its max m + log Σ e^(x − m), the sum accumulated in double.
// Beam search ranks a step's raw logits and subtracts this from the candidates it keeps; the
// log-softmax below subtracts it from every entry (the same float arithmetic, so the same values).
float row_log_sum_exp(const float* x, int64_t n);
// y[rows, n] = x − row_log_sum_exp(x) along n (in place when y == x): the next-token
// log-probabilities of decoding.
void log_softmax_forward(const float* x, float* y, int64_t rows, int64_t n);
// dx[rows, n] += y ⊙ (dy − Σ_n dy ⊙ y)
void softmax_backward(const float* y, const float* dy, float* dx, int64_t rows, int64_t n);

}  // namespace attnscope::cpu
