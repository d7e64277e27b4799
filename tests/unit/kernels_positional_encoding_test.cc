// Sinusoidal positional encoding in both layouts (interleaved; Hugging Face Marian's halves):
// closed-form values (even and odd d), the broadcast add and its gradient (finite differences).
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "grad_check.h"
#include "kernels/cpu/positional_encoding.h"
#include "kernels/ref/positional_encoding.h"

namespace attnscope {
namespace {

using test::expect_close;
using test::Guarded;
using test::random_vector;

TEST(PositionalEncoding, MatchesClosedForm) {
  for (const int64_t d : {int64_t{6}, int64_t{7}, int64_t{1}, int64_t{512}}) {
    const int64_t T = 11;
    Guarded<float> pe(T * d, -99.0f);
    cpu::positional_encoding(pe.data(), T, d);
    std::vector<double> expected(T * d);
    for (int pos = 0; pos < T; ++pos) {
      for (int i = 0; 2 * i < d; ++i) {
        const double angle = pos / std::pow(10000.0, 2.0 * i / static_cast<double>(d));
        expected[pos * d + 2 * i] = std::sin(angle);
        if (2 * i + 1 < d) expected[pos * d + 2 * i + 1] = std::cos(angle);
      }
    }
    expect_close(pe.values(), expected, 0, 1e-6, "pe, d = " + std::to_string(d));
    pe.expect_guards_intact("pe");
  }
}

TEST(PositionalEncoding, KnownValues) {
  const int64_t T = 3, d = 5;
  std::vector<float> pe(T * d);
  cpu::positional_encoding(pe.data(), T, d);
  // Position 0: sin 0 = 0, cos 0 = 1.
  expect_close(std::vector<float>(pe.begin(), pe.begin() + d), std::vector<float>{0, 1, 0, 1, 0}, 0,
               0, "position 0");
  // Position 1, column pair 0: sin 1 and cos 1; column 4 (odd d, no partner): sin(1/10000^(4/5)).
  EXPECT_NEAR(pe[d + 0], std::sin(1.0), 1e-7);
  EXPECT_NEAR(pe[d + 1], std::cos(1.0), 1e-7);
  EXPECT_NEAR(pe[d + 4], std::sin(1.0 / std::pow(10000.0, 0.8)), 1e-7);
  EXPECT_NEAR(pe[2 * d + 2], std::sin(2.0 / std::pow(10000.0, 0.4)), 1e-7);
  EXPECT_NEAR(pe[2 * d + 3], std::cos(2.0 / std::pow(10000.0, 0.4)), 1e-7);
}

TEST(PositionalEncoding, LongTableMatchesRef) {
  const int64_t T = 1000, d = 63;  // threaded
  std::vector<float> pe(T * d);
  cpu::positional_encoding(pe.data(), T, d);
  std::vector<double> expected(T * d);
  ref::positional_encoding<double>(expected.data(), T, d);
  expect_close(pe, expected, 0, 1e-6, "pe");
}

TEST(PositionalEncoding, HalvesMatchHuggingFaceFormula) {
  // MarianSinusoidalPositionalEmbedding: angle[p, j] = p / 10000^(2·(j div 2) / d) in float64;
  // sin(angle[:, 0::2]) fills the first ⌈d/2⌉ columns, cos(angle[:, 1::2]) the rest.
  for (const int64_t d : {int64_t{6}, int64_t{7}, int64_t{1}, int64_t{2}, int64_t{512}}) {
    const int64_t T = 13, h = (d + 1) / 2;
    Guarded<float> pe(T * d, -99.0f);
    cpu::positional_encoding(pe.data(), T, d, cpu::PositionLayout::kHalves);
    std::vector<double> expected(T * d);
    for (int64_t pos = 0; pos < T; ++pos) {
      int64_t sin_col = 0, cos_col = h;
      for (int64_t j = 0; j < d; ++j) {
        const double angle =
            static_cast<double>(pos) /
            std::pow(10000.0, 2.0 * static_cast<double>(j / 2) / static_cast<double>(d));
        if (j % 2 == 0)
          expected[pos * d + sin_col++] = std::sin(angle);
        else
          expected[pos * d + cos_col++] = std::cos(angle);
      }
    }
    expect_close(pe.values(), expected, 0, 1e-7, "halves, d = " + std::to_string(d));
    pe.expect_guards_intact("pe");
  }
}

TEST(PositionalEncoding, HalvesKnownValues) {
  const int64_t T = 3, d = 5;  // h = 3 sine columns, 2 cosine columns
  std::vector<float> pe(T * d);
  cpu::positional_encoding(pe.data(), T, d, cpu::PositionLayout::kHalves);
  expect_close(std::vector<float>(pe.begin(), pe.begin() + d), std::vector<float>{0, 0, 0, 1, 1}, 0,
               0, "position 0: sines 0, cosines 1");
  EXPECT_NEAR(pe[d + 0], std::sin(1.0), 1e-7);
  EXPECT_NEAR(pe[d + 1], std::sin(1.0 / std::pow(10000.0, 0.4)), 1e-7);
  EXPECT_NEAR(pe[d + 2], std::sin(1.0 / std::pow(10000.0, 0.8)), 1e-7);
  EXPECT_NEAR(pe[d + 3], std::cos(1.0), 1e-7);
  EXPECT_NEAR(pe[2 * d + 4], std::cos(2.0 / std::pow(10000.0, 0.4)), 1e-7);
}

TEST(PositionalEncoding, LongHalvesTableMatchesRef) {
  const int64_t T = 1000, d = 64;  // threaded
  std::vector<float> pe(T * d);
  cpu::positional_encoding(pe.data(), T, d, cpu::PositionLayout::kHalves);
  std::vector<double> expected(T * d);
  ref::positional_encoding<double>(expected.data(), T, d, cpu::PositionLayout::kHalves);
  expect_close(pe, expected, 0, 1e-6, "pe");
}

TEST(PositionalEncoding, BackwardSumsOverBatchLikeRef) {
  for (const auto& [B, T, d] : {std::tuple<int64_t, int64_t, int64_t>{3, 5, 7}, {4, 50, 257}}) {
    const auto dx = random_vector(B * T * d, 2);
    Guarded<float> d_pe(random_vector(T * d, 3));
    auto expected = test::to_double(d_pe.values());
    cpu::add_positional_encoding_backward(dx.data(), d_pe.data(), B, T, d);
    const auto dxd = test::to_double(dx);
    ref::add_positional_encoding_backward<double>(dxd.data(), expected.data(), B, T, d);
    expect_close(d_pe.values(), expected, 1e-6, 1e-6, "d_pe accumulates");
    d_pe.expect_guards_intact("d_pe");
  }
}

TEST(PositionalEncoding, RefBackwardMatchesFiniteDifferences) {
  const int64_t B = 2, T = 3, d = 4;
  const auto x = random_vector<double>(B * T * d, 4), w = random_vector<double>(B * T * d, 5);
  const auto pe = random_vector<double>(T * d, 6);
  auto loss = [&](const std::vector<double>& table) {
    std::vector<double> y = x;
    ref::add_positional_encoding<double>(y.data(), table.data(), B, T, d);
    return test::dot(y, w);
  };
  std::vector<double> d_pe(T * d, 0.0);
  ref::add_positional_encoding_backward<double>(w.data(), d_pe.data(), B, T, d);
  expect_close(d_pe, test::numeric_gradient(loss, pe), 1e-6, 1e-9, "d_pe");
}

TEST(PositionalEncoding, AddBroadcastsOverBatch) {
  for (const auto& [B, T, d] : {std::tuple<int64_t, int64_t, int64_t>{3, 5, 7}, {4, 50, 257}}) {
    std::vector<float> pe(T * d);
    cpu::positional_encoding(pe.data(), T, d);
    Guarded<float> x(random_vector(B * T * d, 1));
    auto expected = x.values();
    cpu::add_positional_encoding(x.data(), pe.data(), B, T, d);
    ref::add_positional_encoding<float>(expected.data(), pe.data(), B, T, d);
    expect_close(x.values(), expected, 0, 0, "x");
    x.expect_guards_intact("x");
  }
}

}  // namespace
}  // namespace attnscope
