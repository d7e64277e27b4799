// Embedding lookup, scale and sinusoidal positions in one pass (embedding.h).
#include <climits>

#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/device_common.cuh"
#include "kernels/cuda/embedding.h"

namespace attnscope::cuda {

namespace {

using detail::from_f32;
using detail::to_f32;

__device__ double position_value(PositionLayout layout, int64_t pos, int64_t c, int64_t d) {
  const double log_base = 9.210340371976184;  // ln 10000
  const double p = static_cast<double>(pos);
  if (layout == PositionLayout::kInterleaved) {
    const int64_t two_i = c - (c & 1);
    const double angle = p * exp(-log_base * static_cast<double>(two_i) / static_cast<double>(d));
    return (c & 1) ? cos(angle) : sin(angle);
  }
  const int64_t half = (d + 1) / 2;
  const int64_t j = c < half ? c : c - half;
  const double angle = p * exp(-log_base * static_cast<double>(2 * j) / static_cast<double>(d));
  return c < half ? sin(angle) : cos(angle);
}

// One block per token row, threads over the columns.
template <typename TIn, typename TOut>
__global__ void embedding_kernel(EmbeddingArgs a) {
  const int64_t row = blockIdx.x;
  const int32_t id = a.ids[row];
  const bool valid = id >= 0 && id < a.vocab;
  if (!valid && threadIdx.x == 0 && a.bad_row != nullptr)
    atomicMin(a.bad_row, static_cast<int32_t>(row < INT32_MAX ? row : INT32_MAX));
  const TIn* src =
      static_cast<const TIn*>(a.table) + (valid ? static_cast<int64_t>(id) : 0) * a.dim;
  TOut* dst = static_cast<TOut*>(a.out) + row * a.dim;
  const int64_t pos = a.pos_offset + row % a.seq_len;
  for (int64_t c = threadIdx.x; c < a.dim; c += blockDim.x) {
    if (!valid) {
      dst[c] = from_f32<TOut>(0.0f);
      continue;
    }
    const float e = to_f32(src[c]) * a.scale;
    if (a.positions == PositionLayout::kNone) {
      dst[c] = from_f32<TOut>(e);
    } else {
      // The position term rounded to float first, as the CPU adds a float table.
      const float pe = static_cast<float>(position_value(a.positions, pos, c, a.dim));
      dst[c] = from_f32<TOut>(e + pe);
    }
  }
}

template <typename TIn, typename TOut>
void launch(const EmbeddingArgs& a, cudaStream_t stream) {
  const int threads = a.dim >= 256 ? 256 : 128;
  embedding_kernel<TIn, TOut><<<static_cast<unsigned>(a.n), threads, 0, stream>>>(a);
  ATTN_CUDA_CHECK_LAUNCH("embedding_kernel");
}

}  // namespace

void embedding_forward(const EmbeddingArgs& a, cudaStream_t stream) {
  ATTN_CUDA_REQUIRE(
      a.n >= 0 && a.dim >= 0 && a.vocab >= 0,
      "embedding: negative shape n=" << a.n << " dim=" << a.dim << " vocab=" << a.vocab);
  ATTN_CUDA_REQUIRE(a.seq_len >= 1 && a.pos_offset >= 0,
                    "embedding: seq_len " << a.seq_len << " must be ≥ 1 and pos_offset "
                                          << a.pos_offset << " ≥ 0");
  ATTN_CUDA_REQUIRE(a.n <= INT32_MAX, "embedding: " << a.n << " rows exceed one launch");
  if (a.n == 0 || a.dim == 0) return;
  ATTN_CUDA_REQUIRE(a.ids && a.table && a.out, "embedding: a null pointer");
  using bf16 = __nv_bfloat16;
  const bool in32 = a.table_type == DType::kF32, out32 = a.out_type == DType::kF32;
  if (in32 && out32) launch<float, float>(a, stream);
  if (in32 && !out32) launch<float, bf16>(a, stream);
  if (!in32 && out32) launch<bf16, float>(a, stream);
  if (!in32 && !out32) launch<bf16, bf16>(a, stream);
}

}  // namespace attnscope::cuda
