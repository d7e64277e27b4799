// Pointwise kernels (activation.h): grid-stride loops, one element per thread per step.
#include "kernels/cuda/activation.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/device_common.cuh"

namespace attnscope::cuda {

namespace {

using detail::from_f32;
using detail::grid_for;
using detail::to_f32;

constexpr int kThreads = 256;

__device__ __forceinline__ float apply(DeviceActivation f, float x) {
  switch (f) {
    case DeviceActivation::kRelu:
      return x > 0.0f ? x : 0.0f;
    case DeviceActivation::kGeluErf:
      return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f));
    case DeviceActivation::kGeluTanh: {
      const float inner = 0.79788456080286536f * (x + 0.044715f * x * x * x);
      return 0.5f * x * (1.0f + tanhf(inner));
    }
    case DeviceActivation::kSilu:
      return x / (1.0f + expf(-x));
    default:
      return x;
  }
}

template <typename T>
__global__ void activation_kernel(ActivationArgs a) {
  const T* x = static_cast<const T*>(a.x);
  const T* b = static_cast<const T*>(a.bias);
  T* y = static_cast<T*>(a.y);
  const int64_t total = a.rows * a.n;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    float v = to_f32(x[i]);
    if (b) v += to_f32(b[i % a.n]);
    y[i] = from_f32<T>(apply(a.f, v));
  }
}

template <typename T>
__global__ void add_kernel(const T* a, const T* b, T* y, int64_t n) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)
    y[i] = from_f32<T>(to_f32(a[i]) + to_f32(b[i]));
}

template <typename TIn, typename TOut>
__global__ void cast_kernel(const TIn* x, TOut* y, int64_t n) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)
    y[i] = from_f32<TOut>(to_f32(x[i]));
}

}  // namespace

void activation_forward(const ActivationArgs& a, cudaStream_t stream) {
  ATTN_CUDA_REQUIRE(a.rows >= 0 && a.n >= 0,
                    "activation: negative shape [" << a.rows << ", " << a.n << "]");
  if (a.rows == 0 || a.n == 0) return;
  ATTN_CUDA_REQUIRE(a.x && a.y, "activation: a null pointer");
  const unsigned blocks = grid_for(a.rows * a.n, kThreads);
  if (a.type == DType::kF32)
    activation_kernel<float><<<blocks, kThreads, 0, stream>>>(a);
  else
    activation_kernel<__nv_bfloat16><<<blocks, kThreads, 0, stream>>>(a);
  ATTN_CUDA_CHECK_LAUNCH("activation_kernel");
}

void add(DType type, const void* a, const void* b, void* y, int64_t n, cudaStream_t stream) {
  ATTN_CUDA_REQUIRE(n >= 0, "add: negative size " << n);
  if (n == 0) return;
  ATTN_CUDA_REQUIRE(a && b && y, "add: a null pointer");
  const unsigned blocks = grid_for(n, kThreads);
  if (type == DType::kF32)
    add_kernel<<<blocks, kThreads, 0, stream>>>(
        static_cast<const float*>(a), static_cast<const float*>(b), static_cast<float*>(y), n);
  else
    add_kernel<<<blocks, kThreads, 0, stream>>>(static_cast<const __nv_bfloat16*>(a),
                                                static_cast<const __nv_bfloat16*>(b),
                                                static_cast<__nv_bfloat16*>(y), n);
  ATTN_CUDA_CHECK_LAUNCH("add_kernel");
}

void cast(DType from, const void* x, DType to, void* y, int64_t n, cudaStream_t stream) {
  ATTN_CUDA_REQUIRE(n >= 0, "cast: negative size " << n);
  if (n == 0) return;
  ATTN_CUDA_REQUIRE(x && y, "cast: a null pointer");
  using bf16 = __nv_bfloat16;
  const unsigned blocks = grid_for(n, kThreads);
  if (from == DType::kF32 && to == DType::kF32)
    cast_kernel<<<blocks, kThreads, 0, stream>>>(static_cast<const float*>(x),
                                                 static_cast<float*>(y), n);
  else if (from == DType::kF32)
    cast_kernel<<<blocks, kThreads, 0, stream>>>(static_cast<const float*>(x),
                                                 static_cast<bf16*>(y), n);
  else if (to == DType::kF32)
    cast_kernel<<<blocks, kThreads, 0, stream>>>(static_cast<const bf16*>(x),
                                                 static_cast<float*>(y), n);
  else
    cast_kernel<<<blocks, kThreads, 0, stream>>>(static_cast<const bf16*>(x), static_cast<bf16*>(y),
                                                 n);
  ATTN_CUDA_CHECK_LAUNCH("cast_kernel");
}

}  // namespace attnscope::cuda
