// log Σ e^x over a row: what beam search subtracts from the logits it keeps, and the
// log-softmax (softmax.h) from every entry.
#pragma once

#include <cstdint>

namespace attnscope::cpu {

// log Σ_j e^(x_j) of one row of n ≥ 1: its max m + log Σ e^(x − m), the exponentials summed in
// float per block of 1,024 and the blocks in double. A row whose entries are all −∞ gives −∞ (a
// NaN entry gives an unspecified value: the logits of a sound model have none). Written with
// Highway, for the best instruction set this CPU runs (a vocabulary's row is 16 lanes at a time
// with AVX-512).
float row_log_sum_exp(const float* x, int64_t n);

}  // namespace attnscope::cpu
