// Reference softmax over the last axis with an optional additive mask (kernels/cpu/softmax.h).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

namespace attnscope::ref {

// y[rows, n] = softmax(x + mask); a row that is all −∞ gives zeros.
template <typename T>
void softmax_forward(const T* x, const T* mask, T* y, int64_t rows, int64_t n) {
  for (int64_t r = 0; r < rows; ++r) {
    T m = -std::numeric_limits<T>::infinity();
    for (int64_t j = 0; j < n; ++j) {
      const T v = x[r * n + j] + (mask ? mask[r * n + j] : T(0));
      if (v > m) m = v;
    }
    if (m == -std::numeric_limits<T>::infinity()) {
      for (int64_t j = 0; j < n; ++j) y[r * n + j] = 0;
      continue;
    }
    T sum = 0;
    for (int64_t j = 0; j < n; ++j) {
      const T v = x[r * n + j] + (mask ? mask[r * n + j] : T(0));
      y[r * n + j] = std::exp(v - m);
      sum += y[r * n + j];
    }
    for (int64_t j = 0; j < n; ++j) y[r * n + j] /= sum;
  }
}

// y[rows, n] = x − log Σ_n exp(x)
template <typename T>
void log_softmax_forward(const T* x, T* y, int64_t rows, int64_t n) {
  for (int64_t r = 0; r < rows; ++r) {
    T m = x[r * n];
    for (int64_t j = 1; j < n; ++j) m = std::max(m, x[r * n + j]);
    T sum = 0;
    for (int64_t j = 0; j < n; ++j) sum += std::exp(x[r * n + j] - m);
    const T lse = m + std::log(sum);
    for (int64_t j = 0; j < n; ++j) y[r * n + j] = x[r * n + j] - lse;
  }
}

// dx[rows, n] += y ⊙ (dy − Σ dy ⊙ y)
template <typename T>
void softmax_backward(const T* y, const T* dy, T* dx, int64_t rows, int64_t n) {
  for (int64_t r = 0; r < rows; ++r) {
    T dot = 0;
    for (int64_t j = 0; j < n; ++j) dot += dy[r * n + j] * y[r * n + j];
    for (int64_t j = 0; j < n; ++j) dx[r * n + j] += y[r * n + j] * (dy[r * n + j] - dot);
  }
}

}  // namespace attnscope::ref
