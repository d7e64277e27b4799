// Adam / AdamW over a model's parameters, with the moment buffers kept per parameter name
// (so they can be saved with the trainer state and restored exactly).
#pragma once

#include <map>
#include <string>

#include "kernels/cpu/adam.h"
#include "nn/param.h"

namespace attnscope {

class AdamOptimizer {
 public:
  explicit AdamOptimizer(const cpu::AdamConfig& cfg) : cfg_(cfg) {}

  // One update of every parameter the visitor yields, at learning rate lr. Steps count from 1.
  template <typename Model>
  void step(Model& model, float lr) {
    ++step_;
    cpu::AdamConfig c = cfg_;
    c.lr = lr;
    model.visit_params([&](Param& p) { update(p, c); });
  }

  int64_t steps() const { return step_; }
  const cpu::AdamConfig& config() const { return cfg_; }
  struct Moments {
    Tensor m, v;
  };
  std::map<std::string, Moments>& moments() { return moments_; }
  void set_steps(int64_t s) { step_ = s; }

 private:
  void update(Param& p, const cpu::AdamConfig& c);
  cpu::AdamConfig cfg_;
  int64_t step_ = 0;
  std::map<std::string, Moments> moments_;
};

}  // namespace attnscope
