// One sub-layer with its residual connection, dropout and LayerNorm, in either placement:
//   post-norm (the paper's):  out = LN(x + dropout(F(x)))
//   pre-norm:                 out = x + dropout(F(LN(x)))
// With the learner's switch residual = false the "x +" is dropped, so one can see what the
// residual path is for. F is the sub-layer (self-attention, cross-attention or the FFN),
// passed as a callable so encoder and decoder layers share this wiring.
#pragma once

#include <string>

#include "kernels/cpu/dropout.h"
#include "nn/layer_norm.h"
#include "nn/model_config.h"

namespace attnscope {

// out[n] = (residual ? x : 0) + dropout(y); y is overwritten by dropout(y).
void dropout_residual_forward(const float* x, float* y, float* out, int64_t n, bool residual,
                              float p, uint64_t seed);
// dx[n] += residual ? d_out : 0;  dy[n] += dropout'(d_out)
void dropout_residual_backward(const float* d_out, float* dx, float* dy, int64_t n, bool residual,
                               float p, uint64_t seed);

class ResidualBlock {
 public:
  struct Activations {
    Tensor normed;  // pre-norm: LN(x), the sub-layer input [N, D]
    Tensor y;       // sub-layer output after dropout [N, D]
    Tensor sum;     // post-norm: x + y, the LN input [N, D]
    Tensor out;     // block output [N, D]
    LayerNorm::Saved ln;
    Tensor d_sum, d_y, d_normed;  // backward scratch [N, D]
  };

  ResidualBlock() = default;
  ResidualBlock(const std::string& norm_prefix, int64_t d_model, float eps, NormPlacement placement,
                bool residual)
      : norm(norm_prefix, d_model, eps), placement_(placement), residual_(residual), d_(d_model) {}

  // The input the sub-layer sees: LN(x) in pre-norm, x itself in post-norm.
  const float* sublayer_input(const float* x, const Activations& a) const {
    return placement_ == NormPlacement::kPre ? a.normed.data() : x;
  }

  // x [N, D] → a.out [N, D]. sublayer(u, y) computes y [N, D] from u [N, D].
  template <typename Sublayer>
  void forward(const float* x, int64_t N, float p, uint64_t seed, Activations& a,
               Sublayer&& sublayer) const {
    a.y.resize({N, d_});
    a.out.resize({N, d_});
    if (placement_ == NormPlacement::kPre) {
      a.normed.resize({N, d_});
      norm.forward(x, a.normed.data(), N, a.ln);
      sublayer(a.normed.data(), a.y.data());
      dropout_residual_forward(x, a.y.data(), a.out.data(), N * d_, residual_, p, seed);
    } else {
      a.sum.resize({N, d_});
      sublayer(x, a.y.data());
      dropout_residual_forward(x, a.y.data(), a.sum.data(), N * d_, residual_, p, seed);
      norm.forward(a.sum.data(), a.out.data(), N, a.ln);
    }
  }

  // Inference (no dropout) with the residual added by the sub-layer's last product while its
  // output is in cache: sublayer(u, residual, y) computes y [N, D] = residual + F(u), residual
  // being x [N, D] or null (the learner's switch residual = false). The same floats as forward.
  template <typename Sublayer>
  void forward_fused(const float* x, int64_t N, Activations& a, Sublayer&& sublayer) const {
    a.out.resize({N, d_});
    const float* residual = residual_ ? x : nullptr;
    if (placement_ == NormPlacement::kPre) {
      a.normed.resize({N, d_});
      norm.forward(x, a.normed.data(), N, a.ln);
      sublayer(a.normed.data(), residual, a.out.data());
    } else {
      a.sum.resize({N, d_});
      sublayer(x, residual, a.sum.data());
      norm.forward(a.sum.data(), a.out.data(), N, a.ln);
    }
  }
  // Accumulates dx [N, D] from d_out [N, D]. sublayer_backward(u, d_y, d_u) accumulates d_u.
  template <typename SublayerBackward>
  void backward(const float* x, const float* d_out, float* dx, int64_t N, float p, uint64_t seed,
                Activations& a, SublayerBackward&& sublayer_backward) {
    a.d_y.resize_zero({N, d_});
    if (placement_ == NormPlacement::kPre) {
      dropout_residual_backward(d_out, dx, a.d_y.data(), N * d_, residual_, p, seed);
      a.d_normed.resize_zero({N, d_});
      sublayer_backward(a.normed.data(), a.d_y.data(), a.d_normed.data());
      norm.backward(x, a.d_normed.data(), dx, N, a.ln);
    } else {
      a.d_sum.resize_zero({N, d_});
      norm.backward(a.sum.data(), d_out, a.d_sum.data(), N, a.ln);
      dropout_residual_backward(a.d_sum.data(), dx, a.d_y.data(), N * d_, residual_, p, seed);
      sublayer_backward(x, a.d_y.data(), dx);
    }
  }

  LayerNorm norm;

 private:
  NormPlacement placement_ = NormPlacement::kPost;
  bool residual_ = true;
  int64_t d_ = 0;
};

}  // namespace attnscope
