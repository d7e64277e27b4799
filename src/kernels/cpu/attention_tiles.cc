// The tiled forward and backward of one attention head (see attention_tiles.h), written once with
// Highway's portable SIMD operations and compiled by foreach_target.h for every x86 target Highway
// 1.0.3 builds here (AVX-512 "AVX3", AVX2, SSE4, SSSE3, and a scalar fallback). The best one this
// CPU runs is chosen on the first call. This file is compiled for the baseline x86-64 (not
// -march=native), so the same binary runs on any x86-64 CPU.
//
// Forward, per (b, h): K is packed transposed into Kt [d_k, Tk↑] (↑: rounded up to whole vectors,
// zero-filled); V is read in place when d_v is whole vectors, else packed into Vp [Tk, d_v↑]. Then
// for each block of up to 32 query rows, for each tile of up to 256 keys:
//   S [rows, keys] = scale · Q·Kᵀ + bias   (bias: 0, or −∞ on padding keys and beyond Tk)
//   causal mask inside the tile, then per row: m_new = max(m, max S), α = e^(m − m_new),
//   P = e^(S − m_new), l = α·l + Σ P, O = α·O
//   O [rows, d_v] += P · V
// and finally out = O / l. The backward (AttentionHeadBackward) reuses the same register-blocked
// products on the saved weights. Register blocking: S is made 8 (AVX-512) or 4 query rows at a
// time against two vectors of keys, P·V 4 rows at a time against up to 4 (AVX-512) or 2 vectors
// of d_v, so the accumulators stay in registers.
// clang-format off
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/cpu/attention_tiles.cc"
#include <hwy/foreach_target.h>  // must come before highway.h
#include <hwy/highway.h>
// clang-format on

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "core/rng.h"
#include "kernels/cpu/attention_tiles.h"
#include "kernels/cpu/fast_exp.h"
#include "kernels/cpu/fast_exp_simd.h"

HWY_BEFORE_NAMESPACE();
namespace attnscope::cpu {
namespace HWY_NAMESPACE {

namespace hn = hwy::HWY_NAMESPACE;
using D = hn::ScalableTag<float>;
using V = hn::Vec<D>;

// Tile sizes measured on W1 (N = 256, d = 64; AVX-512): 64 × 64 → 32 × 256 took the forward from
// 5.6 to 4.9 ms. S [32, 256] is 32 KiB, inside L1; one tile holds 256 keys, so sentences up to 256
// tokens need no rescaling at all.
constexpr int64_t kQueryBlock = 32;  // query rows whose running m, l and O are kept together
constexpr int64_t kKeyTile = 256;    // keys per tile
#if HWY_TARGET <= HWY_AVX3           // 32 vector registers
constexpr int kScoreRows = 8;        // 8 rows × 2 vectors = 16 accumulators
constexpr int kValueVectors = 4;     // 4 rows × 4 vectors = 16 accumulators
#else                                // 16 vector registers
constexpr int kScoreRows = 4;
constexpr int kValueVectors = 2;
#endif
constexpr int kValueRows = 4;
constexpr float kNegInf = -std::numeric_limits<float>::infinity();

int64_t lanes() {
  return static_cast<int64_t>(hn::Lanes(D()));
}
int64_t round_up(int64_t n, int64_t m) {
  return (n + m - 1) / m * m;
}

// S [R, ncols] = scale · Q [R, d_k] · Kt [d_k, ncols] + bias [ncols] (none when null); ncols is a
// multiple of the vector length. Q rows are read in place (stride ldq), one broadcast element at a
// time.
template <int R>
HWY_INLINE void ScoreRows(const float* q, int64_t ldq, const float* kt, int64_t ldkt, int64_t d_k,
                          int64_t ncols, float scale, const float* bias, float* S, int64_t lds) {
  const D d;
  const int64_t N = lanes();
  const V vscale = hn::Set(d, scale);
  int64_t j = 0;
  for (; j + 2 * N <= ncols; j += 2 * N) {
    V a0[R], a1[R];
    for (int r = 0; r < R; ++r) a0[r] = a1[r] = hn::Zero(d);
    const float* kp = kt + j;
    for (int64_t p = 0; p < d_k; ++p, kp += ldkt) {
      const V k0 = hn::LoadU(d, kp), k1 = hn::LoadU(d, kp + N);
      for (int r = 0; r < R; ++r) {
        const V qr = hn::Set(d, q[r * ldq + p]);
        a0[r] = hn::MulAdd(qr, k0, a0[r]);
        a1[r] = hn::MulAdd(qr, k1, a1[r]);
      }
    }
    const V b0 = bias ? hn::LoadU(d, bias + j) : hn::Zero(d);
    const V b1 = bias ? hn::LoadU(d, bias + j + N) : hn::Zero(d);
    for (int r = 0; r < R; ++r) {
      hn::StoreU(hn::MulAdd(a0[r], vscale, b0), d, S + r * lds + j);
      hn::StoreU(hn::MulAdd(a1[r], vscale, b1), d, S + r * lds + j + N);
    }
  }
  if (j < ncols) {  // one vector of keys left
    V a[R];
    for (int r = 0; r < R; ++r) a[r] = hn::Zero(d);
    const float* kp = kt + j;
    for (int64_t p = 0; p < d_k; ++p, kp += ldkt) {
      const V k0 = hn::LoadU(d, kp);
      for (int r = 0; r < R; ++r) a[r] = hn::MulAdd(hn::Set(d, q[r * ldq + p]), k0, a[r]);
    }
    const V b0 = bias ? hn::LoadU(d, bias + j) : hn::Zero(d);
    for (int r = 0; r < R; ++r) hn::StoreU(hn::MulAdd(a[r], vscale, b0), d, S + r * lds + j);
  }
}

// O [R, NC vectors] += P [R, nk] · Vp [nk, NC vectors].
template <int R, int NC>
HWY_INLINE void AddWeightedValues(const float* P, int64_t ldp, const float* vp, int64_t ldvp,
                                  int64_t nk, float* O, int64_t ldo) {
  const D d;
  const int64_t N = lanes();
  V acc[R][NC];
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < NC; ++c) acc[r][c] = hn::LoadU(d, O + r * ldo + c * N);
  for (int64_t j = 0; j < nk; ++j) {
    V vj[NC];
    for (int c = 0; c < NC; ++c) vj[c] = hn::LoadU(d, vp + j * ldvp + c * N);
    for (int r = 0; r < R; ++r) {
      const V pr = hn::Set(d, P[r * ldp + j]);
      for (int c = 0; c < NC; ++c) acc[r][c] = hn::MulAdd(pr, vj[c], acc[r][c]);
    }
  }
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < NC; ++c) hn::StoreU(acc[r][c], d, O + r * ldo + c * N);
}

