// LayerNorm on the device (PyTorch nn.LayerNorm, biased variance, fp32 statistics):
//   v = x + residual (residual optional; v written to sum_out when given),
//   y = (v − mean(v)) / sqrt(var(v) + eps) · gamma + beta,
// so the post-norm sub-layer LN(x + F(x)) and the pre-norm residual stream (sum kept, normed
// copy for the next sub-layer) each take one pass.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/cuda/dtype.h"

namespace attnscope::cuda {

struct LayerNormArgs {
  int64_t rows = 0, n = 0;
  DType x_type = DType::kF32;      // x, residual and sum_out
  const void* x = nullptr;         // [rows, n]
  const void* residual = nullptr;  // [rows, n] or null
  void* sum_out = nullptr;         // [rows, n] or null: x + residual (may alias x)
  const float* gamma = nullptr;    // [n]
  const float* beta = nullptr;     // [n]
  DType y_type = DType::kF32;
  void* y = nullptr;  // [rows, n] (may alias x when the types match)
  float eps = 1e-5f;
};

void layernorm_forward(const LayerNormArgs& a, cudaStream_t stream);

}  // namespace attnscope::cuda
