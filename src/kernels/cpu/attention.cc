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

void attention_step_forward(const StepAttention& a, const std::vector<StepRun>& runs) {
  ATTN_CHECK(a.rows >= 0 && a.H >= 0 && a.Tk >= 0 && a.d_k >= 0 && a.d_v >= 0 && a.entries >= 0,
             "step attention: negative shape rows={} H={} Tk={} d_k={} d_v={} entries={}", a.rows,
             a.H, a.Tk, a.d_k, a.d_v, a.entries);
  ATTN_CHECK(a.kt_block >= a.H * a.d_k * kStepKeyBlock && a.ldq >= a.H * a.d_k &&
                 a.ldv >= a.H * a.d_v && a.ldo >= a.H * a.d_v,
             "step attention: a stride is smaller than its heads (Kᵀ block {}, q {}, v {}, out {})",
             a.kt_block, a.ldq, a.ldv, a.ldo);
  const bool append = a.new_k != nullptr || a.new_v != nullptr;
  ATTN_CHECK(
      !append || (a.new_k && a.new_v && a.Tk >= 1 && a.ld_new >= a.H * std::max(a.d_k, a.d_v)),
      "step attention: a new key needs its value, a position and a row stride");
  std::vector<uint8_t> written(append ? static_cast<size_t>(a.entries) : 0, 0);
  int64_t next = 0;  // the runs cover rows 0, 1, … in order
  for (const StepRun& run : runs) {
    ATTN_CHECK(run.first == next && run.count >= 1 && run.entry >= 0 && run.entry < a.entries,
               "step attention: run of rows [{}, {}) reading entry {} (expected row {}, {} "
               "entries)",
               run.first, run.first + run.count, run.entry, next, a.entries);
    if (append) {  // each entry is written by one row only
      ATTN_CHECK(run.count == 1 && !written[static_cast<size_t>(run.entry)],
                 "step attention: entry {} would be written by more than one row", run.entry);
      written[static_cast<size_t>(run.entry)] = 1;
    }
    next += run.count;
  }
  ATTN_CHECK(next == a.rows, "step attention: the runs cover {} of {} rows", next, a.rows);
  if (a.rows == 0 || a.H == 0) return;
  const auto n = static_cast<int64_t>(runs.size());
  const int64_t work = n * a.H;
  const int64_t last = a.Tk - 1;  // the appended position
  // Everything that can throw is checked above: nothing below throws inside the parallel region.
#pragma omp parallel for schedule(static) if (work > 1)
  for (int64_t i = 0; i < work; ++i) {
    const StepRun& run = runs[static_cast<size_t>(i / a.H)];
    const int64_t h = i % a.H;
    float* kt = a.kt + run.entry * a.kt_entry + h * a.d_k * kStepKeyBlock;
    float* v = a.v + run.entry * a.v_entry + h * a.d_v;
    if (append) {
      const float* k_new = a.new_k + run.first * a.ld_new + h * a.d_k;
      float* col = kt + (last / kStepKeyBlock) * a.kt_block + last % kStepKeyBlock;
      for (int64_t c = 0; c < a.d_k; ++c) col[c * kStepKeyBlock] = k_new[c];
      std::copy_n(a.new_v + run.first * a.ld_new + h * a.d_v, a.d_v, v + last * a.ldv);
    }
    StepHeadTask t;
    t.q = a.q + run.first * a.ldq + h * a.d_k;
    t.ldq = a.ldq;
    t.rows = run.count;
    t.kt = kt;
    t.kt_block = a.kt_block;
    t.v = v;
    t.ldv = a.ldv;
    t.key_padding = a.key_padding ? a.key_padding + run.entry * a.Tk : nullptr;
    t.Tk = a.Tk, t.d_k = a.d_k, t.d_v = a.d_v, t.scale = a.scale;
    t.out = a.out + run.first * a.ldo + h * a.d_v;
    t.ldo = a.ldo;
    t.probs = a.probs ? a.probs + (run.first * a.H + h) * a.Tk : nullptr;
    t.ldp = a.H * a.Tk;
    attention_step_head_forward(t);
  }
}

}  // namespace attnscope::cpu
