// Adam / AdamW, written as torch.optim's single-tensor implementation:
//   Adam: g += wd·θ;  AdamW: θ *= 1 − lr·wd
//   m = lerp(m, g, 1 − β1);  v = β2·v + (1 − β2)·g²
//   θ −= (lr / (1 − β1^t)) · m / (√v / √(1 − β2^t) + eps)
#include "kernels/cpu/adam.h"

#include <cmath>

#include "core/error.h"

namespace attnscope::cpu {

void adam_update(float* param, const float* grad, float* m, float* v, int64_t n,
                 const AdamConfig& cfg, int64_t step) {
  ATTN_CHECK(n >= 0, "adam: negative size {}", n);
  ATTN_CHECK(step >= 1, "adam: step {} must count from 1", step);
  ATTN_CHECK(cfg.beta1 >= 0.0f && cfg.beta1 < 1.0f && cfg.beta2 >= 0.0f && cfg.beta2 < 1.0f,
             "adam: betas ({}, {}) must lie in [0, 1)", cfg.beta1, cfg.beta2);
  const double t = static_cast<double>(step);
  const float bc1 = static_cast<float>(1.0 - std::pow(static_cast<double>(cfg.beta1), t));
  const float bc2_sqrt =
      static_cast<float>(std::sqrt(1.0 - std::pow(static_cast<double>(cfg.beta2), t)));
  const float step_size = cfg.lr / bc1;
  const float decay = cfg.decoupled ? 1.0f - cfg.lr * cfg.weight_decay : 1.0f;
  const float l2 = cfg.decoupled ? 0.0f : cfg.weight_decay;
  const float b1c = 1.0f - cfg.beta1, b2 = cfg.beta2, b2c = 1.0f - cfg.beta2, eps = cfg.eps;
#pragma omp parallel for simd schedule(static) if (n > (1 << 15))
  for (int64_t i = 0; i < n; ++i) {
    const float p = param[i] * decay;
    const float g = grad[i] + l2 * param[i];
    m[i] += b1c * (g - m[i]);
    v[i] = b2 * v[i] + b2c * g * g;
    param[i] = p - step_size * m[i] / (std::sqrt(v[i]) / bc2_sqrt + eps);
  }
}

}  // namespace attnscope::cpu
