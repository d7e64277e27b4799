// Scaled dot-product attention: the float kernel against the reference for many shapes and mask
// combinations, through contiguous and interleaved (packed, strided) HeadViews with everything
// outside the views checked untouched; finite differences of the reference gradient (with and
// without dropout); fully masked rows and whole padded key tiles; dropout bookkeeping; every SIMD
// instruction set of the tiled forward; argument checks.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <ostream>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/rng.h"
#include "grad_check.h"
#include "kernels/cpu/attention.h"
#include "kernels/cpu/attention_tiles.h"
#include "kernels/ref/attention.h"

namespace attnscope {
namespace {

using test::expect_close;
using test::Guarded;
using test::random_vector;

enum class Layout { kContiguous, kInterleaved };

// One buffer holding one or more [B, H, T, d_i] tensors:
//  - kContiguous: each tensor is its own [B, H, T, d_i] block (blocks separated by a gap);
//  - kInterleaved: one [B, T, width] buffer, tensor i in columns [col_i, col_i + H·d_i) with
//    spare columns before and after (like the packed [B, T, 3·d_model] projection).
// Every element outside the views holds a sentinel, so writes outside them are caught.
class HeadBuffer {
 public:
  static constexpr float kSentinel = -7.5e29f;

  HeadBuffer(Layout layout, int64_t B, int64_t H, int64_t T, std::vector<int64_t> dims)
      : layout_(layout), B_(B), H_(H), T_(T), dims_(std::move(dims)), buf_(size(), kSentinel) {
    in_view_.assign(static_cast<size_t>(buf_.size()), 0);
    for (size_t w = 0; w < dims_.size(); ++w)
      for_each(w, [&](int64_t, int64_t addr) { in_view_[addr] = 1; });
  }

  cpu::HeadView view(size_t w) {
    if (layout_ == Layout::kContiguous) {
      const int64_t d = dims_[w];
      return cpu::HeadView{buf_.data() + offset(w), H_ * T_ * d, T_ * d, d};
    }
    return cpu::interleaved_heads(buf_.data(), T_, width(), dims_[w], offset(w));
  }
  // values [B, H, T, d_w]
  void set(size_t w, const std::vector<float>& values) {
    for_each(w, [&](int64_t i, int64_t addr) { buf_.data()[addr] = values[i]; });
  }
  std::vector<float> get(size_t w) const {
    std::vector<float> out(static_cast<size_t>(B_ * H_ * T_ * dims_[w]));
    for_each(w, [&](int64_t i, int64_t addr) { out[i] = buf_.data()[addr]; });
    return out;
  }
  bool expect_outside_untouched(const std::string& what) const {
    if (!buf_.expect_guards_intact(what)) return false;
    for (int64_t a = 0; a < buf_.size(); ++a) {
      if (!in_view_[a] && buf_[a] != kSentinel) {
        ADD_FAILURE() << what << ": element " << a << " outside the views was written (" << buf_[a]
                      << ")";
        return false;
      }
    }
    return true;
  }

 private:
  int64_t width() const {  // interleaved row width: 2 spare columns, the heads, 3 spare columns
    int64_t w = 5;
    for (int64_t d : dims_) w += H_ * d;
    return w;
  }
  int64_t offset(size_t w) const {  // start of tensor w: a block offset or a column
    int64_t off = 2;
    for (size_t i = 0; i < w; ++i)
      off += layout_ == Layout::kContiguous ? B_ * H_ * T_ * dims_[i] + 3 : H_ * dims_[i];
    return off;
  }
  int64_t size() const {
    if (layout_ == Layout::kInterleaved) return B_ * T_ * width();
    return offset(dims_.size()) + 3;
  }
  // f(flat index into [B, H, T, d_w], address in the buffer)
  template <typename F>
  void for_each(size_t w, F f) const {
    const int64_t d = dims_[w];
    for (int64_t b = 0; b < B_; ++b)
      for (int64_t h = 0; h < H_; ++h)
        for (int64_t t = 0; t < T_; ++t)
          for (int64_t c = 0; c < d; ++c) {
            const int64_t addr = layout_ == Layout::kContiguous
                                     ? offset(w) + ((b * H_ + h) * T_ + t) * d + c
                                     : (b * T_ + t) * width() + offset(w) + h * d + c;
            f(((b * H_ + h) * T_ + t) * d + c, addr);
          }
  }

