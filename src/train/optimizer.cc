#include "train/optimizer.h"

#include "core/error.h"

namespace attnscope {

void AdamOptimizer::update(Param& p, const cpu::AdamConfig& c) {
  ATTN_CHECK(p.has_grad(), "optimizer: parameter {} has no gradient buffer", p.name);
  Moments& mo = moments_[p.name];
  if (mo.m.numel() != p.value.numel()) {
    mo.m = Tensor(p.value.shape());
    mo.v = Tensor(p.value.shape());
  }
  cpu::adam_update(p.value.data(), p.grad.data(), mo.m.data(), mo.v.data(), p.value.numel(), c,
                   step_);
}

}  // namespace attnscope
