// Row softmax with an optional additive mask; fully masked rows give zeros.
#include "kernels/cpu/softmax.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/error.h"
#include "kernels/cpu/fast_exp.h"
#include "kernels/cpu/row_max.h"

namespace attnscope::cpu {

namespace {
constexpr int64_t kParallelMin = 1 << 14;  // elements below which one thread is faster
}

void softmax_forward(const float* x, const float* mask, float* y, int64_t rows, int64_t n) {
  ATTN_CHECK(rows >= 0 && n >= 0, "softmax: negative shape [{}, {}]", rows, n);
  constexpr float kNegInf = -std::numeric_limits<float>::infinity();
#pragma omp parallel for schedule(static) if (rows * n > kParallelMin)
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * n;  // x [rows, n]
    const float* mr = mask ? mask + r * n : nullptr;
    float* yr = y + r * n;
    // y = x + mask first, so every loop below is a plain SIMD loop.
    if (mr) {
#pragma omp simd
      for (int64_t j = 0; j < n; ++j) yr[j] = xr[j] + mr[j];
    } else if (yr != xr) {
      std::copy(xr, xr + n, yr);
    }
    const float m = row_max(yr, n);
    if (m == kNegInf) {  // every column masked
      std::fill(yr, yr + n, 0.0f);
      continue;
    }
    float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
    for (int64_t j = 0; j < n; ++j) {
      yr[j] = fast_exp(yr[j] - m);  // −∞ (masked) → exactly 0
      sum += yr[j];
    }
    const float inv = 1.0f / sum;
#pragma omp simd
    for (int64_t j = 0; j < n; ++j) yr[j] *= inv;
  }
}

void log_softmax_forward(const float* x, float* y, int64_t rows, int64_t n) {
  ATTN_CHECK(rows >= 0 && n >= 1, "log_softmax: shape [{}, {}] (n must be ≥ 1)", rows, n);
#pragma omp parallel for schedule(static) if (rows * n > kParallelMin)
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * n;  // x, y [rows, n]
    float* yr = y + r * n;
    const float lse = row_log_sum_exp(xr, n);
#pragma omp simd
    for (int64_t j = 0; j < n; ++j) yr[j] = xr[j] - lse;
  }
}

void softmax_backward(const float* y, const float* dy, float* dx, int64_t rows, int64_t n) {
  ATTN_CHECK(rows >= 0 && n >= 0, "softmax: negative shape [{}, {}]", rows, n);
#pragma omp parallel for schedule(static) if (rows * n > kParallelMin)
  for (int64_t r = 0; r < rows; ++r) {
    const float* yr = y + r * n;  // y, dy, dx [rows, n]
    const float* gr = dy + r * n;
    float* dr = dx + r * n;
    float dot = 0.0f;
    for (int64_t j = 0; j < n; ++j) dot += gr[j] * yr[j];
    for (int64_t j = 0; j < n; ++j) dr[j] += yr[j] * (gr[j] - dot);
  }
}

}  // namespace attnscope::cpu
