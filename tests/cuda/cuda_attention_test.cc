// Device attention against ref::attention_forward in double (on the values the device sees:
// bf16-rounded inputs for bf16): both paths (tensor-core kFlash for bf16 d ∈ {64, 128}; kRows for
// fp32 and bf16 of any d, with split-K), every mask combination (none, causal with
// causal_offset = 0, Tk − Tq > 0 and < 0, key padding with a fully padded sequence, both), sizes
// that are not multiples of the tiles, Tq = 1 decoding against a long cache, head-major and
// interleaved (packed, strided) layouts. Checked: the output (bf16 ≤ 1e-2, fp32 ≤ 1e-5 relative
// error), exact zeros for rows that see no key, the log-sum-exp, and the exact weights of
// attention_weights (all pairs and rows; a subset of pairs and rows into a strided buffer): masked
// cells exactly 0, rows summing to 1, ≤ 1e-4 from the reference. Every buffer is guarded and
// poisoned, and everything outside the views must stay untouched.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/rng.h"
#include "cuda_test_util.h"
#include "kernels/cuda/attention.h"
#include "kernels/ref/attention.h"

namespace attnscope::cuda {
namespace {

using test::CudaTest;
using test::Guarded;

constexpr double kNegInf = -std::numeric_limits<double>::infinity();

enum class Layout { kHeadMajor, kInterleaved };

struct Case {
  int64_t B, H, Tq, Tk, d;
  DType type;
  bool causal;
  int64_t causal_offset;
  bool padding;
  Layout layout;
  AttentionPath path;
};

std::string name(const Case& c) {
  return "B" + std::to_string(c.B) + " H" + std::to_string(c.H) + " Tq" + std::to_string(c.Tq) +
         " Tk" + std::to_string(c.Tk) + " d" + std::to_string(c.d) + " " + dtype_name(c.type) +
         (c.causal ? " causal(offset " + std::to_string(c.causal_offset) + ")" : "") +
         (c.padding ? " padding" : "") +
         (c.layout == Layout::kInterleaved ? " interleaved" : " head-major") +
         (c.path == AttentionPath::kFlash  ? " flash"
          : c.path == AttentionPath::kRows ? " rows"
                                           : " auto");
}

// One tensor [B, H, T, d] in a device buffer of the chosen layout; everything else in the buffer
// is poison. Interleaved: rows of width H·d + extra with the heads from column `col`.
class DeviceTensor {
 public:
  DeviceTensor(const std::string& name, Layout layout, DType type, int64_t B, int64_t H, int64_t T,
               int64_t d, int64_t extra, int64_t col)
      : type_(type), B_(B), H_(H), T_(T), d_(d) {
    elem_ = static_cast<int64_t>(dtype_size(type));
    if (layout == Layout::kHeadMajor) {
      bs_ = H * T * d, hs_ = T * d, rs_ = d, col_ = 0;
      total_ = B * H * T * d;
    } else {
      rs_ = H * d + extra, hs_ = d, bs_ = T * rs_, col_ = col;
      total_ = B * T * rs_;
    }
    buf_ = std::make_unique<Guarded<unsigned char>>(name, static_cast<size_t>(total_ * elem_));
  }
  DeviceHeads heads() { return DeviceHeads{buf_->data() + col_ * elem_, bs_, hs_, rs_}; }
  int64_t at(int64_t b, int64_t h, int64_t t, int64_t c) const {
    return col_ + b * bs_ + h * hs_ + t * rs_ + c;
  }
  // values [B, H, T, d] (already representable in the type)
  void upload(const std::vector<float>& values) {
    std::vector<unsigned char> bytes(static_cast<size_t>(total_ * elem_), test::kPoison);
    for_each([&](int64_t i, int64_t a) { put(bytes, a, values[static_cast<size_t>(i)]); });
    buf_->upload(bytes);
  }
  // [B, H, T, d]; fails the test if anything outside the view is not poison.
  std::vector<float> download(const std::string& what) {
    const std::vector<unsigned char> bytes = buf_->download();
    std::vector<char> inside(static_cast<size_t>(total_), 0);
    std::vector<float> out(static_cast<size_t>(B_ * H_ * T_ * d_));
    for_each([&](int64_t i, int64_t a) {
      out[static_cast<size_t>(i)] = get(bytes, a);
      inside[static_cast<size_t>(a)] = 1;
    });
    for (int64_t a = 0; a < total_; ++a) {
      if (inside[static_cast<size_t>(a)]) continue;
      for (int64_t k = 0; k < elem_; ++k)
        if (bytes[static_cast<size_t>(a * elem_ + k)] != test::kPoison) {
          ADD_FAILURE() << what << ": element " << a << " outside the view was written";
          return out;
        }
    }
    return out;
  }

