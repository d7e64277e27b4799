// Reference embedding lookup and its scatter-add gradient (kernels/cpu/embedding.h).
#pragma once

#include <cstdint>

#include "core/error.h"

namespace attnscope::ref {

template <typename T>
void embedding_forward(const int32_t* ids, const T* table, T* out, int64_t n_tokens, int64_t dim,
                       int64_t vocab, T scale) {
  for (int64_t i = 0; i < n_tokens; ++i) {
    ATTN_CHECK(ids[i] >= 0 && ids[i] < vocab, "token id {} at position {} is outside [0, {})",
               ids[i], i, vocab);
    for (int64_t j = 0; j < dim; ++j) out[i * dim + j] = scale * table[ids[i] * dim + j];
  }
}

template <typename T>
void embedding_backward(const int32_t* ids, const T* dout, T* dtable, int64_t n_tokens, int64_t dim,
                        T scale) {
  for (int64_t i = 0; i < n_tokens; ++i)
    for (int64_t j = 0; j < dim; ++j) dtable[ids[i] * dim + j] += scale * dout[i * dim + j];
}

}  // namespace attnscope::ref
