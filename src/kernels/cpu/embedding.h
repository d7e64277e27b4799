// Token embedding lookup, optionally scaled (by √d_model in the Transformer).
#pragma once

#include <cstdint>

namespace attnscope::cpu {

// out[n_tokens, dim] = scale · table[ids[i], :]. Throws attnscope::Error naming the id and
// position when an id is outside [0, vocab).
void embedding_forward(const int32_t* ids, const float* table, float* out, int64_t n_tokens,
                       int64_t dim, int64_t vocab, float scale);
// Scatter-add: dtable[ids[i], :] += scale · dout[i, :] (repeated ids accumulate).
void embedding_backward(const int32_t* ids, const float* dout, float* dtable, int64_t n_tokens,
                        int64_t dim, float scale);

}  // namespace attnscope::cpu
