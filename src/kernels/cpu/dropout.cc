// Inverted dropout with the stateless mask counter_uniform(seed, i) ≥ p.
#include "kernels/cpu/dropout.h"

#include <algorithm>

#include "core/error.h"
#include "core/rng.h"

namespace attnscope::cpu {

namespace {

constexpr int64_t kParallelMin = 1 << 15;

void check(int64_t n, float p) {
  ATTN_CHECK(n >= 0, "dropout: negative size {}", n);
  ATTN_CHECK(p >= 0.0f && p <= 1.0f, "dropout: probability {} is outside [0, 1]", p);
}

}  // namespace

void dropout_forward(const float* x, float* y, int64_t n, float p, uint64_t seed) {
  check(n, p);
  if (p == 0.0f) {
    if (x != y) std::copy(x, x + n, y);
    return;
  }
  const float scale = 1.0f / (1.0f - p);  // never used when p = 1: nothing is kept
#pragma omp parallel for schedule(static) if (n > kParallelMin)
  for (int64_t i = 0; i < n; ++i)
    y[i] = counter_uniform(seed, static_cast<uint64_t>(i)) >= p ? x[i] * scale : 0.0f;
}

void dropout_backward(const float* dy, float* dx, int64_t n, float p, uint64_t seed) {
  check(n, p);
  if (p == 0.0f) {
#pragma omp parallel for simd schedule(static) if (n > kParallelMin)
    for (int64_t i = 0; i < n; ++i) dx[i] += dy[i];
    return;
  }
  const float scale = 1.0f / (1.0f - p);
#pragma omp parallel for schedule(static) if (n > kParallelMin)
  for (int64_t i = 0; i < n; ++i)
    if (counter_uniform(seed, static_cast<uint64_t>(i)) >= p) dx[i] += dy[i] * scale;
}

}  // namespace attnscope::cpu
