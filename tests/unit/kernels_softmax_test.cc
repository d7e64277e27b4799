// Row softmax: the float kernel against the reference, masks, fully masked rows, large logits,
// and a finite-difference check of the reference gradient.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "grad_check.h"
#include "kernels/cpu/attention_tiles.h"
#include "kernels/cpu/row_max.h"
#include "kernels/cpu/softmax.h"
#include "kernels/ref/softmax.h"

namespace attnscope {
namespace {

using test::expect_close;
using test::Guarded;
using test::random_vector;

constexpr float kInf = std::numeric_limits<float>::infinity();

// A [rows, n] additive mask: −∞ at about a quarter of the entries, small values elsewhere.
std::vector<float> random_mask(int64_t rows, int64_t n, uint64_t seed) {
  auto m = random_vector(rows * n, seed, -0.5, 0.5);
  const auto u = random_vector(rows * n, seed + 1, 0.0, 1.0);
  for (size_t i = 0; i < m.size(); ++i)
    if (u[i] < 0.25f) m[i] = -kInf;
  return m;
}

TEST(Softmax, ForwardMatchesRef) {
  for (const auto& [rows, n] : {std::pair<int64_t, int64_t>{7, 13}, {1, 1}, {300, 129}}) {
    const auto x = random_vector(rows * n, 1, -4.0, 4.0);
    const auto mask = random_mask(rows, n, 2);
    for (const bool masked : {false, true}) {
      Guarded<float> y(rows * n, std::numeric_limits<float>::quiet_NaN());
      cpu::softmax_forward(x.data(), masked ? mask.data() : nullptr, y.data(), rows, n);
      std::vector<double> expected(rows * n);
      const auto xd = test::to_double(x), md = test::to_double(mask);
      ref::softmax_forward<double>(xd.data(), masked ? md.data() : nullptr, expected.data(), rows,
                                   n);
      expect_close(y.values(), expected, 1e-5, 1e-7, masked ? "y (masked)" : "y");
      y.expect_guards_intact("y");
    }
  }
}

TEST(Softmax, LogSoftmaxMatchesRefInPlaceToo) {
  for (const auto& [rows, n] : {std::pair<int64_t, int64_t>{7, 13}, {1, 1}, {5, 32003}}) {
    const auto x = random_vector(rows * n, 3, -30.0, 30.0);
    std::vector<double> expected(rows * n);
    const auto xd = test::to_double(x);
    ref::log_softmax_forward<double>(xd.data(), expected.data(), rows, n);
    Guarded<float> y(rows * n, std::numeric_limits<float>::quiet_NaN());
    cpu::log_softmax_forward(x.data(), y.data(), rows, n);
    expect_close(y.values(), expected, 1e-5, 1e-5, "log p");
    y.expect_guards_intact("log p");
    std::vector<float> inplace = x;
    cpu::log_softmax_forward(inplace.data(), inplace.data(), rows, n);
    EXPECT_EQ(inplace, y.values());
  }
}

TEST(Softmax, RowsSumToOneAndMaskedColumnsAreZero) {
  const int64_t rows = 7, n = 13;
  const auto x = random_vector(rows * n, 3, -4.0, 4.0);
  auto mask = random_mask(rows, n, 4);
  for (int64_t r = 0; r < rows; ++r) mask[r * n] = 0.0f;  // at least one visible column per row
  std::vector<float> y(rows * n);
  cpu::softmax_forward(x.data(), mask.data(), y.data(), rows, n);
  for (int64_t r = 0; r < rows; ++r) {
    double sum = 0;
    for (int64_t j = 0; j < n; ++j) {
      sum += y[r * n + j];
      if (mask[r * n + j] == -kInf) {
        EXPECT_EQ(y[r * n + j], 0.0f) << "row " << r << " col " << j;
      }
    }
    EXPECT_NEAR(sum, 1.0, 1e-6) << "row " << r;
  }
}

TEST(Softmax, AllNegativeInfinityRowGivesZeros) {
  const int64_t rows = 3, n = 5;
  auto x = random_vector(rows * n, 5);
  std::vector<float> mask(rows * n, 0.0f);
  for (int64_t j = 0; j < n; ++j) mask[1 * n + j] = -kInf;  // row 1 fully masked by the mask
  for (int64_t j = 0; j < n; ++j) x[2 * n + j] = -kInf;     // row 2 fully −∞ in x itself
  std::vector<float> y(rows * n, 7.0f);
  cpu::softmax_forward(x.data(), mask.data(), y.data(), rows, n);
  for (int64_t j = 0; j < n; ++j) {
    EXPECT_EQ(y[1 * n + j], 0.0f) << "col " << j;
    EXPECT_EQ(y[2 * n + j], 0.0f) << "col " << j;
  }
  double sum0 = 0;
  for (int64_t j = 0; j < n; ++j) sum0 += y[j];
  EXPECT_NEAR(sum0, 1.0, 1e-6);
  // The backward of a zero row is zero (and finite).
  const auto dy = random_vector(rows * n, 6);
  std::vector<float> dx(rows * n, 0.0f);
  cpu::softmax_backward(y.data(), dy.data(), dx.data(), rows, n);
  for (int64_t j = 0; j < n; ++j) EXPECT_EQ(dx[1 * n + j], 0.0f);
  for (float v : dx) EXPECT_TRUE(std::isfinite(v));
}

TEST(Softmax, LargeLogitsAreStable) {
  const std::vector<float> x = {1000.0f, 1001.0f, 999.0f, -1000.0f};
  std::vector<float> y(4);
  cpu::softmax_forward(x.data(), nullptr, y.data(), 1, 4);
  const double z = std::exp(-1.0) + 1.0 + std::exp(-2.0);
  expect_close(y, std::vector<double>{std::exp(-1.0) / z, 1.0 / z, std::exp(-2.0) / z, 0.0}, 1e-6,
               1e-7, "y");
}

TEST(Softmax, BackwardAccumulatesLikeRef) {
  for (const auto& [rows, n] : {std::pair<int64_t, int64_t>{7, 13}, {300, 129}}) {
    const auto x = random_vector(rows * n, 7, -3.0, 3.0);
    std::vector<float> y(rows * n);
    cpu::softmax_forward(x.data(), nullptr, y.data(), rows, n);
    const auto dy = random_vector(rows * n, 8);
    Guarded<float> dx(random_vector(rows * n, 9));
    auto expected = test::to_double(dx.values());
    cpu::softmax_backward(y.data(), dy.data(), dx.data(), rows, n);
    const auto yd = test::to_double(y), dyd = test::to_double(dy);
    ref::softmax_backward<double>(yd.data(), dyd.data(), expected.data(), rows, n);
    expect_close(dx.values(), expected, 1e-5, 1e-6, "dx");
    dx.expect_guards_intact("dx");
  }
}

TEST(Softmax, RefGradientMatchesFiniteDifferences) {
  const int64_t rows = 3, n = 7;
  const auto x = random_vector<double>(rows * n, 10, -2.0, 2.0);
  auto mask = test::to_double(random_mask(rows, n, 11));
  mask[0] = 0.0;
  const auto w = random_vector<double>(rows * n, 12);
  auto loss = [&](const std::vector<double>& xx) {
    std::vector<double> y(rows * n);
    ref::softmax_forward<double>(xx.data(), mask.data(), y.data(), rows, n);
    return test::dot(y, w);
  };
  std::vector<double> y(rows * n), dx(rows * n, 0.0);
  ref::softmax_forward<double>(x.data(), mask.data(), y.data(), rows, n);
  ref::softmax_backward<double>(y.data(), w.data(), dx.data(), rows, n);
  expect_close(dx, test::numeric_gradient(loss, x), 1e-6, 1e-9, "dx");
}

// row_max (the max of softmax and cross_entropy, vectorized without a reduction pragma) equals
// the plain running maximum at every size around its 16-lane blocks, skipping NaN as std::max.
TEST(KernelsRowMax, EqualsThePlainMaximum) {
  for (int64_t n : {0, 1, 2, 15, 16, 17, 31, 32, 33, 100, 257}) {
    auto x = random_vector(n, static_cast<uint64_t>(n) + 7, -50.0, 50.0);
    for (int64_t i = 0; i < n; i += 5) x[static_cast<size_t>(i)] = -kInf;
    if (n > 3) x[3] = std::nanf("");
    float expected = -kInf;
    for (const float v : x) expected = std::max(expected, v);
    EXPECT_EQ(cpu::row_max(x.data(), n), expected) << n;
    if (n > 0) {
      x[static_cast<size_t>(n - 1)] = 1e30f;  // the tail after the last block counts
      EXPECT_EQ(cpu::row_max(x.data(), n), 1e30f) << n;
    }
  }
}

// row_log_sum_exp on every instruction set Highway built it for and this CPU runs, against
// log Σ e^x in double: at every length around the vector blocks and the 1,024-entry blocks, with
// −∞ entries (banned tokens), and a row that is all −∞.
TEST(KernelsRowLogSumExp, EqualsTheDoubleSumOnEveryTarget) {
  struct Restore {
    ~Restore() { cpu::force_attention_simd_target(""); }
  } restore;
  for (const std::string& target : cpu::attention_simd_targets()) {
    ASSERT_TRUE(cpu::force_attention_simd_target(target)) << target;
    for (int64_t n : {1, 2, 7, 15, 16, 17, 31, 32, 33, 63, 100, 1023, 1024, 1025, 2049, 8000}) {
      auto x = random_vector(n, static_cast<uint64_t>(n) + 3, -30.0, 30.0);
      for (int64_t i = 1; i < n; i += 7) x[static_cast<size_t>(i)] = -kInf;
      double m = -kInf;
      for (const float v : x) m = std::max(m, static_cast<double>(v));
      double sum = 0;
      for (const float v : x) sum += std::exp(static_cast<double>(v) - m);
      const double expected = m + std::log(sum);
      EXPECT_NEAR(cpu::row_log_sum_exp(x.data(), n), expected, 2e-6 * std::abs(expected) + 1e-6)
          << target << ", n = " << n;
      std::vector<float> banned(static_cast<size_t>(n), -kInf);
      EXPECT_EQ(cpu::row_log_sum_exp(banned.data(), n), -kInf) << target << ", n = " << n;
    }
  }
}

}  // namespace
}  // namespace attnscope
