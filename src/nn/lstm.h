// nn.LSTM (one layer, one direction, batch-first) and nn.LSTMCell, with PyTorch's weights,
// names and gate order (i, f, g, o):
//
//   gates = x·W_ihᵀ + b_ih + h⟨t−1⟩·W_hhᵀ + b_hh          [B, 4H], split i | f | g | o
//   i = σ(·), f = σ(·), g = tanh(·), o = σ(·)
//   c⟨t⟩ = f ⊙ c⟨t−1⟩ + i ⊙ g,   h⟨t⟩ = o ⊙ tanh(c⟨t⟩)
//
// Parameters: weight_ih [4H, I], weight_hh [4H, H], bias_ih [4H], bias_hh [4H], named
// `<prefix>.weight_ih<suffix>` … as nn.LSTM names them (suffix "_l0", "_l0_reverse") or as
// nn.LSTMCell does (suffix "").
//
// forward() runs a whole sequence x [B, T, I] left to right, or right to left when `reverse`,
// under a padding mask [B, T] (nonzero = padding): a padded step leaves h and c as they were and
// writes a zero output. With padding at the end this is exactly what PyTorch computes for a
// packed sequence (pack_padded_sequence), in both directions: the reverse direction starts at
// each row's last real token. step_forward()/step_backward() run one step (the decoder, which
// must attend before each step, and incremental decoding).
//
// Written once for Real = float (the engine) and Real = double (finite-difference checks); see
// nn/precision.h.
#pragma once

#include <cstdint>
#include <string>

#include "nn/precision.h"

namespace attnscope {

template <typename Real>
class BasicLstm {
 public:
  using TensorT = TensorOf<Real>;
  using ParamT = ParamOf<Real>;

  // What forward() keeps for backward(). Row (b, t) is the step that read x[b, t].
  struct Activations {
    TensorT gates;  // [B, T, 4H] i, f, g, o after their nonlinearities (0 at padding)
    TensorT h_in;   // [B, T, H] h⟨t−1⟩ the step read
    TensorT c_in;   // [B, T, H] c⟨t−1⟩ the step read
    TensorT c;      // [B, T, H] c⟨t⟩ (= c_in at padding)
    TensorT h_n;    // [B, H] state after the last step (nn.LSTM's h_n)
    TensorT c_n;    // [B, H]
    // backward scratch
    TensorT d_gates;  // [B, T, 4H] before the nonlinearities
    TensorT d_h;      // [B, H]
    TensorT d_c;      // [B, H]
  };

  BasicLstm() = default;
  BasicLstm(const std::string& prefix, const std::string& suffix, int64_t input_size,
            int64_t hidden_size, bool reverse = false);

  // x [B, T, I] → y [B, T, H] written with row stride y_stride ≥ H (so two directions can write
  // into one [B, T, 2H] buffer). h0, c0 [B, H] or null for zeros. a.h_n / a.c_n hold the final
  // state.
  void forward(const Real* x, const uint8_t* padding, int64_t B, int64_t T, Real* y,
               int64_t y_stride, const Real* h0, const Real* c0, Activations& a) const;
  // After forward with the same arguments. dy [B, T, H] with row stride dy_stride (entries at
  // padding are ignored: the output there is a constant 0); dh_n, dc_n [B, H] the gradient of
  // the final state, or null. Accumulates dx [B, T, I], dh0, dc0 [B, H] (each skipped when
  // null) and the parameter gradients.
  void backward(const Real* x, const uint8_t* padding, int64_t B, int64_t T, const Real* dy,
                int64_t dy_stride, const Real* dh_n, const Real* dc_n, Real* dx, Real* dh0,
                Real* dc0, Activations& a);

  // One step for B rows: x [B, I], h_prev, c_prev [B, H] → gates [B, 4H] (after the
  // nonlinearities, kept for step_backward), h, c [B, H].
  void step_forward(const Real* x, const Real* h_prev, const Real* c_prev, int64_t B, Real* gates,
                    Real* h, Real* c) const;
  // dh, dc [B, H]: the gradient of that step's h and c (dc may be null). Accumulates dx [B, I]
  // (skipped when null), dh_prev, dc_prev [B, H] and the parameter gradients. d_gates [B, 4H]
  // is scratch.
  void step_backward(const Real* x, const Real* h_prev, const Real* c_prev, const Real* gates,
                     const Real* c, const Real* dh, const Real* dc, int64_t B, Real* dx,
                     Real* dh_prev, Real* dc_prev, Real* d_gates);

  void visit_params(const std::function<void(ParamT&)>& f);
  int64_t input_size() const { return input_; }
  int64_t hidden_size() const { return hidden_; }
  bool reverse() const { return reverse_; }

  ParamT weight_ih;  // [4H, I]
  ParamT weight_hh;  // [4H, H]
  ParamT bias_ih;    // [4H]
  ParamT bias_hh;    // [4H]

 private:
  int64_t input_ = 0, hidden_ = 0;
  bool reverse_ = false;
};

using Lstm = BasicLstm<float>;

extern template class BasicLstm<float>;
extern template class BasicLstm<double>;

}  // namespace attnscope