 private:
  template <typename F>
  void for_each(F f) const {
    int64_t i = 0;
    for (int64_t b = 0; b < B_; ++b)
      for (int64_t h = 0; h < H_; ++h)
        for (int64_t t = 0; t < T_; ++t)
          for (int64_t c = 0; c < d_; ++c) f(i++, at(b, h, t, c));
  }
  void put(std::vector<unsigned char>& bytes, int64_t a, float v) const {
    if (type_ == DType::kF32) {
      std::memcpy(bytes.data() + a * 4, &v, 4);
    } else {
      const Bf16 h = to_bf16(v);
      std::memcpy(bytes.data() + a * 2, &h, 2);
    }
  }
  float get(const std::vector<unsigned char>& bytes, int64_t a) const {
    if (type_ == DType::kF32) {
      float v;
      std::memcpy(&v, bytes.data() + a * 4, 4);
      return v;
    }
    Bf16 h;
    std::memcpy(&h, bytes.data() + a * 2, 2);
    return to_float(h);
  }

  DType type_;
  int64_t B_, H_, T_, d_, elem_ = 4, bs_ = 0, hs_ = 0, rs_ = 0, col_ = 0, total_ = 0;
  std::unique_ptr<Guarded<unsigned char>> buf_;
};

class CudaAttention : public CudaTest {
 protected:
  void run(const Case& c) {
    SCOPED_TRACE(name(c));
    Rng rng(static_cast<uint64_t>(c.B * 1000003 + c.H * 10007 + c.Tq * 101 + c.Tk * 7 + c.d));
    const float scale = 1.0f / std::sqrt(static_cast<float>(c.d));
    // Inputs spread enough that the softmax is far from uniform.
    auto make = [&](int64_t T) {
      std::vector<float> v = test::random_floats(rng, c.B * c.H * T * c.d, -2.0f, 2.0f);
      return c.type == DType::kBF16 ? test::rounded_to_bf16(v) : v;
    };
    const std::vector<float> q = make(c.Tq), k = make(c.Tk), v = make(c.Tk);
    std::vector<uint8_t> pad;
    if (c.padding) {
      pad.assign(static_cast<size_t>(c.B * c.Tk), 0);
      for (int64_t b = 0; b < c.B; ++b)
        for (int64_t j = 0; j < c.Tk; ++j) {
          bool p = rng.uniform() < 0.2f;
          if (b == 0) p = j >= c.Tk - c.Tk / 3;  // right padding, the usual batch
          if (b == 1) p = true;                  // a sequence with every key masked
          pad[static_cast<size_t>(b * c.Tk + j)] = p ? 1 : 0;
        }
    }

    // Layouts: interleaved puts Q in [B, Tq, H·d + extra] and K|V in one [B, Tk, 2·H·d + extra]
    // buffer (like the KV cache); extra keeps 16-byte rows for the tensor-core path and breaks
    // them for the rows path.
    const int64_t extra = c.path == AttentionPath::kRows ? 3 : 8;
    const int64_t HD = c.H * c.d;
    DeviceTensor dq("q", c.layout, c.type, c.B, c.H, c.Tq, c.d, extra, 0);
    DeviceTensor dk("k", c.layout, c.type, c.B, c.H, c.Tk, c.d, HD + extra, 0);
    DeviceTensor dv("v", c.layout, c.type, c.B, c.H, c.Tk, c.d, HD + extra, HD);
    DeviceTensor dout("out", c.layout, c.type, c.B, c.H, c.Tq, c.d, extra, 0);
    // K and V of the interleaved layout share one buffer in a real cache; here two buffers of the
    // same shape (one holding K at column 0, one V at column H·d) check the same addressing.
    dq.upload(q);
    dk.upload(k);
    dv.upload(v);
    Guarded<uint8_t> dpad("key_padding", pad.size());
    if (c.padding) dpad.upload(pad);
    const int64_t rows = c.B * c.H * c.Tq;
    Guarded<float> dlse("lse", static_cast<size_t>(rows));

    AttentionForwardArgs a;
    a.shape = DeviceAttentionShape{c.B,
                                   c.H,
                                   c.Tq,
                                   c.Tk,
                                   c.d,
                                   c.type,
                                   scale,
                                   c.causal,
                                   c.causal_offset,
                                   c.padding ? dpad.data() : nullptr};
    a.q = dq.heads(), a.k = dk.heads(), a.v = dv.heads(), a.out = dout.heads();
    a.lse = dlse.data();
    a.path = c.path;
    if (c.path == AttentionPath::kFlash) {
      ASSERT_EQ(attention_path(AttentionForwardArgs{a.shape, a.q, a.k, a.v, a.out, a.lse,
                                                    AttentionPath::kAuto}),
                c.Tq >= kFlashMinRows ? AttentionPath::kFlash : AttentionPath::kRows);
    }
    attention_forward(a, alloc(), stream());
    sync();

    // Reference in double.
    cpu::AttentionShape rs;
    rs.B = c.B, rs.H = c.H, rs.Tq = c.Tq, rs.Tk = c.Tk, rs.d_k = c.d, rs.d_v = c.d;
    rs.scale = scale, rs.causal = c.causal, rs.causal_offset = c.causal_offset;
    rs.key_padding = c.padding ? pad.data() : nullptr;
    const std::vector<double> qd = test::to_double(q), kd = test::to_double(k),
                              vd = test::to_double(v);
    std::vector<double> out_ref(static_cast<size_t>(rows * c.d)),
        probs(static_cast<size_t>(rows * c.Tk));
    ref::attention_forward<double>(rs, qd.data(), kd.data(), vd.data(), out_ref.data(),
                                   probs.data());
    std::vector<double> lse_ref(static_cast<size_t>(rows));
    std::vector<char> dead(static_cast<size_t>(rows));
    for (int64_t b = 0; b < c.B; ++b)
      for (int64_t h = 0; h < c.H; ++h)
        for (int64_t i = 0; i < c.Tq; ++i) {
          const int64_t row = (b * c.H + h) * c.Tq + i;
          double m = kNegInf;
          std::vector<double> s;
          for (int64_t j = 0; j < c.Tk; ++j) {
            if (!ref::attention_visible(rs, b, i, j)) continue;
            double dot = 0;
            for (int64_t x = 0; x < c.d; ++x)
              dot += qd[static_cast<size_t>(row * c.d + x)] *
                     kd[static_cast<size_t>(((b * c.H + h) * c.Tk + j) * c.d + x)];
            s.push_back(scale * dot);
            m = std::max(m, s.back());
          }
          double sum = 0;
          for (double x : s) sum += std::exp(x - m);
          dead[static_cast<size_t>(row)] = s.empty();
          lse_ref[static_cast<size_t>(row)] = s.empty() ? kNegInf : m + std::log(sum);
        }

    const std::vector<float> out = dout.download("out");
    test::expect_all_written(out, "out");
    const double tol = c.type == DType::kF32 ? 1e-5 : 1e-2;
    EXPECT_LE(test::relative_error(out, out_ref), tol) << "output";
    int64_t dead_rows = 0;
    for (int64_t r = 0; r < rows; ++r) {
      if (!dead[static_cast<size_t>(r)]) continue;
      ++dead_rows;
      for (int64_t x = 0; x < c.d; ++x)
        ASSERT_EQ(out[static_cast<size_t>(r * c.d + x)], 0.0f) << "row " << r << " sees no key";
    }
    const std::vector<float> lse = dlse.download();
    for (int64_t r = 0; r < rows; ++r) {
      const double want = lse_ref[static_cast<size_t>(r)];
      if (want == kNegInf)
        ASSERT_EQ(lse[static_cast<size_t>(r)], -std::numeric_limits<float>::infinity())
            << "row " << r;
      else
        ASSERT_NEAR(lse[static_cast<size_t>(r)], want, 1e-4) << "lse of row " << r;
    }
    if (c.padding && c.B > 1) {
      EXPECT_GE(dead_rows, c.H * c.Tq) << "the fully padded sequence";
    }

    check_all_weights(c, a, dlse.data(), probs, dead, rs);
    check_some_weights(c, a, dlse.data(), probs);
  }

