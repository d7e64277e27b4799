// Inverted dropout with a stateless mask: element i is kept when counter_uniform(seed, i) ≥ p,
// so backward regenerates the mask from the seed instead of storing it.
#pragma once

#include <cstdint>

namespace attnscope::cpu {

// y[n] = keep(i) ? x[i] / (1 − p) : 0.  p = 0 copies x. x and y may alias.
void dropout_forward(const float* x, float* y, int64_t n, float p, uint64_t seed);
// dx[n] += keep(i) ? dy[i] / (1 − p) : 0
void dropout_backward(const float* dy, float* dx, int64_t n, float p, uint64_t seed);

}  // namespace attnscope::cpu
