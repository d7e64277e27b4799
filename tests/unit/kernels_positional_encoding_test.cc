// Sinusoidal positional encoding: closed-form values (even and odd d) and the broadcast add.
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
