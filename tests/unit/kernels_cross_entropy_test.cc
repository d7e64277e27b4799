// Label-smoothed cross-entropy with ignore_index: hand-computed values, the smoothing formula,
// ignored rows, large logits, bad targets, the float kernel against the reference, and finite
// differences of the reference gradient.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "core/error.h"
#include "grad_check.h"
#include "kernels/cpu/cross_entropy.h"
#include "kernels/ref/cross_entropy.h"

namespace attnscope {
namespace {

using test::expect_close;
using test::Guarded;
using test::random_vector;

TEST(CrossEntropy, HandComputedTinyCase) {
  // logits [1, 2, 3], target 2: lse = log(e + e² + e³) = 3.40760596444438.
  const std::vector<float> logits = {1, 2, 3};
  const std::vector<int32_t> target = {2};
  const double lse = 3.40760596444438;
  const std::vector<double> p = {0.0900305731703805, 0.244728471054798, 0.665240955774822};
  std::vector<float> d(3);
  auto r = cpu::cross_entropy(logits.data(), target.data(), d.data(), 1, 3, -100, 0.0f, 1.0f);
  EXPECT_EQ(r.count, 1);
  EXPECT_NEAR(r.loss_sum, lse - 3, 1e-6);  // 0.40760596
  expect_close(d, std::vector<double>{p[0], p[1], p[2] - 1}, 1e-6, 1e-7, "dlogits, eps 0");
  // ε = 0.1: 0.9·(lse − 3) + 0.1·(lse − mean(1, 2, 3)) = lse − 2.9; q = [1/30, 1/30, 0.9 + 1/30].
  r = cpu::cross_entropy(logits.data(), target.data(), d.data(), 1, 3, -100, 0.1f, 0.5f);
  EXPECT_NEAR(r.loss_sum, lse - 2.9, 1e-6);  // 0.50760596
  expect_close(d,
               std::vector<double>{0.5 * (p[0] - 0.1 / 3), 0.5 * (p[1] - 0.1 / 3),
                                   0.5 * (p[2] - 0.9 - 0.1 / 3)},
               1e-6, 1e-7, "dlogits, eps 0.1, scale 0.5");
}

TEST(CrossEntropy, LabelSmoothingFormula) {
  const int64_t N = 5, V = 11;
  const auto logits = random_vector(N * V, 1, -3.0, 3.0);
  const auto targets = test::random_ids(N, static_cast<int32_t>(V), 2);
  const float eps = 0.2f;
  double expected = 0;
  for (int64_t r = 0; r < N; ++r) {
    double z = 0;
    for (int64_t v = 0; v < V; ++v) z += std::exp(static_cast<double>(logits[r * V + v]));
    double nll_y = 0, mean_nll = 0;
    for (int64_t v = 0; v < V; ++v) {
      const double nll = -(logits[r * V + v] - std::log(z));
      if (v == targets[r]) nll_y = nll;
      mean_nll += nll / V;
    }
    expected += (1 - eps) * nll_y + eps * mean_nll;
  }
  const auto r = cpu::cross_entropy(logits.data(), targets.data(), nullptr, N, V, -1, eps, 1.0f);
  EXPECT_EQ(r.count, N);
  EXPECT_NEAR(r.loss_sum, expected, 1e-5);
}

TEST(CrossEntropy, MatchesRefWithIgnoredRows) {
  for (const auto& [N, V] : {std::pair<int64_t, int64_t>{7, 13}, {200, 301}}) {
    const auto logits = random_vector(N * V, 3, -5.0, 5.0);
    auto targets = test::random_ids(N, static_cast<int32_t>(V), 4);
    targets[1] = 0;  // pad id 0 is ignored
    for (int64_t r = 0; r < N; r += 5) targets[r] = 0;
    int64_t counted = 0;
    for (int32_t t : targets) counted += t != 0;
    for (const float eps : {0.0f, 0.1f}) {
      Guarded<float> d(N * V, std::numeric_limits<float>::quiet_NaN());  // overwritten, not added
      const float scale = 1.0f / static_cast<float>(counted);
      const auto r =
          cpu::cross_entropy(logits.data(), targets.data(), d.data(), N, V, 0, eps, scale);
      std::vector<double> ed(N * V);
      const auto ld = test::to_double(logits);
      const auto er = ref::cross_entropy<double>(ld.data(), targets.data(), ed.data(), N, V, 0, eps,
                                                 1.0 / static_cast<double>(counted));
      EXPECT_EQ(r.count, counted);
      EXPECT_EQ(er.count, counted);
      EXPECT_NEAR(r.loss_sum, er.loss_sum, 1e-5 * er.loss_sum);
      expect_close(d.values(), ed, 1e-5, 1e-8, "dlogits");
      d.expect_guards_intact("dlogits");
      for (int64_t row = 0; row < N; ++row) {
        if (targets[row] != 0) continue;
        for (int64_t v = 0; v < V; ++v) ASSERT_EQ(d[row * V + v], 0.0f) << "ignored row " << row;
      }
    }
  }
}

TEST(CrossEntropy, AllIgnoredCountsNothing) {
  const std::vector<float> logits = {1, 2, 3, 4, 5, 6};
  const std::vector<int32_t> targets = {-100, -100};
  std::vector<float> d(6, 9.0f);
  const auto r = cpu::cross_entropy(logits.data(), targets.data(), d.data(), 2, 3, -100, 0.1f, 1);
  EXPECT_EQ(r.count, 0);
  EXPECT_EQ(r.loss_sum, 0.0);
  expect_close(d, std::vector<float>(6, 0.0f), 0, 0, "dlogits");
}

TEST(CrossEntropy, LargeLogitsAreStable) {
  // Shifting every logit by 1000 changes nothing.
  const std::vector<float> small = {0.5f, -1.0f, 2.0f, 0.0f},
                           large = {1000.5f, 999.0f, 1002.0f, 1000.0f};
  const std::vector<int32_t> target = {1};
  std::vector<float> ds(4), dl(4);
  const auto rs = cpu::cross_entropy(small.data(), target.data(), ds.data(), 1, 4, -1, 0.1f, 1);
  const auto rl = cpu::cross_entropy(large.data(), target.data(), dl.data(), 1, 4, -1, 0.1f, 1);
  EXPECT_TRUE(std::isfinite(rl.loss_sum));
  EXPECT_NEAR(rl.loss_sum, rs.loss_sum, 1e-4);
  expect_close(dl, ds, 1e-4, 1e-5, "dlogits");
  // A very confident wrong prediction: loss ≈ the logit gap, finite.
  const std::vector<float> wrong = {1000.0f, -1000.0f};
  const std::vector<int32_t> t1 = {1};
  const auto rw = cpu::cross_entropy(wrong.data(), t1.data(), nullptr, 1, 2, -1, 0.0f, 1);
  EXPECT_NEAR(rw.loss_sum, 2000.0, 1e-3);
}

TEST(CrossEntropy, OutOfRangeTargetThrows) {
  const std::vector<float> logits(6, 0.0f);
  std::vector<float> d(6);
  for (const int32_t bad : {3, -2}) {
    const std::vector<int32_t> targets = {0, bad};
    EXPECT_THROW(cpu::cross_entropy(logits.data(), targets.data(), d.data(), 2, 3, -100, 0, 1),
                 Error)
        << "target " << bad;
  }
}

TEST(CrossEntropy, RefGradientMatchesFiniteDifferences) {
  const int64_t N = 4, V = 6;
  const auto logits = random_vector<double>(N * V, 5, -2.0, 2.0);
  const std::vector<int32_t> targets = {3, 7, 0, 5};  // 7 is the ignore index
  for (const double eps : {0.0, 0.15}) {
    auto loss = [&](const std::vector<double>& x) {
      return ref::cross_entropy<double>(x.data(), targets.data(), nullptr, N, V, 7, eps, 1.0)
          .loss_sum;
    };
    std::vector<double> d(N * V);
    ref::cross_entropy<double>(logits.data(), targets.data(), d.data(), N, V, 7, eps, 1.0);
    expect_close(d, test::numeric_gradient(loss, logits), 1e-6, 1e-9, "dlogits");
  }
}

}  // namespace
}  // namespace attnscope
