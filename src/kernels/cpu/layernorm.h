// LayerNorm over the last axis (PyTorch nn.LayerNorm with elementwise affine).
#pragma once

#include <cstdint>

namespace attnscope::cpu {

// y[rows, n] = (x − mean) · rstd · gamma + beta; saves mean[rows] and rstd[rows] for backward.
// rstd = 1 / sqrt(var + eps), var is the biased variance (as PyTorch).
void layernorm_forward(const float* x, const float* gamma, const float* beta, float* y, float* mean,
                       float* rstd, int64_t rows, int64_t n, float eps);
// Accumulates dx[rows, n], dgamma[n], dbeta[n].
void layernorm_backward(const float* x, const float* gamma, const float* mean, const float* rstd,
                        const float* dy, float* dx, float* dgamma, float* dbeta, int64_t rows,
                        int64_t n);

}  // namespace attnscope::cpu
