#include "nn/lstm.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace attnscope {

namespace {

template <typename Real>
Real sigmoid(Real x) {
  return Real(1) / (Real(1) + std::exp(-x));
}

// One row of gates [4H] before → after the nonlinearities; c = f ⊙ c_prev + i ⊙ g,
// h = o ⊙ tanh(c).
template <typename Real>
void cell_row(Real* gates, const Real* c_prev, Real* c, Real* h, int64_t H) {
  Real* gi = gates;
  Real* gf = gates + H;
  Real* gg = gates + 2 * H;
  Real* go = gates + 3 * H;
  for (int64_t j = 0; j < H; ++j) {
    gi[j] = sigmoid(gi[j]);
    gf[j] = sigmoid(gf[j]);
    gg[j] = std::tanh(gg[j]);
    go[j] = sigmoid(go[j]);
    c[j] = gf[j] * c_prev[j] + gi[j] * gg[j];
    h[j] = go[j] * std::tanh(c[j]);
  }
}

// The backward of cell_row for one row. dh, dc: the gradient of h and c (dc may be null).
// Writes d_gates [4H] (before the nonlinearities); dc_prev [H] receives (accumulate) or is set
// to (!accumulate) the gradient of c_prev; it may be dc itself.
template <typename Real>
void cell_row_backward(const Real* gates, const Real* c_prev, const Real* c, const Real* dh,
                       const Real* dc, Real* d_gates, Real* dc_prev, bool accumulate, int64_t H) {
  const Real* gi = gates;
  const Real* gf = gates + H;
  const Real* gg = gates + 2 * H;
  const Real* go = gates + 3 * H;
  for (int64_t j = 0; j < H; ++j) {
    const Real tc = std::tanh(c[j]);
    const Real dcj = (dc ? dc[j] : Real(0)) + dh[j] * go[j] * (Real(1) - tc * tc);
    d_gates[j] = dcj * gg[j] * gi[j] * (Real(1) - gi[j]);
    d_gates[H + j] = dcj * c_prev[j] * gf[j] * (Real(1) - gf[j]);
    d_gates[2 * H + j] = dcj * gi[j] * (Real(1) - gg[j] * gg[j]);
    d_gates[3 * H + j] = dh[j] * tc * go[j] * (Real(1) - go[j]);
    dc_prev[j] = (accumulate ? dc_prev[j] : Real(0)) + dcj * gf[j];
  }
}

}  // namespace

template <typename Real>
BasicLstm<Real>::BasicLstm(const std::string& prefix, const std::string& suffix, int64_t input_size,
                           int64_t hidden_size, bool reverse)
    : weight_ih(prefix + ".weight_ih" + suffix, {4 * hidden_size, input_size}),
      weight_hh(prefix + ".weight_hh" + suffix, {4 * hidden_size, hidden_size}),
      bias_ih(prefix + ".bias_ih" + suffix, {4 * hidden_size}),
      bias_hh(prefix + ".bias_hh" + suffix, {4 * hidden_size}),
      input_(input_size),
      hidden_(hidden_size),
      reverse_(reverse) {
  ATTN_CHECK(input_size > 0 && hidden_size > 0, "{}: LSTM sizes must be positive, got {} and {}",
             prefix, input_size, hidden_size);
}

