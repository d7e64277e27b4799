// Pointwise kernels: ReLU, exact-erf GELU, bias broadcast, add, axpy.
#include "kernels/cpu/activation.h"

#include <cmath>
#include <numbers>

#include "core/error.h"

namespace attnscope::cpu {

namespace {

constexpr int64_t kParallelMin = 1 << 15;  // elements below which one thread is faster
constexpr float kInvSqrt2 = 1.0f / std::numbers::sqrt2_v<float>;
constexpr float kInvSqrt2Pi = std::numbers::inv_sqrtpi_v<float> * kInvSqrt2;

// GELU(x) = x · Φ(x), Φ the standard normal CDF.
inline float gelu(float x) {
  return 0.5f * x * (1.0f + std::erf(x * kInvSqrt2));
}
// GELU'(x) = Φ(x) + x · φ(x)
inline float gelu_grad(float x) {
  const float cdf = 0.5f * (1.0f + std::erf(x * kInvSqrt2));
  return cdf + x * kInvSqrt2Pi * std::exp(-0.5f * x * x);
}

}  // namespace

void activation_forward(Activation a, const float* x, float* y, int64_t n) {
  ATTN_CHECK(n >= 0, "activation: negative size {}", n);
  if (a == Activation::kRelu) {
#pragma omp parallel for simd schedule(static) if (n > kParallelMin)
    for (int64_t i = 0; i < n; ++i) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
  } else {
#pragma omp parallel for schedule(static) if (n > kParallelMin)
    for (int64_t i = 0; i < n; ++i) y[i] = gelu(x[i]);
  }
}

void activation_backward(Activation a, const float* x, const float* dy, float* dx, int64_t n) {
  ATTN_CHECK(n >= 0, "activation: negative size {}", n);
  if (a == Activation::kRelu) {
#pragma omp parallel for simd schedule(static) if (n > kParallelMin)
    for (int64_t i = 0; i < n; ++i) dx[i] += x[i] > 0.0f ? dy[i] : 0.0f;
  } else {
#pragma omp parallel for schedule(static) if (n > kParallelMin)
    for (int64_t i = 0; i < n; ++i) dx[i] += gelu_grad(x[i]) * dy[i];
  }
}

void add_bias(float* y, const float* b, int64_t rows, int64_t n) {
  ATTN_CHECK(rows >= 0 && n >= 0, "add_bias: negative shape [{}, {}]", rows, n);
#pragma omp parallel for schedule(static) if (rows * n > kParallelMin)
  for (int64_t r = 0; r < rows; ++r) {
    float* yr = y + r * n;  // y [rows, n]
    for (int64_t j = 0; j < n; ++j) yr[j] += b[j];
  }
}

void add(const float* a, const float* b, float* y, int64_t n) {
  ATTN_CHECK(n >= 0, "add: negative size {}", n);
#pragma omp parallel for simd schedule(static) if (n > kParallelMin)
  for (int64_t i = 0; i < n; ++i) y[i] = a[i] + b[i];
}

void axpy(float alpha, const float* x, float* y, int64_t n) {
  ATTN_CHECK(n >= 0, "axpy: negative size {}", n);
#pragma omp parallel for simd schedule(static) if (n > kParallelMin)
  for (int64_t i = 0; i < n; ++i) y[i] += alpha * x[i];
}

}  // namespace attnscope::cpu
