#include "nn/layer_norm.h"

#include "kernels/cpu/layernorm.h"

namespace attnscope {

LayerNorm::LayerNorm(const std::string& prefix, int64_t dim, float eps)
    : weight(prefix + ".weight", {dim}), bias(prefix + ".bias", {dim}), dim_(dim), eps_(eps) {
  weight.value.fill(1.0f);
}

void LayerNorm::forward(const float* x, float* y, int64_t rows, Saved& saved) const {
  saved.mean.resize({rows});
  saved.rstd.resize({rows});
  cpu::layernorm_forward(x, weight.value.data(), bias.value.data(), y, saved.mean.data(),
                         saved.rstd.data(), rows, dim_, eps_);
}

void LayerNorm::backward(const float* x, const float* dy, float* dx, int64_t rows,
                         const Saved& saved) {
  cpu::layernorm_backward(x, weight.value.data(), saved.mean.data(), saved.rstd.data(), dy, dx,
                          weight.grad.data(), bias.grad.data(), rows, dim_);
}

void LayerNorm::visit_params(const ParamVisitor& f) {
  f(weight);
  f(bias);
}

}  // namespace attnscope