template <typename Real>
void BasicLstm<Real>::forward(const Real* x, const uint8_t* padding, int64_t B, int64_t T, Real* y,
                              int64_t y_stride, const Real* h0, const Real* c0,
                              Activations& a) const {
  const int64_t I = input_, H = hidden_, G = 4 * H;
  ATTN_CHECK(B > 0 && T > 0, "{}: empty LSTM input [{}, {}]", weight_ih.name, B, T);
  ATTN_CHECK(y_stride >= H, "{}: output row stride {} < hidden size {}", weight_ih.name, y_stride,
             H);
  a.gates.resize({B, T, G});
  a.h_in.resize({B, T, H});
  a.c_in.resize({B, T, H});
  a.c.resize({B, T, H});
  a.h_n.resize({B, H});
  a.c_n.resize({B, H});
  Real* h = a.h_n.data();  // the running state [B, H]; ends as h_n, c_n
  Real* c = a.c_n.data();
  for (int64_t i = 0; i < B * H; ++i) {
    h[i] = h0 ? h0[i] : Real(0);
    c[i] = c0 ? c0[i] : Real(0);
  }
  // Every step's input part at once: gates [B·T, 4H] = x·W_ihᵀ + b_ih + b_hh.
  const Real* b_ih = bias_ih.value.data();
  const Real* b_hh = bias_hh.value.data();
  linear_forward_any<Real>(x, weight_ih.value.data(), b_ih, a.gates.data(), B * T, I, G);
  for (int64_t r = 0; r < B * T; ++r)
    for (int64_t k = 0; k < G; ++k) a.gates[r * G + k] += b_hh[k];

  for (int64_t s = 0; s < T; ++s) {
    const int64_t t = reverse_ ? T - 1 - s : s;
    for (int64_t b = 0; b < B; ++b) {
      std::copy(h + b * H, h + (b + 1) * H, a.h_in.data() + (b * T + t) * H);
      std::copy(c + b * H, c + (b + 1) * H, a.c_in.data() + (b * T + t) * H);
    }
    // gates[:, t] += h⟨t−1⟩·W_hhᵀ (rows of gates[:, t] are T·4H apart)
    Real* gt = a.gates.data() + t * G;
    gemm_any<Real>(false, true, B, G, H, Real(1), h, H, weight_hh.value.data(), H, Real(1), gt,
                   T * G);
    for (int64_t b = 0; b < B; ++b) {
      Real* g = gt + b * T * G;
      const Real* cp = a.c_in.data() + (b * T + t) * H;
      Real* cb = a.c.data() + (b * T + t) * H;
      Real* yb = y + (b * T + t) * y_stride;
      if (padding && padding[b * T + t]) {
        std::fill(g, g + G, Real(0));
        std::copy(cp, cp + H, cb);
        std::fill(yb, yb + H, Real(0));
        continue;
      }
      cell_row(g, cp, cb, h + b * H, H);
      std::copy(cb, cb + H, c + b * H);
      std::copy(h + b * H, h + (b + 1) * H, yb);
    }
  }
}

