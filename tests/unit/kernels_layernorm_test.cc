// LayerNorm: the float kernel against the reference (forward, saved statistics, accumulating
// backward), stability with a large mean, and finite differences of the reference gradient.
#include <gtest/gtest.h>

#include <limits>
#include <ostream>
#include <vector>

#include "grad_check.h"
#include "kernels/cpu/layernorm.h"
#include "kernels/ref/layernorm.h"

namespace attnscope {
namespace {

using test::expect_close;
using test::Guarded;
using test::random_vector;

struct LnCase {
  int64_t rows, n;
  double offset;  // added to every x: a large mean tests the variance computation
};

void PrintTo(const LnCase& c, std::ostream* os) {
  *os << "[" << c.rows << ", " << c.n << "] + " << c.offset;
}

class LayerNormTest : public ::testing::TestWithParam<LnCase> {};

TEST_P(LayerNormTest, ForwardMatchesRef) {
  const auto [rows, n, offset] = GetParam();
  const auto x = random_vector(rows * n, 1, offset - 2.0, offset + 2.0);
  const auto gamma = random_vector(n, 2, 0.5, 1.5), beta = random_vector(n, 3);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  Guarded<float> y(rows * n, nan), mean(rows, nan), rstd(rows, nan);
  cpu::layernorm_forward(x.data(), gamma.data(), beta.data(), y.data(), mean.data(), rstd.data(),
                         rows, n, 1e-5f);
  std::vector<double> ey(rows * n), emean(rows), erstd(rows);
  const auto xd = test::to_double(x), gd = test::to_double(gamma), bd = test::to_double(beta);
  ref::layernorm_forward<double>(xd.data(), gd.data(), bd.data(), ey.data(), emean.data(),
                                 erstd.data(), rows, n, 1e-5);
  // Float inputs near 1e4 carry ~1e-3 absolute rounding, hence the looser tolerance there.
  const double tol = offset > 100 ? 5e-3 : 1e-5;
  expect_close(y.values(), ey, tol, tol, "y");
  expect_close(mean.values(), emean, 1e-6, 1e-6, "mean");
  expect_close(rstd.values(), erstd, tol, tol, "rstd");
  y.expect_guards_intact("y");
  mean.expect_guards_intact("mean");
  rstd.expect_guards_intact("rstd");
}

TEST_P(LayerNormTest, BackwardAccumulatesLikeRef) {
  const auto [rows, n, offset] = GetParam();
  const auto x = random_vector(rows * n, 4, offset - 2.0, offset + 2.0);
  const auto gamma = random_vector(n, 5, 0.5, 1.5), beta = random_vector(n, 6);
  std::vector<float> y(rows * n), mean(rows), rstd(rows);
  cpu::layernorm_forward(x.data(), gamma.data(), beta.data(), y.data(), mean.data(), rstd.data(),
                         rows, n, 1e-5f);
  const auto dy = random_vector(rows * n, 7);
  Guarded<float> dx(random_vector(rows * n, 8)), dgamma(random_vector(n, 9)),
      dbeta(random_vector(n, 10));
  auto edx = test::to_double(dx.values()), edg = test::to_double(dgamma.values()),
       edb = test::to_double(dbeta.values());
  cpu::layernorm_backward(x.data(), gamma.data(), mean.data(), rstd.data(), dy.data(), dx.data(),
                          dgamma.data(), dbeta.data(), rows, n);
  // The reference runs in double from the same inputs and saved statistics.
  const auto xd = test::to_double(x), gd = test::to_double(gamma), md = test::to_double(mean),
             rd = test::to_double(rstd), dyd = test::to_double(dy);
  ref::layernorm_backward<double>(xd.data(), gd.data(), md.data(), rd.data(), dyd.data(),
                                  edx.data(), edg.data(), edb.data(), rows, n);
  const double tol = offset > 100 ? 5e-3 : 1e-4;
  expect_close(dx.values(), edx, tol, tol, "dx");
  expect_close(dgamma.values(), edg, tol, tol, "dgamma");
  expect_close(dbeta.values(), edb, 1e-5, 1e-5, "dbeta");
  dx.expect_guards_intact("dx");
  dgamma.expect_guards_intact("dgamma");
  dbeta.expect_guards_intact("dbeta");
}

INSTANTIATE_TEST_SUITE_P(Shapes, LayerNormTest,
                         ::testing::Values(LnCase{7, 13, 0.0}, LnCase{1, 1, 0.0},
                                           LnCase{301, 67, 0.0}, LnCase{5, 129, 1e4}));

TEST(LayerNorm, RefGradientMatchesFiniteDifferences) {
  const int64_t rows = 3, n = 7;
  const auto x = random_vector<double>(rows * n, 11, -2.0, 2.0);
  const auto gamma = random_vector<double>(n, 12, 0.5, 1.5), beta = random_vector<double>(n, 13);
  const auto w = random_vector<double>(rows * n, 14);
  auto loss = [&](const std::vector<double>& xx, const std::vector<double>& gg,
                  const std::vector<double>& bb) {
    std::vector<double> y(rows * n), mean(rows), rstd(rows);
    ref::layernorm_forward<double>(xx.data(), gg.data(), bb.data(), y.data(), mean.data(),
                                   rstd.data(), rows, n, 1e-5);
    return test::dot(y, w);
  };
  std::vector<double> y(rows * n), mean(rows), rstd(rows);
  ref::layernorm_forward<double>(x.data(), gamma.data(), beta.data(), y.data(), mean.data(),
                                 rstd.data(), rows, n, 1e-5);
  std::vector<double> dx(rows * n, 0.0), dgamma(n, 0.0), dbeta(n, 0.0);
  ref::layernorm_backward<double>(x.data(), gamma.data(), mean.data(), rstd.data(), w.data(),
                                  dx.data(), dgamma.data(), dbeta.data(), rows, n);
  const auto nx = test::numeric_gradient([&](const auto& v) { return loss(v, gamma, beta); }, x);
  const auto ng = test::numeric_gradient([&](const auto& v) { return loss(x, v, beta); }, gamma);
  const auto nb = test::numeric_gradient([&](const auto& v) { return loss(x, gamma, v); }, beta);
  expect_close(dx, nx, 1e-6, 1e-8, "dx");
  expect_close(dgamma, ng, 1e-6, 1e-8, "dgamma");
  expect_close(dbeta, nb, 1e-6, 1e-8, "dbeta");
}

TEST(LayerNorm, NormalisedRowsHaveZeroMeanUnitVariance) {
  const int64_t rows = 4, n = 33;
  const auto x = random_vector(rows * n, 15, 3.0, 9.0);
  const std::vector<float> gamma(n, 1.0f), beta(n, 0.0f);
  std::vector<float> y(rows * n), mean(rows), rstd(rows);
  cpu::layernorm_forward(x.data(), gamma.data(), beta.data(), y.data(), mean.data(), rstd.data(),
                         rows, n, 0.0f);
  for (int64_t r = 0; r < rows; ++r) {
    double m = 0, v = 0;
    for (int64_t j = 0; j < n; ++j) m += y[r * n + j];
    m /= n;
    for (int64_t j = 0; j < n; ++j) v += (y[r * n + j] - m) * (y[r * n + j] - m);
    EXPECT_NEAR(m, 0.0, 1e-5) << "row " << r;
    EXPECT_NEAR(v / n, 1.0, 1e-4) << "row " << r;
  }
}

}  // namespace
}  // namespace attnscope
