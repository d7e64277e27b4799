#include "nn/additive_attention.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/error.h"

namespace attnscope {

template <typename Real>
BasicAdditiveAttention<Real>::BasicAdditiveAttention(const std::string& prefix, int64_t query_size,
                                                     int64_t key_size, int64_t attention_size)
    : W(prefix + ".W.weight", {attention_size, query_size}),
      U(prefix + ".U.weight", {attention_size, key_size}),
      U_bias(prefix + ".U.bias", {attention_size}),
      v(prefix + ".v.weight", {1, attention_size}),
      query_(query_size),
      key_(key_size),
      attn_(attention_size) {
  ATTN_CHECK(query_size > 0 && key_size > 0 && attention_size > 0,
             "{}: attention sizes must be positive, got query {}, key {}, attention {}", prefix,
             query_size, key_size, attention_size);
}

template <typename Real>
void BasicAdditiveAttention<Real>::project_keys(const Real* keys, int64_t B, int64_t Tk,
                                                Real* keys_proj) const {
  linear_forward_any<Real>(keys, U.value.data(), U_bias.value.data(), keys_proj, B * Tk, key_,
                           attn_);
}

template <typename Real>
void BasicAdditiveAttention<Real>::forward(const Real* query, const Real* keys,
                                           const Real* keys_proj, const uint8_t* key_padding,
                                           int64_t B, int64_t Tk, Real* query_proj, Real* alpha,
                                           Real* context, Real* scores) const {
  const int64_t A = attn_, Dk = key_;
  ATTN_CHECK(B > 0 && Tk > 0, "{}: empty attention call [{}, {}]", W.name, B, Tk);
  // query_proj [B, A] = s·Wᵀ
  linear_forward_any<Real>(query, W.value.data(), static_cast<const Real*>(nullptr), query_proj, B,
                           query_, A);
  const Real* vv = v.value.data();
  const Real neg_inf = -std::numeric_limits<Real>::infinity();
  for (int64_t b = 0; b < B; ++b) {
    const Real* qp = query_proj + b * A;
    Real* al = alpha + b * Tk;
    // e[t'] = vᵀ tanh(W·s + U·a[t'] + b_U), kept in alpha until the softmax
    Real max_e = neg_inf;
    for (int64_t t = 0; t < Tk; ++t) {
      if (key_padding && key_padding[b * Tk + t]) {
        al[t] = neg_inf;
        continue;
      }
      const Real* kp = keys_proj + (b * Tk + t) * A;
      Real e = 0;
      for (int64_t k = 0; k < A; ++k) e += vv[k] * std::tanh(qp[k] + kp[k]);
      al[t] = e;
      max_e = std::max(max_e, e);
    }
    if (scores) std::copy(al, al + Tk, scores + b * Tk);
    // masked softmax: padding → exactly 0; every key padded → all zeros
    Real sum = 0;
    for (int64_t t = 0; t < Tk; ++t) {
      al[t] = al[t] == neg_inf ? Real(0) : std::exp(al[t] - max_e);
      sum += al[t];
    }
    const Real inv = sum > 0 ? Real(1) / sum : Real(0);
    for (int64_t t = 0; t < Tk; ++t) al[t] *= inv;
    // c = Σ_t' α[t'] · a[t']
    Real* ctx = context + b * Dk;
    std::fill(ctx, ctx + Dk, Real(0));
    for (int64_t t = 0; t < Tk; ++t) {
      if (al[t] == Real(0)) continue;
      const Real* kt = keys + (b * Tk + t) * Dk;
      for (int64_t j = 0; j < Dk; ++j) ctx[j] += al[t] * kt[j];
    }
  }
}

template <typename Real>
void BasicAdditiveAttention<Real>::backward(const Real* query, const Real* keys,
                                            const Real* keys_proj, int64_t B, int64_t Tk,
                                            const Real* query_proj, const Real* alpha,
                                            const Real* d_context, Real* d_query, Real* d_keys,
                                            Real* d_keys_proj, Scratch& scratch) {
  const int64_t A = attn_, Dk = key_;
  scratch.d_scores.resize({B, Tk});
  scratch.d_query_proj.resize_zero({B, A});
  const Real* vv = v.value.data();
  Real* dv = v.grad.data();
  for (int64_t b = 0; b < B; ++b) {
    const Real* al = alpha + b * Tk;
    const Real* dctx = d_context + b * Dk;
    Real* de = scratch.d_scores.data() + b * Tk;
    // dα[t'] = dc · a[t'];  da[t'] += α[t'] · dc
    Real dot = 0;
    for (int64_t t = 0; t < Tk; ++t) {
      const Real* kt = keys + (b * Tk + t) * Dk;
      Real da = 0;
      for (int64_t j = 0; j < Dk; ++j) da += dctx[j] * kt[j];
      de[t] = da;
      dot += al[t] * da;
      if (d_keys && al[t] != Real(0)) {
        Real* dkt = d_keys + (b * Tk + t) * Dk;
        for (int64_t j = 0; j < Dk; ++j) dkt[j] += al[t] * dctx[j];
      }
    }
    // softmax: de = α ⊙ (dα − Σ α dα); padded keys (α = 0) get 0
    for (int64_t t = 0; t < Tk; ++t) de[t] = al[t] * (de[t] - dot);
    // e = vᵀ tanh(q + k): dv += de · tanh, d(q + k) = de · v ⊙ (1 − tanh²)
    const Real* qp = query_proj + b * A;
    Real* dqp = scratch.d_query_proj.data() + b * A;
    for (int64_t t = 0; t < Tk; ++t) {
      if (de[t] == Real(0)) continue;
      const Real* kp = keys_proj + (b * Tk + t) * A;
      Real* dkp = d_keys_proj + (b * Tk + t) * A;
      for (int64_t k = 0; k < A; ++k) {
        const Real th = std::tanh(qp[k] + kp[k]);
        dv[k] += de[t] * th;
        const Real dpre = de[t] * vv[k] * (Real(1) - th * th);
        dkp[k] += dpre;
        dqp[k] += dpre;
      }
    }
  }
  // query_proj = s·Wᵀ
  linear_backward_any<Real>(query, W.value.data(), scratch.d_query_proj.data(), d_query,
                            W.grad.data(), static_cast<Real*>(nullptr), B, query_, A);
}

template <typename Real>
void BasicAdditiveAttention<Real>::backward_keys(const Real* keys, const Real* d_keys_proj,
                                                 int64_t B, int64_t Tk, Real* d_keys) {
  linear_backward_any<Real>(keys, U.value.data(), d_keys_proj, d_keys, U.grad.data(),
                            U_bias.grad.data(), B * Tk, key_, attn_);
}

template <typename Real>
void BasicAdditiveAttention<Real>::visit_params(const std::function<void(ParamT&)>& f) {
  f(W);
  f(U);
  f(U_bias);
  f(v);
}

template class BasicAdditiveAttention<float>;
template class BasicAdditiveAttention<double>;

}  // namespace attnscope