// S [ncols] = scale · q·K[j] + bias[j] for one query row, a dot product per key along d_k, for
// j < min(ncols, Tk) and −∞ beyond Tk. For the decoder's steps (a handful of query rows): packing
// Kᵀ would cost as much as the product itself.
void ScoreRowDirect(const float* q, const float* k, int64_t ldk, int64_t Tk, int64_t d_k,
                    int64_t ncols, float scale, const float* bias, float* S) {
  const D d;
  const int64_t N = lanes();
  const int64_t keys = std::min(ncols, Tk);
  for (int64_t j = 0; j < keys; ++j) {
    const float* kj = k + j * ldk;
    V acc = hn::Zero(d);
    int64_t p = 0;
    for (; p + N <= d_k; p += N) acc = hn::MulAdd(hn::LoadU(d, q + p), hn::LoadU(d, kj + p), acc);
    float dot = hn::GetLane(hn::SumOfLanes(d, acc));
    for (; p < d_k; ++p) dot += q[p] * kj[p];
    S[j] = scale * dot + bias[j];
  }
  std::fill(S + keys, S + ncols, kNegInf);
}

// Acc [R, NC vectors] += Aᵀ·X over `rows` rows: Acc[r] += Σ_i A[i][r] · X[i] (A's columns are the
// R output rows; backward's dV = P'ᵀ·dOut and dK = dSᵀ·Q).
template <int R, int NC>
HWY_INLINE void AddTransposedProducts(const float* A, int64_t lda, const float* X, int64_t ldx,
                                      int64_t rows, float* Acc, int64_t ldacc) {
  const D d;
  const int64_t N = lanes();
  V acc[R][NC];
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < NC; ++c) acc[r][c] = hn::LoadU(d, Acc + r * ldacc + c * N);
  for (int64_t i = 0; i < rows; ++i) {
    V xi[NC];
    for (int c = 0; c < NC; ++c) xi[c] = hn::LoadU(d, X + i * ldx + c * N);
    for (int r = 0; r < R; ++r) {
      const V a = hn::Set(d, A[i * lda + r]);
      for (int c = 0; c < NC; ++c) acc[r][c] = hn::MulAdd(a, xi[c], acc[r][c]);
    }
  }
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < NC; ++c) hn::StoreU(acc[r][c], d, Acc + r * ldacc + c * N);
}

// Calls fn.template operator()<NC>() with NC = nc (1 ≤ nc ≤ kValueVectors) as a constant.
template <int NC = kValueVectors, class Fn>
HWY_INLINE void WithVectors(int64_t nc, Fn&& fn) {
  if constexpr (NC > 1) {
    if (nc < NC) return WithVectors<NC - 1>(nc, fn);
  }
  fn.template operator()<NC>();
}

// O [R, nvec vectors] += P [R, nk] · Vp [nk, nvec vectors], kValueVectors at a time.
template <int R>
void AddWeightedValueRows(const float* P, int64_t ldp, const float* vp, int64_t ldvp, int64_t nk,
                          int64_t nvec, float* O, int64_t ldo) {
  const int64_t N = lanes();
  for (int64_t c = 0; c < nvec; c += kValueVectors)
    WithVectors(std::min<int64_t>(kValueVectors, nvec - c), [&]<int NC>() {
      AddWeightedValues<R, NC>(P, ldp, vp + c * N, ldvp, nk, O + c * N, ldo);
    });
}

