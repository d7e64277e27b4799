// The packed-weight product (kernels/cpu/packed_linear.h) against the plain reference
// ref::linear_forward, on every SIMD target this CPU runs: rows below, at and above the tile
// height, output widths around the 16-column panel, short and long inputs, with and without a
// bias, nothing written outside y. (Its gradient is that of linear_forward: the product is used
// for decoding only.) The epilogue (an activation and a residual applied to each finished block
// of columns) against the same product followed by the separate passes, in every weight format.
#include <gtest/gtest.h>

#include <string>
#include <tuple>
#include <vector>

#include "grad_check.h"
#include "kernels/cpu/activation.h"
#include "kernels/cpu/attention_tiles.h"
#include "kernels/cpu/packed_linear.h"
#include "kernels/ref/gemm.h"

namespace attnscope {
namespace {

using test::expect_close;
using test::Guarded;
using test::random_vector;

void check_shapes() {
  uint64_t seed = 1;
  for (const int64_t N : {1, 2, 5, 6, 7, 13, 25})
    for (const int64_t out : {1, 15, 16, 17, 64, 65, 200})
      for (const int64_t in : {1, 3, 64}) {
        const auto x = random_vector(N * in, seed++), W = random_vector(out * in, seed++),
                   b = random_vector(out, seed++);
        cpu::PackedWeight packed;
        cpu::pack_weight(W.data(), out, in, packed);
        for (const bool bias : {false, true}) {
          Guarded<float> y(N * out, -99.0f);
          cpu::packed_linear_forward(x.data(), packed, bias ? b.data() : nullptr, y.data(), N);
          std::vector<double> want(N * out);
          const auto xd = test::to_double(x), Wd = test::to_double(W), bd = test::to_double(b);
          ref::linear_forward<double>(xd.data(), Wd.data(), bias ? bd.data() : nullptr, want.data(),
                                      N, in, out);
          const std::string what = "N " + std::to_string(N) + " out " + std::to_string(out) +
                                   " in " + std::to_string(in) + (bias ? " bias" : "");
          expect_close(y.values(), want, 1e-5, 1e-5, what);
          y.expect_guards_intact(what);
        }
      }
}

TEST(PackedLinear, MatchesReferenceOnEverySimdTarget) {
  const std::vector<std::string> targets = cpu::attention_simd_targets();
  ASSERT_FALSE(targets.empty());
  for (const std::string& t : targets) {
    SCOPED_TRACE(t);
    ASSERT_TRUE(cpu::force_attention_simd_target(t));
    EXPECT_EQ(std::string(cpu::packed_linear_simd_target()), t);
    check_shapes();
  }
  cpu::force_attention_simd_target("");  // back to the best this CPU runs
}

TEST(PackedLinear, LargeProductRunsThreadedAndMatches) {
  const int64_t N = 16, in = 96, out = 5000;  // above the threading threshold
  const auto x = random_vector(N * in, 7), W = random_vector(out * in, 8),
             b = random_vector(out, 9);
  cpu::PackedWeight packed;
  cpu::pack_weight(W.data(), out, in, packed);
  EXPECT_EQ(packed.panels.size(), static_cast<size_t>((out + 15) / 16 * 16 * in));
  std::vector<float> y(N * out), want(N * out);
  cpu::packed_linear_forward(x.data(), packed, b.data(), y.data(), N);
  ref::linear_forward<float>(x.data(), W.data(), b.data(), want.data(), N, in, out);
  expect_close(y, want, 1e-5, 1e-5, "y");
}

// y = act(x·Wᵀ + b) + residual through the epilogue must be the floats of the product followed
// by activation_forward and add, bit for bit: one group or many, a partial last group, one
// thread or both (large), fp32, bf16 and int8 weights.
TEST(PackedLinear, EpilogueEqualsTheSeparatePasses) {
  uint64_t seed = 100;
  for (const auto format :
       {cpu::WeightFormat::kF32, cpu::WeightFormat::kBf16, cpu::WeightFormat::kInt8})
    for (const auto& [N, in, out] : {std::tuple<int64_t, int64_t, int64_t>{1, 8, 17},
                                     {7, 64, 200},
                                     {32, 256, 1000},
                                     {33, 128, 4100}}) {
      const auto x = random_vector(N * in, seed++), W = random_vector(out * in, seed++),
                 b = random_vector(out, seed++), r = random_vector(N * out, seed++);
      cpu::PackedWeight packed;
      cpu::pack_weight(W.data(), out, in, packed, format);
      std::vector<float> plain(N * out);
      cpu::packed_linear_forward(x.data(), packed, b.data(), plain.data(), N);
      for (const bool activate : {false, true})
        for (const auto act : {cpu::Activation::kRelu, cpu::Activation::kGelu,
                               cpu::Activation::kGeluTanh, cpu::Activation::kSilu})
          for (const bool residual : {false, true}) {
            if (!activate && act != cpu::Activation::kRelu) continue;
            std::vector<float> want = plain;
            if (activate) cpu::activation_forward(act, want.data(), want.data(), N * out);
            if (residual) cpu::add(r.data(), want.data(), want.data(), N * out);
            cpu::Epilogue e;
            e.activate = activate, e.act = act, e.residual = residual ? r.data() : nullptr;
            Guarded<float> y(N * out, -99.0f);
            cpu::packed_linear_forward(x.data(), packed, b.data(), y.data(), N, e);
            const std::string what = std::string(cpu::weight_format_name(format)) + " N " +
                                     std::to_string(N) + " out " + std::to_string(out) + " act " +
                                     (activate ? std::to_string(int(act)) : "none") +
                                     (residual ? " residual" : "");
            const std::vector<float> got = y.values();
            ASSERT_EQ(got.size(), want.size());
            size_t differ = 0;
            for (size_t i = 0; i < got.size(); ++i) differ += got[i] != want[i];
            EXPECT_EQ(differ, 0u) << what;
            if (activate || residual) {
              size_t changed = 0;  // the epilogue did something
              for (size_t i = 0; i < got.size(); ++i) changed += got[i] != plain[i];
              EXPECT_GT(changed, 0u) << what;
            }
            y.expect_guards_intact(what);
          }
    }
}

}  // namespace
}  // namespace attnscope
