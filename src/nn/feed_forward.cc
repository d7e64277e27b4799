#include "nn/feed_forward.h"

#include "kernels/cpu/dropout.h"

namespace attnscope {

FeedForward::FeedForward(const std::string& prefix, int64_t d_model, int64_t d_ff,
                         cpu::Activation act)
    : linear1(prefix + "linear1", d_model, d_ff),
      linear2(prefix + "linear2", d_ff, d_model),
      act_(act) {}

void FeedForward::forward(const float* x, float* y, int64_t N, float dropout, uint64_t seed,
                          Activations& a) const {
  const int64_t F = linear1.out();
  a.pre.resize({N, F});
  a.hidden.resize({N, F});
  linear1.forward(x, a.pre.data(), N);
  cpu::activation_forward(act_, a.pre.data(), a.hidden.data(), N * F);
  if (dropout > 0) cpu::dropout_forward(a.hidden.data(), a.hidden.data(), N * F, dropout, seed);
  linear2.forward(a.hidden.data(), y, N);
}

void FeedForward::backward(const float* x, const float* dy, float* dx, int64_t N, float dropout,
                           uint64_t seed, Activations& a) {
  const int64_t F = linear1.out();
  a.d_hidden.resize_zero({N, F});
  a.d_pre.resize_zero({N, F});
  linear2.backward(a.hidden.data(), dy, a.d_hidden.data(), N);
  const float* d_act = a.d_hidden.data();
  if (dropout > 0) {
    a.d_act.resize_zero({N, F});
    cpu::dropout_backward(a.d_hidden.data(), a.d_act.data(), N * F, dropout, seed);
    d_act = a.d_act.data();
  }
  cpu::activation_backward(act_, a.pre.data(), d_act, a.d_pre.data(), N * F);
  linear1.backward(x, a.d_pre.data(), dx, N);
}

void FeedForward::pack_step(PackedStep& p, cpu::WeightFormat format) const {
  cpu::pack_weight(linear1.weight.value.data(), linear1.out(), linear1.in(), p.w1, format);
  cpu::pack_weight(linear2.weight.value.data(), linear2.out(), linear2.in(), p.w2, format);
}

void FeedForward::forward_step(const float* x, float* y, int64_t N, const PackedStep& p,
                               Activations& a, const float* residual) const {
  const int64_t F = linear1.out();
  a.hidden.resize({N, F});
  cpu::Epilogue hidden_epilogue;
  hidden_epilogue.activate = true, hidden_epilogue.act = act_;
  cpu::packed_linear_forward(x, p.w1, linear1.bias.value.data(), a.hidden.data(), N,
                             hidden_epilogue);
  cpu::Epilogue out_epilogue;
  out_epilogue.residual = residual;
  cpu::packed_linear_forward(a.hidden.data(), p.w2, linear2.bias.value.data(), y, N, out_epilogue);
}

void FeedForward::visit_params(const ParamVisitor& f) {
  linear1.visit_params(f);
  linear2.visit_params(f);
}

}  // namespace attnscope