// Acc [R, nvec vectors] += Aᵀ [R, rows] · X [rows, nvec vectors], kValueVectors at a time.
template <int R>
void AddTransposedRows(const float* A, int64_t lda, const float* X, int64_t ldx, int64_t rows,
                       int64_t nvec, float* Acc, int64_t ldacc) {
  const int64_t N = lanes();
  for (int64_t c = 0; c < nvec; c += kValueVectors)
    WithVectors(std::min<int64_t>(kValueVectors, nvec - c), [&]<int NC>() {
      AddTransposedProducts<R, NC>(A, lda, X + c * N, ldx, rows, Acc + c * N, ldacc);
    });
}

// dst [cols, ld_dst] = srcᵀ for src [rows, cols] (row stride ld), 16 rows at a time: the 16 source
// rows stay in L1 while each destination row gets 16 contiguous floats (a transpose one element at
// a time would scatter every store).
void PackTransposed(const float* src, int64_t ld, int64_t rows, int64_t cols, float* dst,
                    int64_t ld_dst) {
  constexpr int64_t kBlock = 16;
  for (int64_t j0 = 0; j0 < rows; j0 += kBlock) {
    const int64_t jn = std::min(kBlock, rows - j0);
    const float* sb = src + j0 * ld;
    for (int64_t p = 0; p < cols; ++p) {
      float* out = dst + p * ld_dst + j0;
      for (int64_t jj = 0; jj < jn; ++jj) out[jj] = sb[jj * ld + p];
    }
  }
  for (int64_t p = 0; p < cols; ++p)
    std::fill(dst + p * ld_dst + rows, dst + (p + 1) * ld_dst, 0.0f);
}

// dst [rows, ld_dst] = src [rows, cols] (row stride ld) with the columns [cols, ld_dst) zero.
void PackRows(const float* src, int64_t ld, int64_t rows, int64_t cols, float* dst,
              int64_t ld_dst) {
  for (int64_t r = 0; r < rows; ++r) {
    std::copy_n(src + r * ld, cols, dst + r * ld_dst);
    std::fill(dst + r * ld_dst + cols, dst + (r + 1) * ld_dst, 0.0f);
  }
}

// Per-thread scratch of at least n floats; grows, never shrinks.
float* scratch(std::vector<float>& buf, int64_t n) {
  if (static_cast<int64_t>(buf.size()) < n) buf.resize(static_cast<size_t>(n));
  return buf.data();
}

// Row softmax step of the online softmax for one tile row S [ncols] in place: S becomes
// e^(S − m_new). Updates m and l and returns α = e^(m_old − m_new) (0 before any visible key, and
// 0 with S all zero when the row has seen no visible key yet).
float OnlineSoftmaxRow(float* S, int64_t ncols, float& m, float& l) {
  const D d;
  const int64_t N = lanes();
  V vmax = hn::Set(d, kNegInf);
  for (int64_t c = 0; c < ncols; c += N) vmax = hn::Max(vmax, hn::LoadU(d, S + c));
  const float m_new = std::max(m, hn::GetLane(hn::MaxOfLanes(d, vmax)));
  if (m_new == kNegInf) {  // nothing visible so far: weights 0, l stays 0
    std::fill(S, S + ncols, 0.0f);
    return 0.0f;
  }
  const V vm = hn::Set(d, m_new);
  V vsum = hn::Zero(d);
  for (int64_t c = 0; c < ncols; c += N) {
    const V e = FastExp(d, hn::Sub(hn::LoadU(d, S + c), vm));
    hn::StoreU(e, d, S + c);
    vsum = hn::Add(vsum, e);
  }
  const float alpha = fast_exp(m - m_new);  // m = −∞ → 0
  l = l * alpha + hn::GetLane(hn::SumOfLanes(d, vsum));
  m = m_new;
  return alpha;
}

// row [n] = e^(row − lse), whole vectors then a scalar tail.
void NormaliseRow(float* row, int64_t n, float lse) {
  const D d;
  const int64_t N = lanes();
  const V vl = hn::Set(d, lse);
  int64_t j = 0;
  for (; j + N <= n; j += N) hn::StoreU(FastExp(d, hn::Sub(hn::LoadU(d, row + j), vl)), d, row + j);
  for (; j < n; ++j) row[j] = fast_exp(row[j] - lse);
}

