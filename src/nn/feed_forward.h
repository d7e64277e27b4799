// Position-wise feed-forward network: FFN(x) = act(x·W1ᵀ + b1)·W2ᵀ + b2, with dropout on the
// hidden activation (PyTorch's TransformerEncoderLayer: linear1 → act → dropout → linear2).
#pragma once

#include <string>

#include "kernels/cpu/activation.h"
#include "kernels/cpu/packed_linear.h"
#include "nn/linear.h"

namespace attnscope {

class FeedForward {
 public:
  struct Activations {
    Tensor pre;                     // [N, d_ff] x·W1ᵀ + b1, before the activation
    Tensor hidden;                  // [N, d_ff] act(pre) after dropout: the input of linear2
    Tensor d_hidden, d_act, d_pre;  // backward scratch [N, d_ff]
  };

  FeedForward() = default;
  FeedForward(const std::string& prefix, int64_t d_model, int64_t d_ff, cpu::Activation act);

  // x [N, D] → y [N, D]
  void forward(const float* x, float* y, int64_t N, float dropout, uint64_t seed,
               Activations& a) const;
  // Accumulates dx [N, D].
  void backward(const float* x, const float* dy, float* dx, int64_t N, float dropout, uint64_t seed,
                Activations& a);
  // linear1 and linear2 packed for decode steps (kernels/cpu/packed_linear.h).
  struct PackedStep {
    cpu::PackedWeight w1, w2;
  };
  void pack_step(PackedStep& p, cpu::WeightFormat format = cpu::WeightFormat::kF32) const;
  // x [N, D] → y [N, D] = residual + FFN(x) without dropout, through the packed weights (the
  // activation and the residual added as each block of a product is done; residual may be null).
  // Writes a.hidden, not a.pre.
  void forward_step(const float* x, float* y, int64_t N, const PackedStep& p, Activations& a,
                    const float* residual = nullptr) const;
  void visit_params(const ParamVisitor& f);

  Linear linear1;  // [d_ff, D]
  Linear linear2;  // [D, d_ff]

 private:
  cpu::Activation act_ = cpu::Activation::kRelu;
};

}  // namespace attnscope