  // Every mask combination for one size: none, causal (offset 0; Tk − Tq; negative), padding,
  // and both.
  void run_masks(Case c) {
    for (bool padding : {false, true})
      for (int causal_mode = 0; causal_mode < 4; ++causal_mode) {
        c.padding = padding;
        c.causal = causal_mode > 0;
        c.causal_offset = causal_mode == 1 ? 0 : causal_mode == 2 ? c.Tk - c.Tq : -3;
        run(c);
        if (HasFatalFailure()) return;
      }
  }

  // Every pair and row, dense [B·H, Tq, Tk].
  void check_all_weights(const Case& c, const AttentionForwardArgs& a, const float* lse,
                         const std::vector<double>& probs, const std::vector<char>& dead,
                         const cpu::AttentionShape& rs) {
    const int64_t rows = c.B * c.H * c.Tq;
    Guarded<float> dw("weights", static_cast<size_t>(rows * c.Tk));
    AttentionWeightsArgs w;
    w.shape = a.shape, w.q = a.q, w.k = a.k, w.lse = lse;
    w.n_pairs = c.B * c.H, w.q_begin = 0, w.q_end = c.Tq;
    w.out = dw.data(), w.pair_stride = c.Tq * c.Tk, w.row_stride = c.Tk;
    w.path = c.path;
    attention_weights(w, stream());
    const std::vector<float> got = dw.download();
    test::expect_all_written(got, "weights");
    EXPECT_LE(test::relative_error(got, probs), 1e-4) << "weights";
    for (int64_t b = 0; b < c.B; ++b)
      for (int64_t h = 0; h < c.H; ++h)
        for (int64_t i = 0; i < c.Tq; ++i) {
          const int64_t row = (b * c.H + h) * c.Tq + i;
          double sum = 0;
          for (int64_t j = 0; j < c.Tk; ++j) {
            const float x = got[static_cast<size_t>(row * c.Tk + j)];
            if (!ref::attention_visible(rs, b, i, j)) {
              ASSERT_EQ(x, 0.0f) << "masked weight (" << b << ", " << h << ", " << i << ", " << j
                                 << ")";
            }
            ASSERT_GE(x, 0.0f);
            sum += x;
          }
          if (dead[static_cast<size_t>(row)])
            ASSERT_EQ(sum, 0.0) << "row " << row << " sees no key";
          else
            ASSERT_NEAR(sum, 1.0, 1e-4) << "row " << row << " sums to " << sum;
        }
  }