void AttentionHeadForward(const HeadTask& t) {
  const AttentionShape& s = *t.shape;
  const D d;
  const int64_t N = lanes();
  const int64_t Tq = s.Tq, Tk = s.Tk, d_k = s.d_k, d_v = s.d_v;
  const int64_t tk_pad = round_up(Tk, N), dv_pad = round_up(d_v, N), nvec = dv_pad / N;

  // Scratch: Kt [d_k, tk_pad] | Vp [Tk, dv_pad] | bias [tk_pad] | S [32, 256] | O [32, dv_pad]
  // | m, l
  static thread_local std::vector<float> buf;
  float* Kt = scratch(buf, d_k * tk_pad + (d_v != dv_pad ? Tk * dv_pad : 0) + tk_pad +
                               kQueryBlock * kKeyTile + kQueryBlock * dv_pad + 2 * kQueryBlock);
  float* Vp = Kt + d_k * tk_pad;  // only when d_v is not whole vectors
  float* bias = Vp + (d_v != dv_pad ? Tk * dv_pad : 0);
  float* S = bias + tk_pad;
  float* O = S + kQueryBlock * kKeyTile;
  float* m = O + kQueryBlock * dv_pad;
  float* l = m + kQueryBlock;

  // Fewer query rows than one register block (a decoder step): scores by dot products, no Kᵀ.
  const bool direct_scores = Tq < kScoreRows;
  if (!direct_scores) PackTransposed(t.k, t.ldk, Tk, d_k, Kt, tk_pad);
  // V is read in place when its rows are whole vectors, else copied with zero-filled columns.
  const float* vals = t.v;
  int64_t ldvals = t.ldv;
  if (d_v != dv_pad) {
    PackRows(t.v, t.ldv, Tk, d_v, Vp, dv_pad);
    vals = Vp, ldvals = dv_pad;
  }
  const uint8_t* pad = s.key_padding ? s.key_padding + t.b * Tk : nullptr;
  for (int64_t j = 0; j < tk_pad; ++j) bias[j] = j >= Tk || (pad && pad[j]) ? kNegInf : 0.0f;

  const float keep_scale = s.dropout > 0.0f ? 1.0f / (1.0f - s.dropout) : 1.0f;
  const uint64_t drop_base = static_cast<uint64_t>((t.b * s.H + t.h) * Tq * Tk);

  for (int64_t i0 = 0; i0 < Tq; i0 += kQueryBlock) {
    const int64_t rows = std::min(kQueryBlock, Tq - i0);
    // Keys [0, keys_end) are visible to some row of the block; tiles beyond are never touched.
    const int64_t keys_end =
        s.causal ? std::clamp<int64_t>(i0 + rows + s.causal_offset, 0, Tk) : Tk;
    std::fill(m, m + rows, kNegInf);
    std::fill(l, l + rows, 0.0f);
    std::fill(O, O + rows * dv_pad, 0.0f);
    const float* qb = t.q + i0 * t.ldq;
    // One tile holds every visible key: m and l are final after it, so the weights are written
    // there, normalised, once. Otherwise the scores are written as they come and normalised with
    // the row's log-sum-exp at the end of the block.
    const bool one_tile = keys_end <= kKeyTile;

    for (int64_t j0 = 0; j0 < keys_end; j0 += kKeyTile) {
      const int64_t nk = std::min(kKeyTile, keys_end - j0);  // keys of this tile
      const int64_t ncols = round_up(nk, N);
      if (std::all_of(bias + j0, bias + j0 + nk, [](float b) { return b == kNegInf; })) {
        if (t.probs && !one_tile)  // every key of the tile is padding: no work, weights 0
          for (int64_t r = 0; r < rows; ++r) std::fill_n(t.probs + (i0 + r) * Tk + j0, nk, kNegInf);
        continue;
      }
      // S = scale · Q·Kᵀ + bias, kScoreRows rows at a time, then the remaining rows one by one
      int64_t r = 0;
      if (direct_scores) {
        for (; r < rows; ++r)
          ScoreRowDirect(qb + r * t.ldq, t.k + j0 * t.ldk, t.ldk, Tk - j0, d_k, ncols, s.scale,
                         bias + j0, S + r * kKeyTile);
      }
      for (; r + kScoreRows <= rows; r += kScoreRows)
        ScoreRows<kScoreRows>(qb + r * t.ldq, t.ldq, Kt + j0, tk_pad, d_k, ncols, s.scale,
                              bias + j0, S + r * kKeyTile, kKeyTile);
      for (; r < rows; ++r)
        ScoreRows<1>(qb + r * t.ldq, t.ldq, Kt + j0, tk_pad, d_k, ncols, s.scale, bias + j0,
                     S + r * kKeyTile, kKeyTile);
      if (s.causal)  // query i sees keys j ≤ i + causal_offset
        for (r = 0; r < rows; ++r) {
          const int64_t first_hidden = std::max<int64_t>(i0 + r + s.causal_offset + 1 - j0, 0);
          if (first_hidden < ncols)
            std::fill(S + r * kKeyTile + first_hidden, S + r * kKeyTile + ncols, kNegInf);
        }
      if (t.probs && !one_tile)  // the scores, normalised once the block's lse is known
        for (r = 0; r < rows; ++r) std::copy_n(S + r * kKeyTile, nk, t.probs + (i0 + r) * Tk + j0);

      for (r = 0; r < rows; ++r) {
        const float alpha = OnlineSoftmaxRow(S + r * kKeyTile, ncols, m[r], l[r]);
        if (alpha != 1.0f) {
          const V va = hn::Set(d, alpha);
          float* o = O + r * dv_pad;
          for (int64_t c = 0; c < dv_pad; c += N)
            hn::StoreU(hn::Mul(hn::LoadU(d, o + c), va), d, o + c);
        }
        if (t.probs && one_tile && l[r] > 0.0f) {  // weights = e^(s − m) / l, before dropout
          const float* e = S + r * kKeyTile;
          float* pr = t.probs + (i0 + r) * Tk;
          const float inv = 1.0f / l[r];
          const V vinv = hn::Set(d, inv);
          int64_t j = 0;
          for (; j + N <= nk; j += N) hn::StoreU(hn::Mul(hn::LoadU(d, e + j), vinv), d, pr + j);
          for (; j < nk; ++j) pr[j] = e[j] * inv;
          std::fill(pr + nk, pr + Tk, 0.0f);
        }
      }
      if (s.dropout > 0.0f)  // the same flat-index mask as the reference: [B, H, Tq, Tk]
        for (r = 0; r < rows; ++r) {
          float* p = S + r * kKeyTile;
          const uint64_t row_base = drop_base + static_cast<uint64_t>((i0 + r) * Tk + j0);
          for (int64_t j = 0; j < nk; ++j)
            p[j] = counter_uniform(s.dropout_seed, row_base + static_cast<uint64_t>(j)) >= s.dropout
                       ? p[j] * keep_scale
                       : 0.0f;
        }
      // O += P · V
      const float* vt = vals + j0 * ldvals;
      for (r = 0; r + kValueRows <= rows; r += kValueRows)
        AddWeightedValueRows<kValueRows>(S + r * kKeyTile, kKeyTile, vt, ldvals, nk, nvec,
                                         O + r * dv_pad, dv_pad);
      for (; r < rows; ++r)
        AddWeightedValueRows<1>(S + r * kKeyTile, kKeyTile, vt, ldvals, nk, nvec, O + r * dv_pad,
                                dv_pad);
    }

    // out = O / l (a row that saw no key: l = 0, zeros); weights = e^(score − lse) (several tiles)
    for (int64_t r = 0; r < rows; ++r) {
      const float inv = l[r] > 0.0f ? 1.0f / l[r] : 0.0f;
      const float* o = O + r * dv_pad;
      float* out = t.out + (i0 + r) * t.ldo;
      const V vinv = hn::Set(d, inv);
      int64_t c = 0;
      for (; c + N <= d_v; c += N) hn::StoreU(hn::Mul(hn::LoadU(d, o + c), vinv), d, out + c);
      for (; c < d_v; ++c) out[c] = o[c] * inv;
      if (!t.probs) continue;
      float* pr = t.probs + (i0 + r) * Tk;
      if (l[r] == 0.0f) {
        std::fill(pr, pr + Tk, 0.0f);
      } else if (!one_tile) {
        NormaliseRow(pr, keys_end, m[r] + std::log(l[r]));
        std::fill(pr + keys_end, pr + Tk, 0.0f);
      }
    }
  }
}

