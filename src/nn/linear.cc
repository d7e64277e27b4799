#include "nn/linear.h"

#include "kernels/cpu/gemm.h"

namespace attnscope {

Linear::Linear(const std::string& prefix, int64_t in, int64_t out, bool has_bias)
    : weight(prefix + ".weight", {out, in}), in_(in), out_(out) {
  if (has_bias) bias = Param(prefix + ".bias", {out});
}

void Linear::forward(const float* x, float* y, int64_t N) const {
  cpu::linear_forward(x, weight.value.data(), bias.value.empty() ? nullptr : bias.value.data(), y,
                      N, in_, out_);
}

void Linear::backward(const float* x, const float* dy, float* dx, int64_t N) {
  cpu::linear_backward(x, weight.value.data(), dy, dx, weight.grad.data(),
                       bias.value.empty() ? nullptr : bias.grad.data(), N, in_, out_);
}

void Linear::visit_params(const ParamVisitor& f) {
  f(weight);
  if (!bias.value.empty()) f(bias);
}

}  // namespace attnscope
