// fast_exp against double-precision exp: ≤ 2 ulp-ish relative error over the whole normal range,
// exact at 0, exactly 0 for −∞ and below the normal range (masked scores), finite at the top,
// monotone (a softmax must keep the order of its scores).
#include "kernels/cpu/fast_exp.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace attnscope::cpu {
namespace {

TEST(FastExp, RelativeErrorAcrossTheNormalRange) {
  double worst = 0, at = 0;
  for (int64_t i = 0; i <= 2000000; ++i) {
    const float x = -87.3f + 175.6f * static_cast<float>(i) / 2000000.0f;
    const double want = std::exp(static_cast<double>(x));
    const double rel = std::abs(static_cast<double>(fast_exp(x)) - want) / want;
    if (rel > worst) {
      worst = rel;
      at = x;
    }
  }
  EXPECT_LT(worst, 2.5e-7) << "at x = " << at;
}

TEST(FastExp, EdgesThatSoftmaxReliesOn) {
  EXPECT_EQ(fast_exp(0.0f), 1.0f);
  EXPECT_EQ(fast_exp(-std::numeric_limits<float>::infinity()), 0.0f);
  EXPECT_EQ(fast_exp(-87.5f), 0.0f);
  EXPECT_EQ(fast_exp(-1e30f), 0.0f);
  EXPECT_GT(fast_exp(-87.3f), 0.0f);
  EXPECT_TRUE(std::isfinite(fast_exp(89.0f)));
  EXPECT_TRUE(std::isfinite(fast_exp(std::numeric_limits<float>::infinity())));
  EXPECT_GT(fast_exp(88.7f), 2e38f);
  // Small arguments keep their digits: e^x − 1 ≈ x.
  EXPECT_NEAR(fast_exp(1e-6f), 1.000001f, 2e-7f);
  EXPECT_NEAR(fast_exp(-1e-6f), 0.999999f, 2e-7f);
}

TEST(FastExp, Monotone) {
  float prev = fast_exp(-30.0f);
  for (float x = -30.0f; x < 30.0f; x = std::nextafter(x, 100.0f) + 1e-4f) {
    const float y = fast_exp(x);
    ASSERT_GE(y, prev) << x;
    prev = y;
  }
}

TEST(FastExp, VectorisedLoopMatchesScalarCalls) {
  std::vector<float> x(1000), y(1000);
  for (size_t i = 0; i < x.size(); ++i) x[i] = -50.0f + 0.1f * static_cast<float>(i) * 0.77f;
#pragma omp simd
  for (size_t i = 0; i < x.size(); ++i) y[i] = fast_exp(x[i]);
  for (size_t i = 0; i < x.size(); ++i) EXPECT_EQ(y[i], fast_exp(x[i])) << i;
}

}  // namespace
}  // namespace attnscope::cpu