// The backward of one head from its saved weights P (see attention_tiles.h), in blocks of query
// rows that see keys [0, keys_end):
//   dP = dOut·Vᵀ (dropout's backward applied), dS = P ⊙ (dP − Σ_j dP ⊙ P),
//   dV += P'ᵀ·dOut, dK += scale·dSᵀ·Q, dQ += scale·dS·K,
// with dK and dV accumulated per head in scratch and added to the caller's once at the end.
void AttentionHeadBackward(const HeadGradTask& t) {
  const AttentionShape& s = *t.shape;
  const D d;
  const int64_t N = lanes();
  const int64_t Tq = s.Tq, Tk = s.Tk, d_k = s.d_k, d_v = s.d_v;
  const int64_t tk_pad = round_up(Tk, N), dk_pad = round_up(d_k, N), dv_pad = round_up(d_v, N);
  const int64_t nvec_k = dk_pad / N, nvec_v = dv_pad / N;
  const bool drop = s.dropout > 0.0f;
  const int64_t Bq = kQueryBlock;

  // Scratch: Vt [d_v, tk_pad] | Kp [Tk, dk_pad] | zeros [tk_pad] | dS [Bq, tk_pad] | P' [Bq,
  // tk_pad] | Qb [Bq, dk_pad] | dOb [Bq, dv_pad] | dQb [Bq, dk_pad] | dK [Tk, dk_pad] | dV [Tk,
  // dv_pad]
  static thread_local std::vector<float> buf;
  float* Vt = scratch(buf, d_v * tk_pad + (d_k != dk_pad ? Tk * dk_pad : 0) + tk_pad +
                               (drop ? 2 : 1) * Bq * tk_pad + Bq * (2 * dk_pad + dv_pad) +
                               Tk * (dk_pad + dv_pad));
  float* Kp = Vt + d_v * tk_pad;
  float* zeros = Kp + (d_k != dk_pad ? Tk * dk_pad : 0);
  float* dS = zeros + tk_pad;
  float* Pd = dS + Bq * tk_pad;  // only with dropout
  float* Qb = Pd + (drop ? Bq * tk_pad : 0);
  float* dOb = Qb + Bq * dk_pad;
  float* dQb = dOb + Bq * dv_pad;
  float* dK = dQb + Bq * dk_pad;
  float* dV = dK + Tk * dk_pad;

  PackTransposed(t.v, t.ldv, Tk, d_v, Vt, tk_pad);
  const float* keys = t.k;
  int64_t ldkeys = t.ldk;
  if (d_k != dk_pad) {
    PackRows(t.k, t.ldk, Tk, d_k, Kp, dk_pad);
    keys = Kp, ldkeys = dk_pad;
  }
  std::fill(zeros, zeros + tk_pad, 0.0f);
  std::fill(dK, dK + Tk * (dk_pad + dv_pad), 0.0f);  // dK and dV
  const float keep_scale = drop ? 1.0f / (1.0f - s.dropout) : 1.0f;
  const uint64_t drop_base = static_cast<uint64_t>((t.b * s.H + t.h) * Tq * Tk);

  for (int64_t i0 = 0; i0 < Tq; i0 += Bq) {
    const int64_t rows = std::min(Bq, Tq - i0);
    const int64_t keys_end =
        s.causal ? std::clamp<int64_t>(i0 + rows + s.causal_offset, 0, Tk) : Tk;
    if (keys_end == 0) continue;  // every weight of these rows is 0: no gradient flows
    const int64_t ncols = round_up(keys_end, N);
    PackRows(t.q + i0 * t.ldq, t.ldq, rows, d_k, Qb, dk_pad);
    PackRows(t.dout + i0 * t.lddo, t.lddo, rows, d_v, dOb, dv_pad);
    // dP' = dOut·Vᵀ into dS
    int64_t r = 0;
    for (; r + kScoreRows <= rows; r += kScoreRows)
      ScoreRows<kScoreRows>(dOb + r * dv_pad, dv_pad, Vt, tk_pad, d_v, ncols, 1.0f, zeros,
                            dS + r * tk_pad, tk_pad);
    for (; r < rows; ++r)
      ScoreRows<1>(dOb + r * dv_pad, dv_pad, Vt, tk_pad, d_v, ncols, 1.0f, zeros, dS + r * tk_pad,
                   tk_pad);
    const float* P = t.probs + i0 * Tk;  // [rows, Tk]
    const float* W = P;                  // P' = dropout(P), what multiplied V
    int64_t ldw = Tk;
    for (r = 0; r < rows; ++r) {
      const float* p = P + r * Tk;
      float* g = dS + r * tk_pad;
      if (drop) {  // the forward's mask: P' = P·keep/(1−p), dP = dP'·keep/(1−p)
        float* w = Pd + r * tk_pad;
        const uint64_t row_base = drop_base + static_cast<uint64_t>((i0 + r) * Tk);
        for (int64_t j = 0; j < keys_end; ++j) {
          const bool keep =
              counter_uniform(s.dropout_seed, row_base + static_cast<uint64_t>(j)) >= s.dropout;
          w[j] = keep ? p[j] * keep_scale : 0.0f;
          g[j] = keep ? g[j] * keep_scale : 0.0f;
        }
      }
      // dS = P ⊙ (dP − Σ_j dP ⊙ P)
      V vdot = hn::Zero(d);
      int64_t j = 0;
      for (; j + N <= keys_end; j += N)
        vdot = hn::MulAdd(hn::LoadU(d, g + j), hn::LoadU(d, p + j), vdot);
      float dot = hn::GetLane(hn::SumOfLanes(d, vdot));
      for (; j < keys_end; ++j) dot += g[j] * p[j];
      for (j = 0; j < keys_end; ++j) g[j] = p[j] * (g[j] - dot);
    }
    if (drop) W = Pd, ldw = tk_pad;
    // dV [keys, d_v] += P'ᵀ · dOut and dK [keys, d_k] += dSᵀ · Q (scale applied at the end)
    int64_t j = 0;
    for (; j + kValueRows <= keys_end; j += kValueRows) {
      AddTransposedRows<kValueRows>(W + j, ldw, dOb, dv_pad, rows, nvec_v, dV + j * dv_pad, dv_pad);
      AddTransposedRows<kValueRows>(dS + j, tk_pad, Qb, dk_pad, rows, nvec_k, dK + j * dk_pad,
                                    dk_pad);
    }
    for (; j < keys_end; ++j) {
      AddTransposedRows<1>(W + j, ldw, dOb, dv_pad, rows, nvec_v, dV + j * dv_pad, dv_pad);
      AddTransposedRows<1>(dS + j, tk_pad, Qb, dk_pad, rows, nvec_k, dK + j * dk_pad, dk_pad);
    }
    // dQ [rows, d_k] += scale · dS · K
    std::fill(dQb, dQb + rows * dk_pad, 0.0f);
    for (r = 0; r + kValueRows <= rows; r += kValueRows)
      AddWeightedValueRows<kValueRows>(dS + r * tk_pad, tk_pad, keys, ldkeys, keys_end, nvec_k,
                                       dQb + r * dk_pad, dk_pad);
    for (; r < rows; ++r)
      AddWeightedValueRows<1>(dS + r * tk_pad, tk_pad, keys, ldkeys, keys_end, nvec_k,
                              dQb + r * dk_pad, dk_pad);
    for (r = 0; r < rows; ++r) {
      float* dq = t.dq + (i0 + r) * t.lddq;
      for (int64_t c = 0; c < d_k; ++c) dq[c] += s.scale * dQb[r * dk_pad + c];
    }
  }
  for (int64_t j = 0; j < Tk; ++j) {
    float* dk = t.dk + j * t.lddk;
    float* dv = t.dv + j * t.lddv;
    for (int64_t c = 0; c < d_k; ++c) dk[c] += s.scale * dK[j * dk_pad + c];
    for (int64_t c = 0; c < d_v; ++c) dv[c] += dV[j * dv_pad + c];
  }
}

