// Pointwise kernels: ReLU, exact-erf GELU, tanh GELU, SiLU, bias broadcast, add, axpy.
#include "kernels/cpu/activation.h"

#include <cmath>
#include <numbers>

#include "core/error.h"
#include "kernels/cpu/fast_exp.h"

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

// GELU's tanh form: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).
constexpr float kSqrt2OverPi = std::numbers::sqrt2_v<float> * std::numbers::inv_sqrtpi_v<float>;
constexpr float kGeluCubic = 0.044715f;
inline float gelu_tanh(float x) {
  return 0.5f * x * (1.0f + std::tanh(kSqrt2OverPi * (x + kGeluCubic * x * x * x)));
}
// d/dx: 0.5·(1 + t) + 0.5·x·(1 − t²)·√(2/π)·(1 + 3·0.044715·x²), t the tanh above.
inline float gelu_tanh_grad(float x) {
  const float t = std::tanh(kSqrt2OverPi * (x + kGeluCubic * x * x * x));
  return 0.5f * (1.0f + t) +
         0.5f * x * (1.0f - t * t) * kSqrt2OverPi * (1.0f + 3.0f * kGeluCubic * x * x);
}

// SiLU(x) = x·σ(x), written x / (1 + e^(−x)) as PyTorch computes it; fast_exp (≤ 2 ulp) lets
// the loop vectorise (the FFN of every Marian model runs through it).
inline float silu(float x) {
  return x / (1.0f + fast_exp(-x));
}
// SiLU'(x) = σ(x)·(1 + x·(1 − σ(x))).
inline float silu_grad(float x) {
  const float s = 1.0f / (1.0f + fast_exp(-x));
  return s * (1.0f + x * (1.0f - s));
}

}  // namespace

void activation_forward(Activation a, const float* x, float* y, int64_t n) {
  ATTN_CHECK(n >= 0, "activation: negative size {}", n);
  switch (a) {
    case Activation::kRelu:
#pragma omp parallel for simd schedule(static) if (n > kParallelMin)
      for (int64_t i = 0; i < n; ++i) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
      return;
    case Activation::kGelu:
#pragma omp parallel for schedule(static) if (n > kParallelMin)
      for (int64_t i = 0; i < n; ++i) y[i] = gelu(x[i]);
      return;
    case Activation::kGeluTanh:
#pragma omp parallel for schedule(static) if (n > kParallelMin)
      for (int64_t i = 0; i < n; ++i) y[i] = gelu_tanh(x[i]);
      return;
    case Activation::kSilu:
#pragma omp parallel for simd schedule(static) if (n > kParallelMin)
      for (int64_t i = 0; i < n; ++i) y[i] = silu(x[i]);
      return;
  }
  fail("activation: unknown activation {}", static_cast<int>(a));
}

void activation_backward(Activation a, const float* x, const float* dy, float* dx, int64_t n) {
  ATTN_CHECK(n >= 0, "activation: negative size {}", n);
  switch (a) {
    case Activation::kRelu:
#pragma omp parallel for simd schedule(static) if (n > kParallelMin)
      for (int64_t i = 0; i < n; ++i) dx[i] += x[i] > 0.0f ? dy[i] : 0.0f;
      return;
    case Activation::kGelu:
#pragma omp parallel for schedule(static) if (n > kParallelMin)
      for (int64_t i = 0; i < n; ++i) dx[i] += gelu_grad(x[i]) * dy[i];
      return;
    case Activation::kGeluTanh:
#pragma omp parallel for schedule(static) if (n > kParallelMin)
      for (int64_t i = 0; i < n; ++i) dx[i] += gelu_tanh_grad(x[i]) * dy[i];
      return;
    case Activation::kSilu:
#pragma omp parallel for simd schedule(static) if (n > kParallelMin)
      for (int64_t i = 0; i < n; ++i) dx[i] += silu_grad(x[i]) * dy[i];
      return;
  }
  fail("activation: unknown activation {}", static_cast<int>(a));
}

void add_bias(float* y, const float* b, int64_t rows, int64_t n) {
  ATTN_CHECK(rows >= 0 && n >= 0, "add_bias: negative shape [{}, {}]", rows, n);
#pragma omp parallel for schedule(static) if (rows * n > kParallelMin)
  for (int64_t r = 0; r < rows; ++r) {
    float* yr = y + r * n;  // y [rows, n]
    for (int64_t j = 0; j < n; ++j) yr[j] += b[j];
  }
}

void apply_epilogue(const Epilogue& e, float* y, int64_t rows, int64_t ld, int64_t c0,
                    int64_t cols) {
  for (int64_t r = 0; r < rows; ++r) {
    float* yr = y + r * ld + c0;
    if (e.activate) {
      switch (e.act) {
        case Activation::kRelu:
#pragma omp simd
          for (int64_t j = 0; j < cols; ++j) yr[j] = yr[j] > 0.0f ? yr[j] : 0.0f;
          break;
        case Activation::kGelu:
          for (int64_t j = 0; j < cols; ++j) yr[j] = gelu(yr[j]);
          break;
        case Activation::kGeluTanh:
          for (int64_t j = 0; j < cols; ++j) yr[j] = gelu_tanh(yr[j]);
          break;
        case Activation::kSilu:
#pragma omp simd
          for (int64_t j = 0; j < cols; ++j) yr[j] = silu(yr[j]);
          break;
      }
    }
    if (e.residual != nullptr) {
      const float* rr = e.residual + r * ld + c0;
#pragma omp simd
      for (int64_t j = 0; j < cols; ++j) yr[j] = rr[j] + yr[j];
    }
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
