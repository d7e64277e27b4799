// LayerNorm (layernorm.h): one warp per row. Each lane keeps its share of the row in registers
// when the row fits (n ≤ 32·kCached), so x and the residual are read once; longer rows are read
// again from memory for the variance and the output.
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/device_common.cuh"
#include "kernels/cuda/layernorm.h"

namespace attnscope::cuda {

namespace {

using detail::from_f32;
using detail::to_f32;
using detail::warp_sum;

constexpr int kRowsPerBlock = 4;  // warps per block
constexpr int kCached = 32;       // values per lane kept in registers: rows up to 1024

template <typename TX, typename TY>
__global__ void __launch_bounds__(32 * kRowsPerBlock) layernorm_kernel(LayerNormArgs a) {
  const int lane = threadIdx.x & 31;
  const int64_t row = static_cast<int64_t>(blockIdx.x) * kRowsPerBlock + (threadIdx.x >> 5);
  if (row >= a.rows) return;
  const int64_t n = a.n;
  const TX* x = static_cast<const TX*>(a.x) + row * n;
  const TX* r = a.residual ? static_cast<const TX*>(a.residual) + row * n : nullptr;
  TX* s = a.sum_out ? static_cast<TX*>(a.sum_out) + row * n : nullptr;
  TY* y = static_cast<TY*>(a.y) + row * n;
  const bool cached = n <= 32 * kCached;

  // v = x + residual, rounded to the stream's type (what sum_out holds and a CPU would see)
  auto value = [&](int64_t c) {
    float v = to_f32(x[c]);
    if (r) v = to_f32(from_f32<TX>(v + to_f32(r[c])));
    return v;
  };
  float vals[kCached];
  float sum = 0.0f;
  if (cached) {
#pragma unroll
    for (int i = 0; i < kCached; ++i) {
      const int64_t c = lane + 32 * i;
      vals[i] = c < n ? value(c) : 0.0f;
      sum += vals[i];
    }
  } else {
    for (int64_t c = lane; c < n; c += 32) sum += value(c);
  }
  const float mean = warp_sum(sum) / static_cast<float>(n);
  float sq = 0.0f;
  if (cached) {
#pragma unroll
    for (int i = 0; i < kCached; ++i) {
      const int64_t c = lane + 32 * i;
      if (c < n) sq += (vals[i] - mean) * (vals[i] - mean);
    }
  } else {
    for (int64_t c = lane; c < n; c += 32) {
      const float d = value(c) - mean;
      sq += d * d;
    }
  }
  const float rstd = rsqrtf(warp_sum(sq) / static_cast<float>(n) + a.eps);
  // sum_out and y may alias x: every lane read its values above, and each lane writes only the
  // columns it read itself (uncached: reads column c again just before writing it).
  if (cached) {
#pragma unroll
    for (int i = 0; i < kCached; ++i) {
      const int64_t c = lane + 32 * i;
      if (c < n) {
        if (s) s[c] = from_f32<TX>(vals[i]);
        y[c] = from_f32<TY>((vals[i] - mean) * rstd * a.gamma[c] + a.beta[c]);
      }
    }
  } else {
    for (int64_t c = lane; c < n; c += 32) {
      const float v = value(c);
      if (s) s[c] = from_f32<TX>(v);
      y[c] = from_f32<TY>((v - mean) * rstd * a.gamma[c] + a.beta[c]);
    }
  }
}

template <typename TX, typename TY>
void launch(const LayerNormArgs& a, cudaStream_t stream) {
  const unsigned blocks = static_cast<unsigned>((a.rows + kRowsPerBlock - 1) / kRowsPerBlock);
  layernorm_kernel<TX, TY><<<blocks, 32 * kRowsPerBlock, 0, stream>>>(a);
  ATTN_CUDA_CHECK_LAUNCH("layernorm_kernel");
}

}  // namespace

void layernorm_forward(const LayerNormArgs& a, cudaStream_t stream) {
  ATTN_CUDA_REQUIRE(a.rows >= 0 && a.n >= 0,
                    "layernorm: negative shape [" << a.rows << ", " << a.n << "]");
  ATTN_CUDA_REQUIRE(a.rows / kRowsPerBlock < INT32_MAX, "layernorm: too many rows " << a.rows);
  if (a.rows == 0 || a.n == 0) return;
  ATTN_CUDA_REQUIRE(a.x && a.gamma && a.beta && a.y, "layernorm: a null pointer");
  ATTN_CUDA_REQUIRE(a.eps > 0.0f, "layernorm: eps " << a.eps << " must be positive");
  using bf16 = __nv_bfloat16;
  const bool x32 = a.x_type == DType::kF32, y32 = a.y_type == DType::kF32;
  if (x32 && y32) launch<float, float>(a, stream);
  if (x32 && !y32) launch<float, bf16>(a, stream);
  if (!x32 && y32) launch<bf16, float>(a, stream);
  if (!x32 && !y32) launch<bf16, bf16>(a, stream);
}

}  // namespace attnscope::cuda
