// Reference Adam / AdamW step, the textbook form of the PyTorch docs:
//   Adam:  g ← g + λθ;            AdamW: θ ← θ − lr·λ·θ
//   m ← β1 m + (1 − β1) g;  v ← β2 v + (1 − β2) g²
//   m̂ = m / (1 − β1^t);     v̂ = v / (1 − β2^t);   θ ← θ − lr · m̂ / (√v̂ + ε)
#pragma once

#include <cmath>
#include <cstdint>

#include "kernels/cpu/adam.h"

namespace attnscope::ref {

template <typename T>
void adam_update(T* param, const T* grad, T* m, T* v, int64_t n, const cpu::AdamConfig& cfg,
                 int64_t step) {
  const T lr = cfg.lr, b1 = cfg.beta1, b2 = cfg.beta2, eps = cfg.eps, wd = cfg.weight_decay;
  for (int64_t i = 0; i < n; ++i) {
    T g = grad[i];
    if (cfg.decoupled)
      param[i] -= lr * wd * param[i];
    else
      g += wd * param[i];
    m[i] = b1 * m[i] + (T(1) - b1) * g;
    v[i] = b2 * v[i] + (T(1) - b2) * g * g;
    const T m_hat = m[i] / (T(1) - std::pow(b1, static_cast<T>(step)));
    const T v_hat = v[i] / (T(1) - std::pow(b2, static_cast<T>(step)));
    param[i] -= lr * m_hat / (std::sqrt(v_hat) + eps);
  }
}

}  // namespace attnscope::ref