template <typename Real>
void BasicLstm<Real>::backward(const Real* x, const uint8_t* padding, int64_t B, int64_t T,
                               const Real* dy, int64_t dy_stride, const Real* dh_n,
                               const Real* dc_n, Real* dx, Real* dh0, Real* dc0, Activations& a) {
  const int64_t I = input_, H = hidden_, G = 4 * H;
  ATTN_CHECK(a.gates.numel() == B * T * G, "{}: backward without a matching forward",
             weight_ih.name);
  a.d_gates.resize({B, T, G});
  a.d_h.resize({B, H});
  a.d_c.resize({B, H});
  Real* dh = a.d_h.data();  // gradient of the running state, from the last step backwards
  Real* dc = a.d_c.data();
  for (int64_t i = 0; i < B * H; ++i) {
    dh[i] = dh_n ? dh_n[i] : Real(0);
    dc[i] = dc_n ? dc_n[i] : Real(0);
  }
  for (int64_t s = T - 1; s >= 0; --s) {
    const int64_t t = reverse_ ? T - 1 - s : s;
    Real* dgt = a.d_gates.data() + t * G;  // rows T·4H apart
    for (int64_t b = 0; b < B; ++b) {
      Real* dg = dgt + b * T * G;
      if (padding && padding[b * T + t]) {  // h and c pass through unchanged
        std::fill(dg, dg + G, Real(0));
        continue;
      }
      Real* dhb = dh + b * H;
      Real* dcb = dc + b * H;
      const Real* dyb = dy + (b * T + t) * dy_stride;
      for (int64_t j = 0; j < H; ++j) dhb[j] += dyb[j];
      const int64_t r = b * T + t;
      // dc becomes dc⟨t−1⟩ in place; dh is replaced by d_gates·W_hh below.
      cell_row_backward(a.gates.data() + r * G, a.c_in.data() + r * H, a.c.data() + r * H, dhb, dcb,
                        dg, dcb, false, H);
      std::fill(dhb, dhb + H, Real(0));
    }
    // dh⟨t−1⟩ += d_gates[:, t]·W_hh (padded rows have zero d_gates and keep their dh)
    gemm_any<Real>(false, false, B, H, G, Real(1), dgt, T * G, weight_hh.value.data(), H, Real(1),
                   dh, H);
  }
  if (dh0)
    for (int64_t i = 0; i < B * H; ++i) dh0[i] += dh[i];
  if (dc0)
    for (int64_t i = 0; i < B * H; ++i) dc0[i] += dc[i];
  // Parameter gradients and dx over every step at once.
  const Real* dG = a.d_gates.data();
  linear_backward_any<Real>(x, weight_ih.value.data(), dG, dx, weight_ih.grad.data(),
                            bias_ih.grad.data(), B * T, I, G);
  gemm_any<Real>(true, false, G, H, B * T, Real(1), dG, G, a.h_in.data(), H, Real(1),
                 weight_hh.grad.data(), H);
  Real* db_hh = bias_hh.grad.data();
  for (int64_t r = 0; r < B * T; ++r)
    for (int64_t k = 0; k < G; ++k) db_hh[k] += dG[r * G + k];
}

template <typename Real>
void BasicLstm<Real>::step_forward(const Real* x, const Real* h_prev, const Real* c_prev, int64_t B,
                                   Real* gates, Real* h, Real* c) const {
  const int64_t I = input_, H = hidden_, G = 4 * H;
  linear_forward_any<Real>(x, weight_ih.value.data(), bias_ih.value.data(), gates, B, I, G);
  gemm_any<Real>(false, true, B, G, H, Real(1), h_prev, H, weight_hh.value.data(), H, Real(1),
                 gates, G);
  const Real* b_hh = bias_hh.value.data();
  for (int64_t b = 0; b < B; ++b) {
    Real* g = gates + b * G;
    for (int64_t k = 0; k < G; ++k) g[k] += b_hh[k];
    cell_row(g, c_prev + b * H, c + b * H, h + b * H, H);
  }
}

template <typename Real>
void BasicLstm<Real>::step_backward(const Real* x, const Real* h_prev, const Real* c_prev,
                                    const Real* gates, const Real* c, const Real* dh,
                                    const Real* dc, int64_t B, Real* dx, Real* dh_prev,
                                    Real* dc_prev, Real* d_gates) {
  const int64_t I = input_, H = hidden_, G = 4 * H;
  for (int64_t b = 0; b < B; ++b)
    cell_row_backward(gates + b * G, c_prev + b * H, c + b * H, dh + b * H,
                      dc ? dc + b * H : nullptr, d_gates + b * G, dc_prev + b * H, true, H);
  linear_backward_any<Real>(x, weight_ih.value.data(), d_gates, dx, weight_ih.grad.data(),
                            bias_ih.grad.data(), B, I, G);
  linear_backward_any<Real>(h_prev, weight_hh.value.data(), d_gates, dh_prev, weight_hh.grad.data(),
                            bias_hh.grad.data(), B, H, G);
}

template <typename Real>
void BasicLstm<Real>::visit_params(const std::function<void(ParamT&)>& f) {
  f(weight_ih);
  f(weight_hh);
  f(bias_ih);
  f(bias_hh);
}

template class BasicLstm<float>;
template class BasicLstm<double>;

}  // namespace attnscope
