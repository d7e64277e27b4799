// A named parameter and its gradient. Modules enumerate their parameters once, through
// visit_params(); that one visitor drives init, zero-grad, clipping, Adam, save and load.
#pragma once

#include <functional>
#include <string>

#include "core/tensor.h"

namespace attnscope {

struct Param {
  std::string name;  // PyTorch state_dict name, e.g. "encoder.layers.0.self_attn.in_proj_weight"
  Tensor value;
  Tensor grad;  // allocated by alloc_grad(); empty for inference-only models

  Param() = default;
  Param(std::string n, Shape shape) : name(std::move(n)), value(std::move(shape)) {}
  void alloc_grad() {
    if (grad.numel() != value.numel()) grad = Tensor(value.shape());
  }
  bool has_grad() const { return !grad.empty(); }
};

using ParamVisitor = std::function<void(Param&)>;

}  // namespace attnscope