  Layout layout_;
  int64_t B_, H_, T_;
  std::vector<int64_t> dims_;
  Guarded<float> buf_;
  std::vector<uint8_t> in_view_;
};

struct AttnCase {
  const char* name;
  int64_t B, H, Tq, Tk, d_k, d_v;
  bool causal = false;
  int64_t causal_offset = 0;
  bool padding = false;
  float dropout = 0.0f;
  float scale = 0.0f;  // 0: 1/√d_k
};
// ctest lists the cases by name, not by their bytes.
void PrintTo(const AttnCase& c, std::ostream* os) {
  *os << c.name;
}
void PrintTo(Layout l, std::ostream* os) {
  *os << (l == Layout::kContiguous ? "contiguous" : "interleaved");
}

// Key padding [B, Tk]: key j of sequence b is padding when (j + b) % 3 == 2 (key 0 of sequences
// 0 and 1 stays visible).
std::vector<uint8_t> make_padding(int64_t B, int64_t Tk) {
  std::vector<uint8_t> pad(static_cast<size_t>(B * Tk));
  for (int64_t b = 0; b < B; ++b)
    for (int64_t j = 0; j < Tk; ++j) pad[b * Tk + j] = (j + b) % 3 == 2;
  return pad;
}

cpu::AttentionShape shape_of(const AttnCase& c, const std::vector<uint8_t>& pad) {
  cpu::AttentionShape s;
  s.B = c.B, s.H = c.H, s.Tq = c.Tq, s.Tk = c.Tk, s.d_k = c.d_k, s.d_v = c.d_v;
  s.scale = c.scale > 0 ? c.scale : 1.0f / std::sqrt(static_cast<float>(c.d_k));
  s.causal = c.causal;
  s.causal_offset = c.causal_offset;
  s.key_padding = c.padding ? pad.data() : nullptr;
  s.dropout = c.dropout;
  s.dropout_seed = 0xD12;
  return s;
}

const AttnCase kCases[] = {
    {"basic", 2, 3, 5, 7, 4, 6},
    {"causal", 2, 3, 5, 7, 4, 6, true, 0},
    {"causal_offset", 2, 3, 5, 7, 4, 6, true, 2},
    {"padding", 2, 3, 5, 7, 4, 6, false, 0, true},
    {"causal_padding", 2, 3, 5, 7, 4, 6, true, 2, true},
    {"self_causal", 3, 2, 6, 6, 8, 8, true, 0, true},
    {"decode_step", 2, 2, 1, 9, 5, 3, true, 8, true},
    {"more_queries", 2, 2, 9, 4, 3, 5, false, 0, true},
    {"dropout", 2, 3, 5, 7, 4, 6, true, 2, true, 0.3f},
    {"dropout_only", 1, 4, 9, 9, 3, 2, false, 0, false, 0.5f},
    {"unscaled", 2, 1, 4, 5, 3, 3, false, 0, false, 0.0f, 1.0f},
    {"single", 1, 1, 1, 1, 1, 1},
    {"no_keys", 2, 2, 3, 0, 4, 5},
    {"many_heads", 4, 8, 33, 33, 16, 16, true, 0, true, 0.1f},
    // More query rows than one query block (32): blocks that see fewer keys than Tk.
    {"causal_blocks", 1, 2, 150, 150, 8, 8, true, 0, true},
    {"causal_blocks_offset", 2, 1, 70, 100, 4, 6, true, 30, false, 0.2f},
    {"causal_blocks_hidden", 1, 1, 130, 40, 4, 4, true, -70},  // first rows see no key
    // The tiled forward: several key tiles (online rescaling), query blocks with leftover rows,
    // d_k and d_v that are not whole vectors, and the W1 head size.
    {"tiles_cross", 2, 2, 70, 600, 20, 36, false, 0, true},
    {"tiles_causal", 1, 2, 300, 300, 64, 64, true, 0, true, 0.1f},
    {"tiles_decode", 3, 2, 1, 77, 64, 64, true, 76, true},
    {"tiles_decode_long", 1, 2, 2, 600, 20, 36, true, 598, true},  // dot-product scores, 3 tiles
};

// The reference forward and backward in double on contiguous arrays.
struct RefResult {
  std::vector<double> out, probs, dq, dk, dv;
};
RefResult run_ref(const cpu::AttentionShape& s, const std::vector<float>& q,
                  const std::vector<float>& k, const std::vector<float>& v,
                  const std::vector<float>& dout, const std::vector<float>& dq0,
                  const std::vector<float>& dk0, const std::vector<float>& dv0) {
  RefResult r;
  r.out.resize(static_cast<size_t>(s.B * s.H * s.Tq * s.d_v));
  r.probs.resize(static_cast<size_t>(s.B * s.H * s.Tq * s.Tk));
  const auto qd = test::to_double(q), kd = test::to_double(k), vd = test::to_double(v),
             dod = test::to_double(dout);
  ref::attention_forward<double>(s, qd.data(), kd.data(), vd.data(), r.out.data(), r.probs.data());
  r.dq = test::to_double(dq0), r.dk = test::to_double(dk0), r.dv = test::to_double(dv0);
  ref::attention_backward<double>(s, qd.data(), kd.data(), vd.data(), r.probs.data(), dod.data(),
                                  r.dq.data(), r.dk.data(), r.dv.data());
  return r;
}

// Forward (with and without weights) and backward of the float kernel against the reference, with
// everything outside the views checked untouched. pad: the key padding when c.padding is set
// (make_padding's pattern when empty).
void check_against_ref(const AttnCase& c, Layout layout, std::vector<uint8_t> pad = {}) {
  if (pad.empty()) pad = make_padding(c.B, c.Tk);
  const auto s = shape_of(c, pad);
  const int64_t nq = c.B * c.H * c.Tq, nk = c.B * c.H * c.Tk;
  const auto q = random_vector(nq * c.d_k, 1, -2.0, 2.0),
             k = random_vector(nk * c.d_k, 2, -2.0, 2.0), v = random_vector(nk * c.d_v, 3),
             dout = random_vector(nq * c.d_v, 4), dq0 = random_vector(nq * c.d_k, 5),
             dk0 = random_vector(nk * c.d_k, 6), dv0 = random_vector(nk * c.d_v, 7);
  // Inputs: q alone, k and v packed together (as a cross-attention kv projection).
  HeadBuffer qb(layout, c.B, c.H, c.Tq, {c.d_k}), kvb(layout, c.B, c.H, c.Tk, {c.d_k, c.d_v});
  qb.set(0, q), kvb.set(0, k), kvb.set(1, v);
  HeadBuffer ob(layout, c.B, c.H, c.Tq, {c.d_v});
  ob.set(0, std::vector<float>(nq * c.d_v, std::numeric_limits<float>::quiet_NaN()));
  Guarded<float> probs(nq * c.Tk, std::numeric_limits<float>::quiet_NaN());

  cpu::attention_forward(s, qb.view(0), kvb.view(0), kvb.view(1), ob.view(0), probs.data());
  // Without weights (probs = null) the output is the same, bit for bit.
  HeadBuffer ob_only(layout, c.B, c.H, c.Tq, {c.d_v});
  ob_only.set(0, std::vector<float>(nq * c.d_v, std::numeric_limits<float>::quiet_NaN()));
  cpu::attention_forward(s, qb.view(0), kvb.view(0), kvb.view(1), ob_only.view(0), nullptr);
  expect_close(ob_only.get(0), ob.get(0), 0, 0, "out without weights");

  HeadBuffer dob(layout, c.B, c.H, c.Tq, {c.d_v}), dqb(layout, c.B, c.H, c.Tq, {c.d_k}),
      dkvb(layout, c.B, c.H, c.Tk, {c.d_k, c.d_v});
  dob.set(0, dout), dqb.set(0, dq0), dkvb.set(0, dk0), dkvb.set(1, dv0);
  cpu::attention_backward(s, qb.view(0), kvb.view(0), kvb.view(1), probs.data(), dob.view(0),
                          dqb.view(0), dkvb.view(0), dkvb.view(1));

  const auto r = run_ref(s, q, k, v, dout, dq0, dk0, dv0);
  expect_close(ob.get(0), r.out, 1e-4, 1e-5, "out");
  expect_close(probs.values(), r.probs, 1e-4, 1e-6, "probs");
  expect_close(dqb.get(0), r.dq, 1e-4, 1e-5, "dq");
  expect_close(dkvb.get(0), r.dk, 1e-4, 1e-5, "dk");
  expect_close(dkvb.get(1), r.dv, 1e-4, 1e-5, "dv");
  probs.expect_guards_intact("probs");
  ob.expect_outside_untouched("out");
  dqb.expect_outside_untouched("dq");
  dkvb.expect_outside_untouched("dk/dv");
  // The inputs are read only.
  expect_close(qb.get(0), q, 0, 0, "q unchanged");
  expect_close(kvb.get(0), k, 0, 0, "k unchanged");
  expect_close(kvb.get(1), v, 0, 0, "v unchanged");
  expect_close(dob.get(0), dout, 0, 0, "dout unchanged");
  qb.expect_outside_untouched("q");
  kvb.expect_outside_untouched("kv");
}

class AttentionTest : public ::testing::TestWithParam<std::tuple<AttnCase, Layout>> {};

TEST_P(AttentionTest, ForwardAndBackwardMatchRef) {
  const auto& [c, layout] = GetParam();
  check_against_ref(c, layout);
}

INSTANTIATE_TEST_SUITE_P(Cases, AttentionTest,
                         ::testing::Combine(::testing::ValuesIn(kCases),
                                            ::testing::Values(Layout::kContiguous,
                                                              Layout::kInterleaved)),
                         [](const auto& p) {
                           return std::string(std::get<0>(p.param).name) +
                                  (std::get<1>(p.param) == Layout::kContiguous ? "_contiguous"
                                                                               : "_interleaved");
                         });

// The cases small enough for finite differences (every parameter perturbed twice).
std::vector<AttnCase> small_cases() {
  std::vector<AttnCase> out;
  for (const auto& c : kCases)
    if (c.B * c.H * c.Tq * c.Tk <= 400) out.push_back(c);
  return out;
}

class AttentionGradTest : public ::testing::TestWithParam<AttnCase> {};

TEST_P(AttentionGradTest, RefGradientMatchesFiniteDifferences) {
  const AttnCase& c = GetParam();
  const auto pad = make_padding(c.B, c.Tk);
  const auto s = shape_of(c, pad);
  const int64_t nq = c.B * c.H * c.Tq, nk = c.B * c.H * c.Tk;
  const auto q = random_vector<double>(nq * c.d_k, 11, -2.0, 2.0),
             k = random_vector<double>(nk * c.d_k, 12, -2.0, 2.0),
             v = random_vector<double>(nk * c.d_v, 13), w = random_vector<double>(nq * c.d_v, 14);
  // L = Σ w ⊙ out, with the dropout mask fixed by the seed.
  auto loss = [&](const std::vector<double>& qq, const std::vector<double>& kk,
                  const std::vector<double>& vv) {
    std::vector<double> out(nq * c.d_v), probs(nq * c.Tk);
    ref::attention_forward<double>(s, qq.data(), kk.data(), vv.data(), out.data(), probs.data());
    return test::dot(out, w);
  };
  std::vector<double> out(nq * c.d_v), probs(nq * c.Tk);
  ref::attention_forward<double>(s, q.data(), k.data(), v.data(), out.data(), probs.data());
  std::vector<double> dq(nq * c.d_k, 0.0), dk(nk * c.d_k, 0.0), dv(nk * c.d_v, 0.0);
  ref::attention_backward<double>(s, q.data(), k.data(), v.data(), probs.data(), w.data(),
                                  dq.data(), dk.data(), dv.data());
  const auto nqg = test::numeric_gradient([&](const auto& x) { return loss(x, k, v); }, q);
  const auto nkg = test::numeric_gradient([&](const auto& x) { return loss(q, x, v); }, k);
  const auto nvg = test::numeric_gradient([&](const auto& x) { return loss(q, k, x); }, v);
  expect_close(dq, nqg, 1e-5, 1e-8, "dq");
  expect_close(dk, nkg, 1e-5, 1e-8, "dk");
  expect_close(dv, nvg, 1e-5, 1e-8, "dv");
}

INSTANTIATE_TEST_SUITE_P(SmallCases, AttentionGradTest, ::testing::ValuesIn(small_cases()),
                         [](const auto& p) { return std::string(p.param.name); });

TEST(Attention, PackedSelfAttentionMatchesRef) {
  // The nn layer's self-attention: q, k, v in one [B, T, 3·d_model] buffer, the gradients in
  // another of the same layout.
  const int64_t B = 2, H = 3, T = 5, d = 4;
  AttnCase c{"packed", B, H, T, T, d, d, true, 0, true, 0.2f};
  const auto pad = make_padding(B, T);
  const auto s = shape_of(c, pad);
  const auto q = random_vector(B * H * T * d, 21), k = random_vector(B * H * T * d, 22),
             v = random_vector(B * H * T * d, 23), dout = random_vector(B * H * T * d, 24);
  const std::vector<float> zeros(B * H * T * d, 0.0f);
  HeadBuffer qkv(Layout::kInterleaved, B, H, T, {d, d, d}),
      dqkv(Layout::kInterleaved, B, H, T, {d, d, d});
  qkv.set(0, q), qkv.set(1, k), qkv.set(2, v);
  dqkv.set(0, zeros), dqkv.set(1, zeros), dqkv.set(2, zeros);
  HeadBuffer ctx(Layout::kInterleaved, B, H, T, {d}), dctx(Layout::kInterleaved, B, H, T, {d});
  dctx.set(0, dout);
  std::vector<float> probs(B * H * T * T);
  cpu::attention_forward(s, qkv.view(0), qkv.view(1), qkv.view(2), ctx.view(0), probs.data());
  cpu::attention_backward(s, qkv.view(0), qkv.view(1), qkv.view(2), probs.data(), dctx.view(0),
                          dqkv.view(0), dqkv.view(1), dqkv.view(2));
  const auto r = run_ref(s, q, k, v, dout, zeros, zeros, zeros);
  expect_close(ctx.get(0), r.out, 1e-4, 1e-5, "ctx");
  expect_close(dqkv.get(0), r.dq, 1e-4, 1e-5, "dq");
  expect_close(dqkv.get(1), r.dk, 1e-4, 1e-5, "dk");
  expect_close(dqkv.get(2), r.dv, 1e-4, 1e-5, "dv");
  ctx.expect_outside_untouched("ctx");
  dqkv.expect_outside_untouched("dqkv");
}

TEST(Attention, ProbsRespectMasksAndSumToOne) {
  const AttnCase c{"masks", 2, 3, 5, 7, 4, 6, true, 1, true};
  const auto pad = make_padding(c.B, c.Tk);
  const auto s = shape_of(c, pad);
  HeadBuffer qb(Layout::kContiguous, c.B, c.H, c.Tq, {c.d_k}),
      kvb(Layout::kContiguous, c.B, c.H, c.Tk, {c.d_k, c.d_v}),
      ob(Layout::kContiguous, c.B, c.H, c.Tq, {c.d_v});
  qb.set(0, random_vector(c.B * c.H * c.Tq * c.d_k, 31));
  kvb.set(0, random_vector(c.B * c.H * c.Tk * c.d_k, 32));
  kvb.set(1, random_vector(c.B * c.H * c.Tk * c.d_v, 33));
  std::vector<float> probs(c.B * c.H * c.Tq * c.Tk);
  cpu::attention_forward(s, qb.view(0), kvb.view(0), kvb.view(1), ob.view(0), probs.data());
  for (int64_t b = 0; b < c.B; ++b)
    for (int64_t h = 0; h < c.H; ++h)
      for (int64_t i = 0; i < c.Tq; ++i) {
        const float* p = probs.data() + ((b * c.H + h) * c.Tq + i) * c.Tk;
        double sum = 0;
        for (int64_t j = 0; j < c.Tk; ++j) {
          const bool visible = j <= i + c.causal_offset && pad[b * c.Tk + j] == 0;
          if (!visible) {
            EXPECT_EQ(p[j], 0.0f) << "b " << b << " h " << h << " i " << i << " j " << j;
          } else {
            EXPECT_GT(p[j], 0.0f) << "b " << b << " h " << h << " i " << i << " j " << j;
          }
          sum += p[j];
        }
        EXPECT_NEAR(sum, 1.0, 1e-6) << "b " << b << " h " << h << " i " << i;
      }
}

TEST(Attention, FullyMaskedRowsGiveZerosNotNaN) {
  // Sequence 1 is all padding; causal_offset −1 hides every key from query 0 of sequence 0.
  const int64_t B = 2, H = 2, Tq = 3, Tk = 4, d = 3;
  std::vector<uint8_t> pad = {0, 0, 0, 0, 1, 1, 1, 1};
  cpu::AttentionShape s;
  s.B = B, s.H = H, s.Tq = Tq, s.Tk = Tk, s.d_k = d, s.d_v = d, s.scale = 0.5f;
  s.causal = true, s.causal_offset = -1, s.key_padding = pad.data();
  for (const float dropout : {0.0f, 0.4f}) {
    s.dropout = dropout;
    HeadBuffer qb(Layout::kInterleaved, B, H, Tq, {d}), kvb(Layout::kInterleaved, B, H, Tk, {d, d}),
        ob(Layout::kInterleaved, B, H, Tq, {d});
    qb.set(0, random_vector(B * H * Tq * d, 41, -30.0, 30.0));
    kvb.set(0, random_vector(B * H * Tk * d, 42, -30.0, 30.0));
    kvb.set(1, random_vector(B * H * Tk * d, 43));
    std::vector<float> probs(B * H * Tq * Tk, std::numeric_limits<float>::quiet_NaN());
    cpu::attention_forward(s, qb.view(0), kvb.view(0), kvb.view(1), ob.view(0), probs.data());
    const auto out = ob.get(0);
    auto masked_row = [&](int64_t b, int64_t i) { return b == 1 || i == 0; };
    for (int64_t b = 0; b < B; ++b)
      for (int64_t h = 0; h < H; ++h)
        for (int64_t i = 0; i < Tq; ++i) {
          const int64_t row = (b * H + h) * Tq + i;
          for (int64_t j = 0; j < Tk; ++j) ASSERT_FALSE(std::isnan(probs[row * Tk + j]));
          for (int64_t c = 0; c < d; ++c) ASSERT_FALSE(std::isnan(out[row * d + c]));
          if (!masked_row(b, i)) continue;
          for (int64_t j = 0; j < Tk; ++j) EXPECT_EQ(probs[row * Tk + j], 0.0f) << "row " << row;
          for (int64_t c = 0; c < d; ++c) EXPECT_EQ(out[row * d + c], 0.0f) << "row " << row;
        }
    // Backward: finite everywhere; masked queries get no gradient, padded keys neither.
    HeadBuffer dob(Layout::kInterleaved, B, H, Tq, {d}), dqb(Layout::kInterleaved, B, H, Tq, {d}),
        dkvb(Layout::kInterleaved, B, H, Tk, {d, d});
    dob.set(0, random_vector(B * H * Tq * d, 44));
    const std::vector<float> zq(B * H * Tq * d, 0.0f), zk(B * H * Tk * d, 0.0f);
    dqb.set(0, zq), dkvb.set(0, zk), dkvb.set(1, zk);
    cpu::attention_backward(s, qb.view(0), kvb.view(0), kvb.view(1), probs.data(), dob.view(0),
                            dqb.view(0), dkvb.view(0), dkvb.view(1));
    const auto dq = dqb.get(0), dk = dkvb.get(0), dv = dkvb.get(1);
    for (float x : dq) ASSERT_TRUE(std::isfinite(x));
    for (float x : dk) ASSERT_TRUE(std::isfinite(x));
    for (float x : dv) ASSERT_TRUE(std::isfinite(x));
    for (int64_t h = 0; h < H; ++h) {
      for (int64_t c = 0; c < d; ++c) EXPECT_EQ(dq[((0 * H + h) * Tq + 0) * d + c], 0.0f);
      for (int64_t x = 0; x < Tk * d; ++x) {
        EXPECT_EQ(dk[(1 * H + h) * Tk * d + x], 0.0f);
        EXPECT_EQ(dv[(1 * H + h) * Tk * d + x], 0.0f);
      }
    }
  }
}

TEST(Attention, DropoutKeepsPreDropoutProbsAndUsesTheFlatIndexMask) {
  const AttnCase c{"drop", 2, 2, 4, 6, 3, 5, false, 0, false, 0.5f};
  const auto s = shape_of(c, {});
  const int64_t nq = c.B * c.H * c.Tq, nk = c.B * c.H * c.Tk;
  HeadBuffer qb(Layout::kContiguous, c.B, c.H, c.Tq, {c.d_k}),
      kvb(Layout::kContiguous, c.B, c.H, c.Tk, {c.d_k, c.d_v}),
      ob(Layout::kContiguous, c.B, c.H, c.Tq, {c.d_v});
  qb.set(0, random_vector(nq * c.d_k, 51));
  kvb.set(0, random_vector(nk * c.d_k, 52));
  const auto v = random_vector(nk * c.d_v, 53);
  kvb.set(1, v);
  std::vector<float> probs(nq * c.Tk);
  cpu::attention_forward(s, qb.view(0), kvb.view(0), kvb.view(1), ob.view(0), probs.data());
  const auto out = ob.get(0);
  // probs rows still sum to one (saved before dropout) ...
  for (int64_t row = 0; row < nq; ++row) {
    double sum = 0;
    for (int64_t j = 0; j < c.Tk; ++j) sum += probs[row * c.Tk + j];
    EXPECT_NEAR(sum, 1.0, 1e-6) << "row " << row;
  }
  // ... and out = (probs ⊙ keep / (1 − p)) · V, keep from the flat index into [B, H, Tq, Tk].
  int64_t dropped = 0;
  std::vector<double> expected(nq * c.d_v, 0.0);
  for (int64_t row = 0; row < nq; ++row) {
    const int64_t bh = row / c.Tq;
    for (int64_t j = 0; j < c.Tk; ++j) {
      const bool keep =
          counter_uniform(s.dropout_seed, static_cast<uint64_t>(row * c.Tk + j)) >= 0.5f;
      dropped += !keep;
      if (!keep) continue;
      for (int64_t x = 0; x < c.d_v; ++x)
        expected[row * c.d_v + x] += probs[row * c.Tk + j] * 2.0 * v[(bh * c.Tk + j) * c.d_v + x];
    }
  }
  EXPECT_GT(dropped, 0);
  expect_close(out, expected, 1e-5, 1e-6, "out");
  // Same seed, same output; another seed, another output.
  cpu::attention_forward(s, qb.view(0), kvb.view(0), kvb.view(1), ob.view(0), probs.data());
  expect_close(ob.get(0), out, 0, 0, "same seed");
  auto s2 = s;
  s2.dropout_seed += 1;
  cpu::attention_forward(s2, qb.view(0), kvb.view(0), kvb.view(1), ob.view(0), probs.data());
  int64_t differ = 0;
  const auto out2 = ob.get(0);
  for (size_t i = 0; i < out.size(); ++i) differ += out[i] != out2[i];
  EXPECT_GT(differ, 0);
}

// Key tiles (256 keys) with every key padding are skipped, not computed: the weights there are
// still 0 and the output still that of the reference. Sequence 0 pads keys [256, 512) (the second
// of three tiles), sequence 1 pads every key (zero output and weights, never NaN).
TEST(Attention, WholePaddedKeyTilesAreSkippedYetExact) {
  const AttnCase c{"padded_tiles", 2, 2, 9, 600, 16, 8, false, 0, true};
  std::vector<uint8_t> pad(static_cast<size_t>(c.B * c.Tk), 0);
  for (int64_t j = 256; j < 512; ++j) pad[j] = 1;
  for (int64_t j = 0; j < c.Tk; ++j) pad[c.Tk + j] = 1;
  check_against_ref(c, Layout::kContiguous, pad);
  check_against_ref({"padded_tiles_causal", 2, 2, 150, 600, 16, 8, true, 450, true},
                    Layout::kInterleaved, pad);
  check_against_ref({"padded_tiles_one", 2, 1, 5, 200, 16, 8, false, 0, true}, Layout::kContiguous,
                    pad);  // one tile; sequence 1 sees nothing
}

// The dispatcher runs only the best instruction set this CPU has; every other one the tiled forward
// was compiled for (and this CPU runs) is forced here and checked on every case.
class AttentionSimdTest : public ::testing::TestWithParam<std::string> {};

TEST_P(AttentionSimdTest, EveryCaseMatchesRef) {
  struct Restore {
    ~Restore() { cpu::force_attention_simd_target(""); }
  } restore;
  ASSERT_TRUE(cpu::force_attention_simd_target(GetParam()));
  EXPECT_EQ(cpu::attention_simd_target(), GetParam());
  for (const auto& c : kCases) {
    SCOPED_TRACE(c.name);
    check_against_ref(c, Layout::kInterleaved);
  }
}

INSTANTIATE_TEST_SUITE_P(Targets, AttentionSimdTest,
                         ::testing::ValuesIn(cpu::attention_simd_targets()),
                         [](const auto& p) { return p.param; });

TEST(Attention, DispatchPicksTheBestTargetAndRefusesUnknownOnes) {
  const auto targets = cpu::attention_simd_targets();
  ASSERT_FALSE(targets.empty());
  EXPECT_EQ(cpu::attention_simd_target(), targets.front());
  EXPECT_FALSE(cpu::force_attention_simd_target("NO_SUCH_TARGET"));
  EXPECT_EQ(cpu::attention_simd_target(), targets.front());
}

TEST(Attention, RejectsBadArguments) {
  std::vector<float> q(2 * 4), k(3 * 4), v(3 * 4), out(2 * 4), probs(2 * 3);
  cpu::AttentionShape s;
  s.B = 1, s.H = 1, s.Tq = 2, s.Tk = 3, s.d_k = 4, s.d_v = 4;
  const cpu::HeadView qv{q.data(), 8, 8, 4}, kv{k.data(), 12, 12, 4}, vv{v.data(), 12, 12, 4},
      ov{out.data(), 8, 8, 4};
  EXPECT_NO_THROW(cpu::attention_forward(s, qv, kv, vv, ov, probs.data()));
  EXPECT_NO_THROW(cpu::attention_forward(s, qv, kv, vv, ov, nullptr));  // output only
  EXPECT_THROW(cpu::attention_backward(s, qv, kv, vv, nullptr, ov, qv, kv, vv), Error);
  const cpu::HeadView overlapping{k.data(), 12, 12, 2};  // row stride 2 < d_k 4
  EXPECT_THROW(cpu::attention_forward(s, qv, overlapping, vv, ov, probs.data()), Error);
  s.dropout = 1.0f;
  EXPECT_THROW(cpu::attention_forward(s, qv, kv, vv, ov, probs.data()), Error);
  s.dropout = 0.0f;
  s.Tq = -1;
  EXPECT_THROW(cpu::attention_forward(s, qv, kv, vv, ov, probs.data()), Error);
}

}  // namespace
}  // namespace attnscope