// Calls fn.template operator()<R>() with R = rows (1 ≤ rows ≤ kScoreRows) as a constant.
template <int R = kScoreRows, class Fn>
HWY_INLINE void WithRows(int64_t rows, Fn&& fn) {
  if constexpr (R > 1) {
    if (rows < R) return WithRows<R - 1>(rows, fn);
  }
  fn.template operator()<R>();
}

// A decode step has few query rows, so the register-blocked products above would run few FMA
// chains, each as long as d_k or Tk: latency-bound. These split the sum into kSplit partial sums
// so that about 8 independent chains are in flight, then add the parts.
constexpr int StepSplit(int chains) {
  return chains >= 8 ? 1 : 8 / chains;
}

// Out [R, C vectors] = scale · A [R, n] · B [n, C vectors]: a step's scores (A = Q, B = Kᵀ, n =
// d_k) and its weighted values (A = P, B = V, n = keys, scale 1).
template <int R, int C>
HWY_INLINE void StepProduct(const float* A, int64_t lda, const float* B, int64_t ldb, int64_t n,
                            float scale, float* out, int64_t ldo) {
  constexpr int kSplit = StepSplit(R * C);
  const D d;
  const int64_t N = lanes();
  V acc[kSplit][R][C];
  for (int s = 0; s < kSplit; ++s)
    for (int r = 0; r < R; ++r)
      for (int c = 0; c < C; ++c) acc[s][r][c] = hn::Zero(d);
  int64_t p = 0;
  for (; p + kSplit <= n; p += kSplit)
    for (int s = 0; s < kSplit; ++s) {
      V b[C];
      for (int c = 0; c < C; ++c) b[c] = hn::LoadU(d, B + (p + s) * ldb + c * N);
      for (int r = 0; r < R; ++r) {
        const V ar = hn::Set(d, A[r * lda + p + s]);
        for (int c = 0; c < C; ++c) acc[s][r][c] = hn::MulAdd(ar, b[c], acc[s][r][c]);
      }
    }
  for (; p < n; ++p)
    for (int r = 0; r < R; ++r)
      for (int c = 0; c < C; ++c)
        acc[0][r][c] =
            hn::MulAdd(hn::Set(d, A[r * lda + p]), hn::LoadU(d, B + p * ldb + c * N), acc[0][r][c]);
  const V vscale = hn::Set(d, scale);
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < C; ++c) {
      V sum = acc[0][r][c];
      for (int s = 1; s < kSplit; ++s) sum = hn::Add(sum, acc[s][r][c]);
      hn::StoreU(hn::Mul(sum, vscale), d, out + r * ldo + c * N);
    }
}

