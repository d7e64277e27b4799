// Reference inverted dropout with the stateless mask of kernels/cpu/dropout.h.
#pragma once

#include <cstdint>

#include "core/rng.h"

namespace attnscope::ref {

// Element i is kept iff counter_uniform(seed, i) ≥ p.
inline bool dropout_keep(uint64_t seed, uint64_t i, float p) {
  return counter_uniform(seed, i) >= p;
}

template <typename T>
void dropout_forward(const T* x, T* y, int64_t n, float p, uint64_t seed) {
  const T scale = T(1) / (T(1) - T(p));
  for (int64_t i = 0; i < n; ++i) y[i] = dropout_keep(seed, i, p) ? x[i] * scale : T(0);
}

template <typename T>
void dropout_backward(const T* dy, T* dx, int64_t n, float p, uint64_t seed) {
  const T scale = T(1) / (T(1) - T(p));
  for (int64_t i = 0; i < n; ++i) dx[i] += dropout_keep(seed, i, p) ? dy[i] * scale : T(0);
}

}  // namespace attnscope::ref
