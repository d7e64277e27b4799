// Token embedding lookup (ids validated first, then rows copied in parallel) and its scatter-add.
#include "kernels/cpu/embedding.h"

#include <algorithm>

#include "core/error.h"

namespace attnscope::cpu {

namespace {
constexpr int64_t kParallelMin = 1 << 15;
constexpr int64_t kColumnBlock = 64;
}  // namespace

void embedding_forward(const int32_t* ids, const float* table, float* out, int64_t n_tokens,
                       int64_t dim, int64_t vocab, float scale) {
  ATTN_CHECK(n_tokens >= 0 && dim >= 0 && vocab >= 0, "embedding: negative shape");
  // Checked before the parallel loop: nothing may throw inside it.
  for (int64_t i = 0; i < n_tokens; ++i)
    ATTN_CHECK(ids[i] >= 0 && ids[i] < vocab,
               "embedding: token id {} at position {} is outside the vocabulary [0, {})", ids[i], i,
               vocab);
#pragma omp parallel for schedule(static) if (n_tokens * dim > kParallelMin)
  for (int64_t i = 0; i < n_tokens; ++i) {
    const float* src = table + static_cast<int64_t>(ids[i]) * dim;  // table [vocab, dim]
    float* dst = out + i * dim;                                     // out [n_tokens, dim]
    for (int64_t j = 0; j < dim; ++j) dst[j] = scale * src[j];
  }
}

void embedding_backward(const int32_t* ids, const float* dout, float* dtable, int64_t n_tokens,
                        int64_t dim, float scale) {
  ATTN_CHECK(n_tokens >= 0 && dim >= 0, "embedding: negative shape");
  for (int64_t i = 0; i < n_tokens; ++i)
    ATTN_CHECK(ids[i] >= 0, "embedding: token id {} at position {} is negative", ids[i], i);
  // Repeated ids hit the same row, so threads split the columns, not the tokens; each column
  // sums the tokens in order (deterministic).
  const int64_t blocks = (dim + kColumnBlock - 1) / kColumnBlock;
#pragma omp parallel for schedule(static) if (n_tokens * dim > kParallelMin)
  for (int64_t blk = 0; blk < blocks; ++blk) {
    const int64_t c0 = blk * kColumnBlock, c1 = std::min(dim, c0 + kColumnBlock);
    for (int64_t i = 0; i < n_tokens; ++i) {
      float* dst = dtable + static_cast<int64_t>(ids[i]) * dim;
      const float* src = dout + i * dim;
      for (int64_t c = c0; c < c1; ++c) dst[c] += scale * src[c];
    }
  }
}

}  // namespace attnscope::cpu
