// LayerNorm over the last axis: rows in parallel; the gamma/beta gradients reduce over rows
// column block by column block, so they are deterministic whatever the thread count.
#include "kernels/cpu/layernorm.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace attnscope::cpu {

namespace {
constexpr int64_t kParallelMin = 1 << 14;
constexpr int64_t kColumnBlock = 64;
}  // namespace

void layernorm_forward(const float* x, const float* gamma, const float* beta, float* y, float* mean,
                       float* rstd, int64_t rows, int64_t n, float eps) {
  ATTN_CHECK(rows >= 0 && n > 0, "layernorm: bad shape [{}, {}]", rows, n);
  const float inv_n = 1.0f / static_cast<float>(n);
#pragma omp parallel for schedule(static) if (rows * n > kParallelMin)
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * n;  // x, y [rows, n]
    float* yr = y + r * n;
    // Two passes (mean, then squared deviations) so a large mean does not cancel the variance;
    // each a SIMD reduction (one add chain per lane: a decode step's 32-row norms were 5% of an
    // int8 step as one chain of dependent adds).
    float mu = 0.0f;
#pragma omp simd reduction(+ : mu)
    for (int64_t j = 0; j < n; ++j) mu += xr[j];
    mu *= inv_n;
    float var = 0.0f;
#pragma omp simd reduction(+ : var)
    for (int64_t j = 0; j < n; ++j) var += (xr[j] - mu) * (xr[j] - mu);
    var *= inv_n;
    const float rs = 1.0f / std::sqrt(var + eps);
    for (int64_t j = 0; j < n; ++j) yr[j] = (xr[j] - mu) * rs * gamma[j] + beta[j];
    mean[r] = mu;
    rstd[r] = rs;
  }
}

void layernorm_backward(const float* x, const float* gamma, const float* mean, const float* rstd,
                        const float* dy, float* dx, float* dgamma, float* dbeta, int64_t rows,
                        int64_t n) {
  ATTN_CHECK(rows >= 0 && n > 0, "layernorm: bad shape [{}, {}]", rows, n);
  const float inv_n = 1.0f / static_cast<float>(n);
  // dx = rstd · (g − mean(g) − xhat · mean(g ⊙ xhat)), g = dy ⊙ gamma, xhat = (x − mean)·rstd
#pragma omp parallel for schedule(static) if (rows * n > kParallelMin)
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * n;  // x, dy, dx [rows, n]
    const float* gr = dy + r * n;
    float* dr = dx + r * n;
    const float mu = mean[r], rs = rstd[r];
    float sum_g = 0.0f, sum_gx = 0.0f;
    for (int64_t j = 0; j < n; ++j) {
      const float g = gr[j] * gamma[j];
      sum_g += g;
      sum_gx += g * (xr[j] - mu) * rs;
    }
    const float mean_g = sum_g * inv_n, mean_gx = sum_gx * inv_n;
    for (int64_t j = 0; j < n; ++j) {
      const float xhat = (xr[j] - mu) * rs;
      dr[j] += rs * (gr[j] * gamma[j] - mean_g - xhat * mean_gx);
    }
  }
  // dgamma [n] += Σ_rows dy ⊙ xhat, dbeta [n] += Σ_rows dy
  const int64_t blocks = (n + kColumnBlock - 1) / kColumnBlock;
#pragma omp parallel for schedule(static) if (rows * n > kParallelMin)
  for (int64_t blk = 0; blk < blocks; ++blk) {
    const int64_t c0 = blk * kColumnBlock, c1 = std::min(n, c0 + kColumnBlock);
    for (int64_t r = 0; r < rows; ++r) {
      const float* xr = x + r * n;
      const float* gr = dy + r * n;
      const float mu = mean[r], rs = rstd[r];
      for (int64_t c = c0; c < c1; ++c) {
        dgamma[c] += gr[c] * (xr[c] - mu) * rs;
        dbeta[c] += gr[c];
      }
    }
  }
}

}  // namespace attnscope::cpu