// R rows of a decode step (StepHeadTask), from row r0: scores against Kᵀ read in place, the
// softmax of one tile (every key fits), the weights, and out = P·V / l.
template <int R>
void StepRows(const StepHeadTask& t, int64_t r0, float* S, int64_t lds, const float* vals,
              int64_t ldvals, float* O, int64_t dv_pad) {
  const D d;
  const int64_t N = lanes(), Tk = t.Tk, ncols = round_up(Tk, N), nvec = dv_pad / N;
  static_assert(kStepKeyBlock % HWY_LANES(float) == 0, "a block of keys is whole vectors");
  const float* q = t.q + r0 * t.ldq;
  for (int64_t b0 = 0; b0 < ncols; b0 += kStepKeyBlock) {  // S[:, b0 ..] from one block of Kᵀ
    const float* ktb = t.kt + (b0 / kStepKeyBlock) * t.kt_block;
    const int64_t width = std::min(kStepKeyBlock, ncols - b0);
    int64_t j = 0;
    for (; j + 2 * N <= width; j += 2 * N)
      StepProduct<R, 2>(q, t.ldq, ktb + j, kStepKeyBlock, t.d_k, t.scale, S + b0 + j, lds);
    if (j < width)
      StepProduct<R, 1>(q, t.ldq, ktb + j, kStepKeyBlock, t.d_k, t.scale, S + b0 + j, lds);
  }
  float l[R];
  for (int r = 0; r < R; ++r) {
    float* row = S + r * lds;
    // Masked keys are set to −∞ (not offset by it), so a non-finite score there cannot leak in.
    std::fill(row + Tk, row + ncols, kNegInf);
    if (t.key_padding)
      for (int64_t k = 0; k < Tk; ++k)
        if (t.key_padding[k]) row[k] = kNegInf;
    float m = kNegInf;
    l[r] = 0.0f;
    OnlineSoftmaxRow(row, ncols, m, l[r]);  // row = e^(S − max): zeros when every key is masked
    if (!t.probs) continue;
    float* pr = t.probs + (r0 + r) * t.ldp;
    const float inv = l[r] > 0.0f ? 1.0f / l[r] : 0.0f;
    const V vinv = hn::Set(d, inv);
    int64_t c = 0;
    for (; c + N <= Tk; c += N) hn::StoreU(hn::Mul(hn::LoadU(d, row + c), vinv), d, pr + c);
    for (; c < Tk; ++c) pr[c] = row[c] * inv;
  }
  // O = P·V, kValueRows rows and kValueVectors vectors of d_v at a time
  int r = 0;
  const auto values = [&]<int RR>(int64_t r1) {
    for (int64_t c = 0; c < nvec; c += kValueVectors)
      WithVectors(std::min<int64_t>(kValueVectors, nvec - c), [&]<int NC>() {
        StepProduct<RR, NC>(S + r1 * lds, lds, vals + c * N, ldvals, Tk, 1.0f,
                            O + r1 * dv_pad + c * N, dv_pad);
      });
  };
  for (; r + kValueRows <= R; r += kValueRows) values.template operator()<kValueRows>(r);
  for (; r < R; ++r) values.template operator()<1>(r);
  for (r = 0; r < R; ++r) {
    const float inv = l[r] > 0.0f ? 1.0f / l[r] : 0.0f;
    const float* o = O + r * dv_pad;
    float* out = t.out + (r0 + r) * t.ldo;
    const V vinv = hn::Set(d, inv);
    int64_t c = 0;
    for (; c + N <= t.d_v; c += N) hn::StoreU(hn::Mul(hn::LoadU(d, o + c), vinv), d, out + c);
    for (; c < t.d_v; ++c) out[c] = o[c] * inv;
  }
}

