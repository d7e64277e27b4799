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

void FeedForward::visit_params(const ParamVisitor& f) {
  linear1.visit_params(f);
  linear2.visit_params(f);
}

}  // namespace attnscope
