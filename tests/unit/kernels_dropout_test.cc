// Inverted dropout with a stateless mask: identity at p = 0, deterministic per seed, keep rate
// 1 − p, backward on the same mask, and the float kernel against the reference.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "core/error.h"
#include "grad_check.h"
#include "kernels/cpu/dropout.h"
#include "kernels/ref/dropout.h"

namespace attnscope {
namespace {

using test::expect_close;
using test::Guarded;
using test::random_vector;

TEST(Dropout, ZeroProbabilityIsIdentity) {
  const int64_t n = 37;
  const auto x = random_vector(n, 1);
  Guarded<float> y(n, -99.0f);
  cpu::dropout_forward(x.data(), y.data(), n, 0.0f, 123);
  expect_close(y.values(), x, 0, 0, "y");
  y.expect_guards_intact("y");
  auto inplace = x;
  cpu::dropout_forward(inplace.data(), inplace.data(), n, 0.0f, 123);
  expect_close(inplace, x, 0, 0, "in place");
  const auto dy = random_vector(n, 2);
  Guarded<float> dx(random_vector(n, 3));
  std::vector<float> expected = dx.values();
  for (int64_t i = 0; i < n; ++i) expected[i] += dy[i];
  cpu::dropout_backward(dy.data(), dx.data(), n, 0.0f, 123);
  expect_close(dx.values(), expected, 0, 0, "dx");
  dx.expect_guards_intact("dx");
}

TEST(Dropout, MaskIsDeterministicForASeed) {
  const int64_t n = 1001;
  const auto x = random_vector(n, 4, 0.5, 1.5);  // nonzero, so zeros in y are drops
  std::vector<float> a(n), b(n), c(n);
  cpu::dropout_forward(x.data(), a.data(), n, 0.4f, 77);
  cpu::dropout_forward(x.data(), b.data(), n, 0.4f, 77);
  cpu::dropout_forward(x.data(), c.data(), n, 0.4f, 78);
  expect_close(a, b, 0, 0, "same seed");
  int64_t differ = 0;
  for (int64_t i = 0; i < n; ++i) differ += (a[i] == 0.0f) != (c[i] == 0.0f);
  EXPECT_GT(differ, n / 10) << "another seed should give another mask";
}

TEST(Dropout, KeepsAboutOneMinusPAndScalesKept) {
  const int64_t n = 200001;  // large: runs threaded
  const auto x = random_vector(n, 5, 0.5, 1.5);
  for (const float p : {0.1f, 0.3f, 0.5f}) {
    std::vector<float> y(n);
    cpu::dropout_forward(x.data(), y.data(), n, p, 99);
    int64_t kept = 0;
    for (int64_t i = 0; i < n; ++i) {
      if (y[i] == 0.0f) continue;
      ++kept;
      ASSERT_NEAR(y[i], x[i] / (1.0f - p), 1e-6f) << "index " << i;
    }
    EXPECT_NEAR(static_cast<double>(kept) / n, 1.0 - p, 0.005) << "p = " << p;
  }
}

TEST(Dropout, MatchesRefAndWorksInPlace) {
  for (const int64_t n : {int64_t{13}, int64_t{50001}}) {
    const auto x = random_vector(n, 6);
    Guarded<float> y(n, -99.0f);
    cpu::dropout_forward(x.data(), y.data(), n, 0.25f, 5);
    std::vector<float> expected(n);
    ref::dropout_forward<float>(x.data(), expected.data(), n, 0.25f, 5);
    expect_close(y.values(), expected, 0, 0, "y");
    y.expect_guards_intact("y");
    auto inplace = x;
    cpu::dropout_forward(inplace.data(), inplace.data(), n, 0.25f, 5);
    expect_close(inplace, expected, 0, 0, "in place");

    const auto dy = random_vector(n, 7);
    Guarded<float> dx(random_vector(n, 8));
    auto edx = dx.values();
    cpu::dropout_backward(dy.data(), dx.data(), n, 0.25f, 5);
    ref::dropout_backward<float>(dy.data(), edx.data(), n, 0.25f, 5);
    expect_close(dx.values(), edx, 1e-6, 1e-7, "dx");  // FMA may round differently
    dx.expect_guards_intact("dx");
  }
}

TEST(Dropout, BackwardUsesTheForwardMask) {
  // Dropout is linear, so its backward must be its transpose: ⟨w, D(x)⟩ = ⟨Dᵀ(w), x⟩, and the
  // gradient is nonzero exactly where forward kept an element.
  const int64_t n = 513;
  const auto x = random_vector(n, 9, 0.5, 1.5), w = random_vector(n, 10, 0.5, 1.5);
  std::vector<float> y(n), dx(n, 0.0f);
  cpu::dropout_forward(x.data(), y.data(), n, 0.3f, 2024);
  cpu::dropout_backward(w.data(), dx.data(), n, 0.3f, 2024);
  for (int64_t i = 0; i < n; ++i)
    ASSERT_EQ(y[i] == 0.0f, dx[i] == 0.0f) << "mask differs at index " << i;
  EXPECT_NEAR(test::dot(y, w), test::dot(dx, x), 1e-3);
}

TEST(Dropout, RefGradientMatchesFiniteDifferences) {
  const int64_t n = 23;
  const auto x = random_vector<double>(n, 11), w = random_vector<double>(n, 12);
  auto loss = [&](const std::vector<double>& xx) {
    std::vector<double> y(n);
    ref::dropout_forward<double>(xx.data(), y.data(), n, 0.4f, 31);
    return test::dot(y, w);
  };
  std::vector<double> dx(n, 0.0);
  ref::dropout_backward<double>(w.data(), dx.data(), n, 0.4f, 31);
  expect_close(dx, test::numeric_gradient(loss, x), 1e-6, 1e-9, "dx");
}

TEST(Dropout, ProbabilityOneDropsEverythingWithoutNaN) {
  const auto x = random_vector(17, 13);
  std::vector<float> y(17, 5.0f), dx(17, 0.0f);
  cpu::dropout_forward(x.data(), y.data(), 17, 1.0f, 1);
  cpu::dropout_backward(x.data(), dx.data(), 17, 1.0f, 1);
  expect_close(y, std::vector<float>(17, 0.0f), 0, 0, "y");
  expect_close(dx, std::vector<float>(17, 0.0f), 0, 0, "dx");
}

TEST(Dropout, RejectsProbabilityOutsideUnitInterval) {
  std::vector<float> x(4), y(4);
  EXPECT_THROW(cpu::dropout_forward(x.data(), y.data(), 4, -0.1f, 1), Error);
  EXPECT_THROW(cpu::dropout_forward(x.data(), y.data(), 4, 1.5f, 1), Error);
  EXPECT_THROW(cpu::dropout_backward(x.data(), y.data(), 4, 1.5f, 1), Error);
}

}  // namespace
}  // namespace attnscope
