// Reference LayerNorm over the last axis (kernels/cpu/layernorm.h), straight from the formulas.
#pragma once

#include <cmath>
#include <cstdint>

namespace attnscope::ref {

// y = (x − mean) · rstd · gamma + beta, rstd = 1/sqrt(biased var + eps).
template <typename T>
void layernorm_forward(const T* x, const T* gamma, const T* beta, T* y, T* mean, T* rstd,
                       int64_t rows, int64_t n, T eps) {
  for (int64_t r = 0; r < rows; ++r) {
    const T* xr = x + r * n;
    T mu = 0;
    for (int64_t j = 0; j < n; ++j) mu += xr[j];
    mu /= static_cast<T>(n);
    T var = 0;
    for (int64_t j = 0; j < n; ++j) var += (xr[j] - mu) * (xr[j] - mu);
    var /= static_cast<T>(n);
    const T rs = T(1) / std::sqrt(var + eps);
    for (int64_t j = 0; j < n; ++j) y[r * n + j] = (xr[j] - mu) * rs * gamma[j] + beta[j];
    mean[r] = mu;
    rstd[r] = rs;
  }
}

// Accumulates dx, dgamma, dbeta. With xhat = (x − mean)·rstd and g = dy ⊙ gamma:
// dx = rstd · (g − mean(g) − xhat · mean(g ⊙ xhat)).
template <typename T>
void layernorm_backward(const T* x, const T* gamma, const T* mean, const T* rstd, const T* dy,
                        T* dx, T* dgamma, T* dbeta, int64_t rows, int64_t n) {
  for (int64_t r = 0; r < rows; ++r) {
    T mean_g = 0, mean_gx = 0;
    for (int64_t j = 0; j < n; ++j) {
      const T xhat = (x[r * n + j] - mean[r]) * rstd[r];
      const T g = dy[r * n + j] * gamma[j];
      mean_g += g;
      mean_gx += g * xhat;
      dgamma[j] += dy[r * n + j] * xhat;
      dbeta[j] += dy[r * n + j];
    }
    mean_g /= static_cast<T>(n);
    mean_gx /= static_cast<T>(n);
    for (int64_t j = 0; j < n; ++j) {
      const T xhat = (x[r * n + j] - mean[r]) * rstd[r];
      const T g = dy[r * n + j] * gamma[j];
      dx[r * n + j] += rstd[r] * (g - mean_g - xhat * mean_gx);
    }
  }
}

}  // namespace attnscope::ref
