// Pointwise kernels on the device: y = f(x + bias) over [rows, n] (bias broadcast over rows, or
// none), y = a + b (the residual), and the fp32 ↔ bf16 casts. Arithmetic in fp32; bf16 values are
// rounded once, on store. In place (y == x, y == a) is fine.
//   kRelu      max(x, 0)
//   kGeluErf   x · Φ(x) = ½x(1 + erf(x/√2))                  (PyTorch's default GELU)
//   kGeluTanh  ½x(1 + tanh(√(2/π)(x + 0.044715x³)))          (HF "gelu_new"/"gelu_pytorch_tanh")
//   kSilu      x · σ(x) = x / (1 + e^−x)                      (HF "swish"/"silu", Marian's)
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/cuda/dtype.h"

namespace attnscope::cuda {

enum class DeviceActivation { kIdentity, kRelu, kGeluErf, kGeluTanh, kSilu };

struct ActivationArgs {
  int64_t rows = 0, n = 0;
  DType type = DType::kF32;    // x, bias and y
  const void* x = nullptr;     // [rows, n]
  const void* bias = nullptr;  // [n] or null
  void* y = nullptr;           // [rows, n]
  DeviceActivation f = DeviceActivation::kIdentity;
};

void activation_forward(const ActivationArgs& a, cudaStream_t stream);

// y[n] = a[n] + b[n], all of `type`.
void add(DType type, const void* a, const void* b, void* y, int64_t n, cudaStream_t stream);

// y[n] = x[n] converted (bf16: round to nearest even). from == to copies.
void cast(DType from, const void* x, DType to, void* y, int64_t n, cudaStream_t stream);

}  // namespace attnscope::cuda
