// Scaled dot-product attention, one (batch, head) pair per OpenMP task. The forward is the tiled
// online-softmax kernel of attention_tiles.cc (SIMD, chosen at run time). The backward reads the
// saved weights: per pair, four small cblas products on the HeadViews in place (the row stride is
// the leading dimension) and the softmax backward; under the causal mask they run in blocks of
// query rows that skip the key tiles above the diagonal. Its per-thread scratch (dropped-out
// weights, dP) grows once and is reused.
#include "kernels/cpu/attention.h"

#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "core/error.h"
#include "core/rng.h"
#include "kernels/cpu/attention_tiles.h"
#include "kernels/cpu/gemm.h"

namespace attnscope::cpu {

namespace {

// Leading dimension of the [T, cols] matrix of one (b, h) in a view: the row stride (checked ≥
// cols when T > 1). A single row may have any stride, so BLAS then gets at least cols.
int64_t leading_dim(const HeadView& v, int64_t cols) {
  return std::max<int64_t>({v.row_stride, cols, 1});
}

void check_view(const HeadView& v, int64_t T, int64_t cols, const AttentionShape& s,
                const char* name) {
  if (s.B == 0 || s.H == 0 || T == 0 || cols == 0) return;
  ATTN_CHECK(v.data != nullptr, "attention: {} is null", name);
  ATTN_CHECK(T <= 1 || v.row_stride >= cols,
             "attention: {} row stride {} is smaller than its {} columns (rows would overlap)",
             name, v.row_stride, cols);
}

void check_shape(const AttentionShape& s) {
  ATTN_CHECK(s.B >= 0 && s.H >= 0 && s.Tq >= 0 && s.Tk >= 0 && s.d_k >= 0 && s.d_v >= 0,
             "attention: negative shape B={} H={} Tq={} Tk={} d_k={} d_v={}", s.B, s.H, s.Tq, s.Tk,
             s.d_k, s.d_v);
  ATTN_CHECK(s.dropout >= 0.0f && s.dropout < 1.0f, "attention: dropout {} is outside [0, 1)",
             s.dropout);
}

// dst = src ⊙ keep / (1 − p) on rows [row0, row0 + rows) and columns [0, cols) of a [Tq, Tk]
// matrix, keep(i, j) from the flat index into [B, H, Tq, Tk]. Used for the weights (forward, and
// dV in backward) and for dP (backward).
void apply_dropout(const AttentionShape& s, int64_t bh, int64_t row0, int64_t rows, int64_t cols,
                   const float* src, float* dst) {
  const float scale = 1.0f / (1.0f - s.dropout);
  const uint64_t base = static_cast<uint64_t>(bh * s.Tq * s.Tk);
  for (int64_t i = row0; i < row0 + rows; ++i)
    for (int64_t j = 0; j < cols; ++j) {
      const int64_t e = i * s.Tk + j;
      dst[e] = counter_uniform(s.dropout_seed, base + static_cast<uint64_t>(e)) >= s.dropout
                   ? src[e] * scale
                   : 0.0f;
    }
}

// Causal attention runs in blocks of query rows: rows [i0, i0 + rows) see at most the keys
// [0, i0 + rows + causal_offset), so the key tiles above the diagonal are never computed (about
// half the work of a square causal problem). Without the causal mask, one block of all rows.
constexpr int64_t kCausalRowBlock = 64;

struct RowBlock {
  int64_t i0 = 0, rows = 0, keys = 0;  // query rows [i0, i0 + rows) see keys [0, keys)
};

// Calls fn(RowBlock) for each block of query rows, first to last.
template <typename Fn>
void for_each_row_block(const AttentionShape& s, Fn&& fn) {
  const int64_t step = s.causal ? kCausalRowBlock : std::max<int64_t>(s.Tq, 1);
  for (int64_t i0 = 0; i0 < s.Tq; i0 += step) {
    const int64_t rows = std::min(step, s.Tq - i0);
    const int64_t keys =
        s.causal ? std::clamp<int64_t>(i0 + rows + s.causal_offset, 0, s.Tk) : s.Tk;
    fn(RowBlock{i0, rows, keys});
  }
}

// Keeps OpenBLAS to one thread while our OpenMP threads each run their own (b, h) products.
// The pthread build of OpenBLAS would otherwise thread every product above its size threshold
// (M·N·K > 262144, e.g. Tq = Tk = 128, d = 64) from all our threads at once, oversubscribing the
// cores. The OpenMP build needs nothing: it runs single-threaded inside a parallel region.
// openblas_set_num_threads is global: attention must not run concurrently with other BLAS work.
class OneBlasThread {
 public:
  explicit OneBlasThread(int64_t tasks) {
    if (tasks < 2 || omp_get_max_threads() < 2 || openblas_get_parallel() != 1) return;
    saved_ = openblas_get_num_threads();
    if (saved_ > 1) openblas_set_num_threads(1);
  }
  ~OneBlasThread() {
    if (saved_ > 1) openblas_set_num_threads(saved_);
  }
  OneBlasThread(const OneBlasThread&) = delete;
  OneBlasThread& operator=(const OneBlasThread&) = delete;