void AttentionStepHeadForward(const StepHeadTask& t) {
  const int64_t N = lanes(), ncols = round_up(t.Tk, N), dv_pad = round_up(t.d_v, N);
  // Scratch: S [kScoreRows, ncols] | O [kScoreRows, dv_pad] | Vp [Tk, dv_pad] (d_v not whole
  // vectors only)
  static thread_local std::vector<float> buf;
  const bool pack_v = t.d_v != dv_pad;
  float* S = scratch(buf, kScoreRows * (ncols + dv_pad) + (pack_v ? t.Tk * dv_pad : 0));
  float* O = S + kScoreRows * ncols;
  const float* vals = t.v;
  int64_t ldvals = t.ldv;
  if (pack_v) {
    float* Vp = O + kScoreRows * dv_pad;
    PackRows(t.v, t.ldv, t.Tk, t.d_v, Vp, dv_pad);
    vals = Vp, ldvals = dv_pad;
  }
  for (int64_t r0 = 0; r0 < t.rows; r0 += kScoreRows)
    WithRows(std::min<int64_t>(kScoreRows, t.rows - r0),
             [&]<int R>() { StepRows<R>(t, r0, S, ncols, vals, ldvals, O, dv_pad); });
}

int64_t CompiledTarget() {
  return HWY_TARGET;
}

}  // namespace HWY_NAMESPACE
}  // namespace attnscope::cpu
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace attnscope::cpu {

HWY_EXPORT(AttentionHeadForward);
HWY_EXPORT(AttentionHeadBackward);
HWY_EXPORT(AttentionStepHeadForward);
HWY_EXPORT(CompiledTarget);

void attention_head_forward(const HeadTask& task) {
  HWY_DYNAMIC_DISPATCH(AttentionHeadForward)(task);
}

void attention_head_backward(const HeadGradTask& task) {
  HWY_DYNAMIC_DISPATCH(AttentionHeadBackward)(task);
}

void attention_step_head_forward(const StepHeadTask& task) {
  HWY_DYNAMIC_DISPATCH(AttentionStepHeadForward)(task);
}

std::vector<std::string> attention_simd_targets() {
  std::vector<std::string> names;
  for (int64_t target : hwy::SupportedAndGeneratedTargets())
    names.push_back(hwy::TargetName(target));
  return names;
}

std::string attention_simd_target() {
  return hwy::TargetName(HWY_DYNAMIC_DISPATCH(CompiledTarget)());
}

bool force_attention_simd_target(const std::string& name) {
  int64_t chosen = 0;
  if (!name.empty()) {
    hwy::SetSupportedTargetsForTest(0);  // look among all that this CPU runs
    for (int64_t target : hwy::SupportedAndGeneratedTargets())
      if (name == hwy::TargetName(target)) chosen = target;
    if (chosen == 0) return false;
  }
  hwy::SetSupportedTargetsForTest(chosen);  // 0: back to what the CPU supports
  hwy::GetChosenTarget().Update(hwy::SupportedTargets());
  return true;
}

}  // namespace attnscope::cpu
#endif  // HWY_ONCE