  // Pairs {last, 0} (out of order), rows [Tq/3, Tq − 1) (or [0, 1)), into a strided buffer whose
  // gaps must stay untouched.
  void check_some_weights(const Case& c, const AttentionForwardArgs& a, const float* lse,
                          const std::vector<double>& probs) {
    const int64_t BH = c.B * c.H;
    const std::vector<int32_t> pairs = {static_cast<int32_t>(BH - 1), 0};
    const int64_t q_begin = c.Tq > 2 ? c.Tq / 3 : 0, q_end = c.Tq > 2 ? c.Tq - 1 : 1;
    const int64_t n_rows = q_end - q_begin, row_stride = c.Tk + 5,
                  pair_stride = n_rows * row_stride + 7;
    const auto n_pairs = static_cast<int64_t>(pairs.size());
    Guarded<int32_t> dpairs("pairs", pairs.size());
    dpairs.upload(pairs);
    Guarded<float> dw("weights subset", static_cast<size_t>(n_pairs * pair_stride));
    AttentionWeightsArgs w;
    w.shape = a.shape, w.q = a.q, w.k = a.k, w.lse = lse;
    w.pairs = dpairs.data(), w.n_pairs = n_pairs, w.q_begin = q_begin, w.q_end = q_end;
    w.out = dw.data(), w.pair_stride = pair_stride, w.row_stride = row_stride;
    w.path = c.path;
    attention_weights(w, stream());
    const std::vector<float> got = dw.download();
    for (int64_t p = 0; p < n_pairs; ++p)
      for (int64_t r = 0; r < n_rows; ++r)
        for (int64_t j = 0; j < row_stride; ++j) {
          const float x = got[static_cast<size_t>(p * pair_stride + r * row_stride + j)];
          if (j >= c.Tk) {
            ASSERT_TRUE(test::is_poison(x)) << "gap column " << j << " written";
            continue;
          }
          const int64_t row = pairs[static_cast<size_t>(p)] * c.Tq + q_begin + r;
          ASSERT_NEAR(x, probs[static_cast<size_t>(row * c.Tk + j)], 1e-4)
              << "pair " << p << " row " << q_begin + r << " key " << j;
        }
    for (int64_t p = 0; p + 1 < n_pairs; ++p)
      for (int64_t x = n_rows * row_stride; x < pair_stride; ++x)
        ASSERT_TRUE(test::is_poison(got[static_cast<size_t>(p * pair_stride + x)]))
            << "gap between pairs written";
  }
};

TEST_F(CudaAttention, FlashHeadDim64) {
  for (Layout layout : {Layout::kHeadMajor, Layout::kInterleaved})
    for (auto [Tq, Tk] : {std::pair<int64_t, int64_t>{130, 77}, {129, 129}, {64, 300}, {17, 1}}) {
      run_masks(
          Case{2, 3, Tq, Tk, 64, DType::kBF16, false, 0, false, layout, AttentionPath::kFlash});
      if (HasFatalFailure()) return;
    }
}

TEST_F(CudaAttention, FlashHeadDim128) {
  for (Layout layout : {Layout::kHeadMajor, Layout::kInterleaved})
    for (auto [Tq, Tk] : {std::pair<int64_t, int64_t>{130, 77}, {200, 333}, {16, 16}}) {
      run_masks(
          Case{2, 2, Tq, Tk, 128, DType::kBF16, false, 0, false, layout, AttentionPath::kFlash});
      if (HasFatalFailure()) return;
    }
}

// A few multi-tile launches of the tensor-core kernels with every mask kind, small enough for
// compute-sanitizer's racecheck (shared-memory hazards of the double-buffered K/V tiles).
TEST_F(CudaAttention, FlashRacecheckShapes) {
  for (int64_t d : {int64_t{64}, int64_t{128}}) {
    run(Case{2, 1, 130, 200, d, DType::kBF16, true, 0, true, Layout::kHeadMajor,
             AttentionPath::kFlash});
    if (HasFatalFailure()) return;
  }
}

TEST_F(CudaAttention, FlashShortQueries) {  // forced onto the tensor cores below kFlashMinRows
  run_masks(Case{3, 2, 1, 50, 64, DType::kBF16, false, 0, false, Layout::kHeadMajor,
                 AttentionPath::kFlash});
}

TEST_F(CudaAttention, RowsBf16) {
  for (int64_t d : {int64_t{8}, int64_t{33}, int64_t{64}, int64_t{128}})
    for (Layout layout : {Layout::kHeadMajor, Layout::kInterleaved}) {
      run_masks(Case{2, 3, 7, 13, d, DType::kBF16, false, 0, false, layout, AttentionPath::kRows});
      if (HasFatalFailure()) return;
    }
}

TEST_F(CudaAttention, RowsF32) {
  for (int64_t d : {int64_t{5}, int64_t{32}, int64_t{64}, int64_t{256}})
    for (Layout layout : {Layout::kHeadMajor, Layout::kInterleaved}) {
      run_masks(Case{2, 2, 9, 40, d, DType::kF32, false, 0, false, layout, AttentionPath::kRows});
      if (HasFatalFailure()) return;
    }
}

TEST_F(CudaAttention, DecodeStepAgainstLongCacheSplitsKeys) {
  // Tq = 1 with few (b, h): the rows path splits the 3000 keys into chunks and merges them.
  for (DType t : {DType::kBF16, DType::kF32})
    for (int64_t d : {int64_t{64}, int64_t{128}}) {
      run_masks(
          Case{2, 2, 1, 3000, d, t, false, 0, false, Layout::kHeadMajor, AttentionPath::kAuto});
      if (HasFatalFailure()) return;
    }
}

TEST_F(CudaAttention, BeamStepShapes) {  // rows = batch · beam, Tq = 1, the auto path
  run_masks(Case{16, 4, 1, 37, 64, DType::kBF16, false, 0, false, Layout::kInterleaved,
                 AttentionPath::kAuto});
}

TEST_F(CudaAttention, AutoPicksFlashForLongBf16Queries) {
  AttentionForwardArgs a;
  a.shape = DeviceAttentionShape{1, 1, 64, 64, 64, DType::kBF16, 0.125f, false, 0, nullptr};
  static __attribute__((aligned(16))) char buf[16];
  a.q = a.k = a.v = a.out = DeviceHeads{buf, 64 * 64, 64 * 64, 64};
  EXPECT_EQ(attention_path(a), AttentionPath::kFlash);
  a.shape.Tq = 1;
  EXPECT_EQ(attention_path(a), AttentionPath::kRows);
  a.shape.Tq = 64, a.shape.d = 32;
  EXPECT_EQ(attention_path(a), AttentionPath::kRows);
  a.shape.d = 64, a.shape.type = DType::kF32;
  EXPECT_EQ(attention_path(a), AttentionPath::kRows);
}

TEST_F(CudaAttention, RejectsBadArguments) {
  AttentionForwardArgs a;
  a.shape = DeviceAttentionShape{1, 1, 4, 4, 300, DType::kF32, 1.0f, false, 0, nullptr};
  static __attribute__((aligned(16))) char buf[16];
  a.q = a.k = a.v = a.out = DeviceHeads{buf, 0, 0, 300};
  EXPECT_THROW(attention_forward(a, alloc(), stream()), Error) << "d > 256";
  a.shape.d = 64, a.q.row_stride = 10;
  EXPECT_THROW(attention_forward(a, alloc(), stream()), Error) << "overlapping rows";
  a.q.row_stride = 64, a.path = AttentionPath::kFlash;
  EXPECT_THROW(attention_forward(a, alloc(), stream()), Error) << "fp32 on the tensor cores";
  AttentionWeightsArgs w;
  w.shape = a.shape, w.q = a.q, w.k = a.k, w.n_pairs = 2;
  EXPECT_THROW(attention_weights(w, stream()), Error) << "n_pairs ≠ B·H without a list";
  w.n_pairs = 1, w.q_begin = 3, w.q_end = 5;
  EXPECT_THROW(attention_weights(w, stream()), Error) << "rows past Tq";
}

}  // namespace
}  // namespace attnscope::cuda
