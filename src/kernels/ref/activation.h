// Reference pointwise kernels (kernels/cpu/activation.h): ReLU, exact-erf GELU, tanh GELU, SiLU,
// bias, add, axpy.
#pragma once

#include <cmath>
#include <cstdint>
#include <numbers>

#include "kernels/cpu/activation.h"

namespace attnscope::ref {

template <typename T>
T activation(cpu::Activation a, T x) {
  switch (a) {
    case cpu::Activation::kRelu:
      return x > T(0) ? x : T(0);
    case cpu::Activation::kGelu:  // x·Φ(x)
      return T(0.5) * x * (T(1) + std::erf(x / std::numbers::sqrt2_v<T>));
    case cpu::Activation::kGeluTanh: {  // 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))
      const T c = std::sqrt(T(2) / std::numbers::pi_v<T>);
      return T(0.5) * x * (T(1) + std::tanh(c * (x + T(0.044715) * x * x * x)));
    }
    case cpu::Activation::kSilu:  // x·σ(x)
      return x / (T(1) + std::exp(-x));
  }
  return T(0);
}

template <typename T>
T activation_grad(cpu::Activation a, T x) {
  switch (a) {
    case cpu::Activation::kRelu:
      return x > T(0) ? T(1) : T(0);
    case cpu::Activation::kGelu: {  // d/dx [x Φ(x)] = Φ(x) + x φ(x)
      const T cdf = T(0.5) * (T(1) + std::erf(x / std::numbers::sqrt2_v<T>));
      const T pdf = std::exp(T(-0.5) * x * x) / std::sqrt(T(2) * std::numbers::pi_v<T>);
      return cdf + x * pdf;
    }
    case cpu::Activation::kGeluTanh: {  // u = c·(x + k·x³): 0.5·(1 + tanh u) + 0.5·x·sech²u·u'
      const T c = std::sqrt(T(2) / std::numbers::pi_v<T>), k = T(0.044715);
      const T t = std::tanh(c * (x + k * x * x * x));
      return T(0.5) * (T(1) + t) + T(0.5) * x * (T(1) - t * t) * c * (T(1) + T(3) * k * x * x);
    }
    case cpu::Activation::kSilu: {  // σ(x) + x·σ(x)·(1 − σ(x))
      const T s = T(1) / (T(1) + std::exp(-x));
      return s + x * s * (T(1) - s);
    }
  }
  return T(0);
}

template <typename T>
void activation_forward(cpu::Activation a, const T* x, T* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = activation(a, x[i]);
}

// dx += f'(x) ⊙ dy
template <typename T>
void activation_backward(cpu::Activation a, const T* x, const T* dy, T* dx, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dx[i] += activation_grad(a, x[i]) * dy[i];
}

// y[rows, n] += b[n]
template <typename T>
void add_bias(T* y, const T* b, int64_t rows, int64_t n) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < n; ++j) y[r * n + j] += b[j];
}

template <typename T>
void add(const T* a, const T* b, T* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = a[i] + b[i];
}

template <typename T>
void axpy(T alpha, const T* x, T* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += alpha * x[i];
}

}  // namespace attnscope::ref