 private:
  int saved_ = 0;
};

// Per-thread scratch of at least n floats; grows, never shrinks, so steady state never allocates.
float* scratch(std::vector<float>& buf, int64_t n) {
  if (static_cast<int64_t>(buf.size()) < n) buf.resize(static_cast<size_t>(n));
  return buf.data();
}

}  // namespace

void attention_forward(const AttentionShape& s, const HeadView& q, const HeadView& k,
                       const HeadView& v, const HeadView& out, float* probs) {
  check_shape(s);
  check_view(q, s.Tq, s.d_k, s, "q");
  check_view(k, s.Tk, s.d_k, s, "k");
  check_view(v, s.Tk, s.d_v, s, "v");
  check_view(out, s.Tq, s.d_v, s, "out");
  const int64_t BH = s.B * s.H, TT = s.Tq * s.Tk;
  // Everything that can throw is checked above: nothing below throws inside the parallel region.
#pragma omp parallel for schedule(static) if (BH > 1)
  for (int64_t bh = 0; bh < BH; ++bh) {
    const int64_t b = bh / s.H, h = bh % s.H;
    attention_head_forward(HeadTask{&s, b, h, q.row(b, h, 0), leading_dim(q, s.d_k), k.row(b, h, 0),
                                    leading_dim(k, s.d_k), v.row(b, h, 0), leading_dim(v, s.d_v),
                                    out.row(b, h, 0), leading_dim(out, s.d_v),
                                    probs ? probs + bh * TT : nullptr});
  }
}

void attention_backward(const AttentionShape& s, const HeadView& q, const HeadView& k,
                        const HeadView& v, const float* probs, const HeadView& dout,
                        const HeadView& dq, const HeadView& dk, const HeadView& dv) {
  check_shape(s);
  check_view(q, s.Tq, s.d_k, s, "q");
  check_view(k, s.Tk, s.d_k, s, "k");
  check_view(v, s.Tk, s.d_v, s, "v");
  check_view(dout, s.Tq, s.d_v, s, "dout");
  check_view(dq, s.Tq, s.d_k, s, "dq");
  check_view(dk, s.Tk, s.d_k, s, "dk");
  check_view(dv, s.Tk, s.d_v, s, "dv");
  ATTN_CHECK(probs != nullptr || s.B * s.H * s.Tq * s.Tk == 0,
             "attention backward: probs is null (it needs the forward's weights)");
  const int64_t ldq = leading_dim(q, s.d_k), ldk = leading_dim(k, s.d_k);
  const int64_t ldv = leading_dim(v, s.d_v), lddo = leading_dim(dout, s.d_v);
  const int64_t lddq = leading_dim(dq, s.d_k), lddk = leading_dim(dk, s.d_k);
  const int64_t lddv = leading_dim(dv, s.d_v);
  const int64_t ldp = std::max<int64_t>(s.Tk, 1);
  const int64_t BH = s.B * s.H, TT = s.Tq * s.Tk;
  const bool drop = s.dropout > 0.0f;
  const OneBlasThread one_blas_thread(BH);
#pragma omp parallel for schedule(static) if (BH > 1)
  for (int64_t bh = 0; bh < BH; ++bh) {
    const int64_t b = bh / s.H, h = bh % s.H;
    const float* P = probs + bh * TT;  // P [Tq, Tk], the weights before dropout
    static thread_local std::vector<float> buf;
    float* dS = scratch(buf, drop ? 2 * TT : TT);  // dP, then dS in place [Tq, Tk]
    for_each_row_block(s, [&](const RowBlock& r) {
      if (r.keys == 0) return;  // every weight of these rows is 0: no gradient flows
      const float* Pr = P + r.i0 * ldp;
      float* dSr = dS + r.i0 * ldp;
      const float* Wr = Pr;  // P' = dropout(P)
      if (drop) {
        apply_dropout(s, bh, r.i0, r.rows, r.keys, P, dS + TT);
        Wr = dS + TT + r.i0 * ldp;
      }
      // dV [keys, d_v] += P'ᵀ [keys, rows] · dOut [rows, d_v]
      gemm(true, false, r.keys, s.d_v, r.rows, 1.0f, Wr, ldp, dout.row(b, h, r.i0), lddo, 1.0f,
           dv.row(b, h, 0), lddv);
      // dP' [rows, keys] = dOut [rows, d_v] · Vᵀ [d_v, keys]; dP = dropout backward of dP'
      gemm(false, true, r.rows, r.keys, s.d_v, 1.0f, dout.row(b, h, r.i0), lddo, v.row(b, h, 0),
           ldv, 0.0f, dSr, ldp);
      if (drop) apply_dropout(s, bh, r.i0, r.rows, r.keys, dS, dS);
      // dS = P ⊙ (dP − Σ_j dP ⊙ P), row by row (P is 0 beyond a row's visible keys)
      for (int64_t i = 0; i < r.rows; ++i) {
        const float* p = Pr + i * s.Tk;
        float* d = dSr + i * s.Tk;
        float dot = 0.0f;
        for (int64_t j = 0; j < r.keys; ++j) dot += d[j] * p[j];
        for (int64_t j = 0; j < r.keys; ++j) d[j] = p[j] * (d[j] - dot);
      }
      // dQ [rows, d_k] += scale · dS [rows, keys] · K [keys, d_k]
      gemm(false, false, r.rows, s.d_k, r.keys, s.scale, dSr, ldp, k.row(b, h, 0), ldk, 1.0f,
           dq.row(b, h, r.i0), lddq);
      // dK [keys, d_k] += scale · dSᵀ [keys, rows] · Q [rows, d_k]
      gemm(true, false, r.keys, s.d_k, r.rows, s.scale, dSr, ldp, q.row(b, h, r.i0), ldq, 1.0f,
           dk.row(b, h, 0), lddk);
    });
  }
}

}  // namespace attnscope::cpu
