// Scaled dot-product attention: checks the shapes and views, then runs one (batch, head) pair per
// OpenMP task through the tiled SIMD kernels of attention_tiles.cc (forward with an online
// softmax; backward from the saved weights), chosen at run time for the CPU.
#include "kernels/cpu/attention.h"

#include <algorithm>

#include "core/error.h"
#include "kernels/cpu/attention_tiles.h"

namespace attnscope::cpu {

namespace {

// Leading dimension of the [T, cols] matrix of one (b, h) in a view: the row stride (checked ≥
// cols when T > 1). A single row may have any stride, so the kernels then get at least cols.
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

// The rows of Q, K and V of the pair (b, h), with their strides.
HeadInputs head_inputs(const AttentionShape& s, int64_t b, int64_t h, const HeadView& q,
                       const HeadView& k, const HeadView& v) {
  return HeadInputs{&s,
                    b,
                    h,
                    q.row(b, h, 0),
                    leading_dim(q, s.d_k),
                    k.row(b, h, 0),
                    leading_dim(k, s.d_k),
                    v.row(b, h, 0),
                    leading_dim(v, s.d_v)};
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
    const HeadInputs in = head_inputs(s, b, h, q, k, v);
    attention_head_forward(
        HeadTask{in, out.row(b, h, 0), leading_dim(out, s.d_v), probs ? probs + bh * TT : nullptr});
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
  const int64_t BH = s.B * s.H, TT = s.Tq * s.Tk;
#pragma omp parallel for schedule(static) if (BH > 1)
  for (int64_t bh = 0; bh < BH; ++bh) {
    const int64_t b = bh / s.H, h = bh % s.H;
    const HeadInputs in = head_inputs(s, b, h, q, k, v);
    attention_head_backward(
        HeadGradTask{in, probs + bh * TT, dout.row(b, h, 0), leading_dim(dout, s.d_v),
                     dq.row(b, h, 0), leading_dim(dq, s.d_k), dk.row(b, h, 0),
                     leading_dim(dk, s.d_k), dv.row(b, h, 0), leading_dim(dv, s.d_v)});
  }
}

}  // namespace attnscope::cpu
