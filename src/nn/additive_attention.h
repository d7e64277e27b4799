// Additive ("Bahdanau", "concat") attention of one query per row over Tk keys:
//
//   e[b, t'] = vᵀ tanh(W·s[b] + U·a[b, t'] + b_U)             scores [B, Tk]
//   α[b, :]  = softmax over t' of e[b, :], padded keys excluded  weights [B, Tk]
//   c[b]     = Σ_t' α[b, t'] · a[b, t']                         context [B, Dk]
//
// s is the query [B, Dq] (in the RNN decoder: the previous decoder state s⟨t−1⟩), a the keys
// [B, Tk, Dk] (the encoder states). Parameters, as a PyTorch module with three nn.Linear would
// name them: `<prefix>.W.weight` [A, Dq], `<prefix>.U.weight` [A, Dk], `<prefix>.U.bias` [A],
// `<prefix>.v.weight` [1, A]; A is the attention size.
//
// U·a + b_U does not depend on the query, so it is computed once per sentence (project_keys)
// and every decoder step reuses it. A padded key gets exactly 0 weight; a row whose keys are all
// padding gets all-zero weights and a zero context (never NaN).
//
// Written once for Real = float (the engine) and Real = double (finite-difference checks); see
// nn/precision.h.
#pragma once

#include <cstdint>
#include <string>

#include "nn/precision.h"

namespace attnscope {

template <typename Real>
class BasicAdditiveAttention {
 public:
  using TensorT = TensorOf<Real>;
  using ParamT = ParamOf<Real>;

  // backward() scratch, sized there.
  struct Scratch {
    TensorT d_scores;      // [B, Tk] dL/de
    TensorT d_query_proj;  // [B, A] dL/d(W·s)
  };

  BasicAdditiveAttention() = default;
  BasicAdditiveAttention(const std::string& prefix, int64_t query_size, int64_t key_size,
                         int64_t attention_size);

  // keys [B, Tk, Dk] → keys_proj [B, Tk, A] = keys·Uᵀ + b_U.
  void project_keys(const Real* keys, int64_t B, int64_t Tk, Real* keys_proj) const;
  // query [B, Dq] → query_proj [B, A] = W·s (kept for backward), alpha [B, Tk], context [B, Dk];
  // scores [B, Tk] (e, −∞ at padding) is written when not null. key_padding [B, Tk] nonzero =
  // padding, or null.
  void forward(const Real* query, const Real* keys, const Real* keys_proj,
               const uint8_t* key_padding, int64_t B, int64_t Tk, Real* query_proj, Real* alpha,
               Real* context, Real* scores = nullptr) const;
  // After forward: d_context [B, Dk] → accumulates d_query [B, Dq] (skipped when null),
  // d_keys [B, Tk, Dk] (the context's own path; skipped when null), d_keys_proj [B, Tk, A] and
  // the gradients of W and v.
  void backward(const Real* query, const Real* keys, const Real* keys_proj, int64_t B, int64_t Tk,
                const Real* query_proj, const Real* alpha, const Real* d_context, Real* d_query,
                Real* d_keys, Real* d_keys_proj, Scratch& scratch);
  // The backward of project_keys: accumulates d_keys [B, Tk, Dk] (skipped when null) and the
  // gradients of U and b_U from d_keys_proj [B, Tk, A] (summed over every step that used it).
  void backward_keys(const Real* keys, const Real* d_keys_proj, int64_t B, int64_t Tk,
                     Real* d_keys);

  void visit_params(const std::function<void(ParamT&)>& f);
  int64_t query_size() const { return query_; }
  int64_t key_size() const { return key_; }
  int64_t attention_size() const { return attn_; }

  ParamT W;       // [A, Dq]
  ParamT U;       // [A, Dk]
  ParamT U_bias;  // [A]
  ParamT v;       // [1, A]

 private:
  int64_t query_ = 0, key_ = 0, attn_ = 0;
};

using AdditiveAttention = BasicAdditiveAttention<float>;

extern template class BasicAdditiveAttention<float>;
extern template class BasicAdditiveAttention<double>;

}  // namespace attnscope
