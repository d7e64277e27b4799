// Reference scaled dot-product attention (kernels/cpu/attention.h) on contiguous head-major
// arrays: q [B, H, Tq, d_k], k [B, H, Tk, d_k], v [B, H, Tk, d_v], out [B, H, Tq, d_v],
// probs [B, H, Tq, Tk]. Loops only; the shape, masks and dropout come from cpu::AttentionShape.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "core/rng.h"
#include "kernels/cpu/attention.h"

namespace attnscope::ref {

// Whether query i of sequence b may look at key j.
inline bool attention_visible(const cpu::AttentionShape& s, int64_t b, int64_t i, int64_t j) {
  if (s.causal && j > i + s.causal_offset) return false;
  if (s.key_padding && s.key_padding[b * s.Tk + j] != 0) return false;
  return true;
}

// The dropout multiplier of weight (b, h, i, j): 0 when dropped, 1/(1 − p) when kept.
template <typename T>
T attention_dropout_factor(const cpu::AttentionShape& s, int64_t b, int64_t h, int64_t i,
                           int64_t j) {
  if (s.dropout <= 0.0f) return T(1);
  const uint64_t idx = static_cast<uint64_t>(((b * s.H + h) * s.Tq + i) * s.Tk + j);
  return counter_uniform(s.dropout_seed, idx) >= s.dropout ? T(1) / (T(1) - T(s.dropout)) : T(0);
}

template <typename T>
void attention_forward(const cpu::AttentionShape& s, const T* q, const T* k, const T* v, T* out,
                       T* probs) {
  const T neg_inf = -std::numeric_limits<T>::infinity();
  std::vector<T> scores(static_cast<size_t>(s.Tk));
  for (int64_t b = 0; b < s.B; ++b) {
    for (int64_t h = 0; h < s.H; ++h) {
      const int64_t bh = b * s.H + h;
      for (int64_t i = 0; i < s.Tq; ++i) {
        // scores[j] = scale · q_i · k_j, or −∞ where masked
        T m = neg_inf;
        for (int64_t j = 0; j < s.Tk; ++j) {
          T dot = 0;
          for (int64_t c = 0; c < s.d_k; ++c)
            dot += q[(bh * s.Tq + i) * s.d_k + c] * k[(bh * s.Tk + j) * s.d_k + c];
          scores[j] = attention_visible(s, b, i, j) ? T(s.scale) * dot : neg_inf;
          if (scores[j] > m) m = scores[j];
        }
        T* p = probs + (bh * s.Tq + i) * s.Tk;
        T sum = 0;
        for (int64_t j = 0; j < s.Tk; ++j) {
          p[j] = m == neg_inf || scores[j] == neg_inf ? T(0) : std::exp(scores[j] - m);
          sum += p[j];
        }
        for (int64_t j = 0; j < s.Tk; ++j) p[j] = sum > T(0) ? p[j] / sum : T(0);
        for (int64_t c = 0; c < s.d_v; ++c) {
          T acc = 0;
          for (int64_t j = 0; j < s.Tk; ++j)
            acc +=
                p[j] * attention_dropout_factor<T>(s, b, h, i, j) * v[(bh * s.Tk + j) * s.d_v + c];
          out[(bh * s.Tq + i) * s.d_v + c] = acc;
        }
      }
    }
  }
}

// Accumulates dq, dk, dv from dout and the saved probs (the weights before dropout).
template <typename T>
void attention_backward(const cpu::AttentionShape& s, const T* q, const T* k, const T* v,
                        const T* probs, const T* dout, T* dq, T* dk, T* dv) {
  std::vector<T> dp(static_cast<size_t>(s.Tk)), ds(static_cast<size_t>(s.Tk));
  for (int64_t b = 0; b < s.B; ++b) {
    for (int64_t h = 0; h < s.H; ++h) {
      const int64_t bh = b * s.H + h;
      for (int64_t i = 0; i < s.Tq; ++i) {
        const T* p = probs + (bh * s.Tq + i) * s.Tk;
        const T* go = dout + (bh * s.Tq + i) * s.d_v;
        // dv_j += P'_ij · dout_i;  dP_ij = D_ij · (dout_i · v_j), D the dropout multiplier
        for (int64_t j = 0; j < s.Tk; ++j) {
          const T drop = attention_dropout_factor<T>(s, b, h, i, j);
          T dot = 0;
          for (int64_t c = 0; c < s.d_v; ++c) {
            dv[(bh * s.Tk + j) * s.d_v + c] += p[j] * drop * go[c];
            dot += go[c] * v[(bh * s.Tk + j) * s.d_v + c];
          }
          dp[j] = drop * dot;
        }
        // dS = P ⊙ (dP − Σ_j dP ⊙ P)
        T row = 0;
        for (int64_t j = 0; j < s.Tk; ++j) row += dp[j] * p[j];
        for (int64_t j = 0; j < s.Tk; ++j) ds[j] = p[j] * (dp[j] - row);
        // S = scale · q_i · k_j
        for (int64_t j = 0; j < s.Tk; ++j) {
          for (int64_t c = 0; c < s.d_k; ++c) {
            dq[(bh * s.Tq + i) * s.d_k + c] += T(s.scale) * ds[j] * k[(bh * s.Tk + j) * s.d_k + c];
            dk[(bh * s.Tk + j) * s.d_k + c] += T(s.scale) * ds[j] * q[(bh * s.Tq + i) * s.d_k + c];
          }
        }
      }
    }
  }
}

}  // namespace attnscope::ref
