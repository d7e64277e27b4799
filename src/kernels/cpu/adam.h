// Adam and AdamW (PyTorch torch.optim.Adam / AdamW semantics, bias-corrected).
#pragma once

#include <cstdint>

namespace attnscope::cpu {

struct AdamConfig {
  float lr = 1e-3f;
  float beta1 = 0.9f;
  float beta2 = 0.98f;
  float eps = 1e-9f;
  float weight_decay = 0.0f;
  bool decoupled = false;  // false: Adam (L2 added to the gradient); true: AdamW
};

// One update of param[n] from grad[n]; m and v are the moment buffers; step counts from 1.
void adam_update(float* param, const float* grad, float* m, float* v, int64_t n,
                 const AdamConfig& cfg, int64_t step);

}  // namespace attnscope::cpu
