// gemm, gemm_batched and linear: the cblas kernels against the loop references, with padded
// leading dimensions and guard regions, plus a finite-difference check of the linear gradient.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <ostream>
#include <vector>

#include "core/error.h"
#include "grad_check.h"
#include "kernels/cpu/gemm.h"
#include "kernels/ref/gemm.h"

namespace attnscope {
namespace {

using test::expect_close;
using test::Guarded;
using test::random_vector;

struct GemmCase {
  bool ta, tb;
  float beta;
};

void PrintTo(const GemmCase& c, std::ostream* os) {
  *os << "trans_a " << c.ta << " trans_b " << c.tb << " beta " << c.beta;
}

class GemmTest : public ::testing::TestWithParam<GemmCase> {};

TEST_P(GemmTest, MatchesRefWithPaddedLeadingDims) {
  const auto [ta, tb, beta] = GetParam();
  const int64_t M = 7, N = 13, K = 5;
  // Stored shapes: A [M, K] or [K, M]; B [K, N] or [N, K]; each row padded by 3 columns.
  const int64_t a_rows = ta ? K : M, a_cols = ta ? M : K, lda = a_cols + 3;
  const int64_t b_rows = tb ? N : K, b_cols = tb ? K : N, ldb = b_cols + 3;
  const int64_t ldc = N + 2;
  const auto A = random_vector(a_rows * lda, 1);
  const auto B = random_vector(b_rows * ldb, 2);
  const auto C0 = random_vector(M * ldc, 3);
  Guarded<float> C(C0);
  cpu::gemm(ta, tb, M, N, K, 0.7f, A.data(), lda, B.data(), ldb, beta, C.data(), ldc);
  auto expected = test::to_double(C0);
  const auto Ad = test::to_double(A), Bd = test::to_double(B);
  ref::gemm<double>(ta, tb, M, N, K, 0.7, Ad.data(), lda, Bd.data(), ldb, beta, expected.data(),
                    ldc);
  // The padding columns of C (j ≥ N) are compared too: they must keep their values.
  expect_close(C.values(), expected, 1e-5, 1e-6, "C");
  C.expect_guards_intact("C");
}

INSTANTIATE_TEST_SUITE_P(AllTransposes, GemmTest,
                         ::testing::Values(GemmCase{false, false, 0.0f},
                                           GemmCase{false, true, 0.3f}, GemmCase{true, false, 1.0f},
                                           GemmCase{true, true, -0.5f}));

TEST(Gemm, BetaZeroOverwritesNaN) {
  const int64_t M = 3, N = 5, K = 4;
  const auto A = random_vector(M * K, 4), B = random_vector(K * N, 5);
  std::vector<float> C(M * N, std::numeric_limits<float>::quiet_NaN());
  cpu::gemm(false, false, M, N, K, 1.0f, A.data(), K, B.data(), N, 0.0f, C.data(), N);
  std::vector<float> expected(M * N);
  ref::gemm<float>(false, false, M, N, K, 1.0f, A.data(), K, B.data(), N, 0.0f, expected.data(), N);
  expect_close(C, expected, 1e-5, 1e-6, "C");
}

TEST(Gemm, EmptyInnerDimensionScalesC) {
  std::vector<float> C = {1, 2, 3, 4, 5, 6};
  cpu::gemm(false, false, 2, 3, 0, 1.0f, nullptr, 1, nullptr, 3, 0.5f, C.data(), 3);
  expect_close(C, std::vector<float>{0.5f, 1, 1.5f, 2, 2.5f, 3}, 0, 0, "beta 0.5");
  C[0] = std::numeric_limits<float>::quiet_NaN();
  cpu::gemm(false, false, 2, 3, 0, 1.0f, nullptr, 1, nullptr, 3, 0.0f, C.data(), 3);
  expect_close(C, std::vector<float>(6, 0.0f), 0, 0, "beta 0");
}

TEST(Gemm, RejectsTooSmallLeadingDimension) {
  std::vector<float> A(12), B(12), C(16);
  EXPECT_THROW(cpu::gemm(false, false, 4, 4, 3, 1.0f, A.data(), 2, B.data(), 4, 0.0f, C.data(), 4),
               Error);
  EXPECT_THROW(cpu::gemm(false, false, 4, 4, 3, 1.0f, A.data(), 3, B.data(), 4, 0.0f, C.data(), 3),
               Error);
}

TEST(Gemm, BatchedMatchesOneByOne) {
  const int64_t batch = 3, M = 5, N = 7, K = 9;
  const int64_t sa = M * K + 2, sb = N * K + 1, sc = M * N + 3;
  const auto A = random_vector(batch * sa, 6), B = random_vector(batch * sb, 7);
  Guarded<float> C(random_vector(batch * sc, 8));
  auto expected = test::to_double(C.values());
  cpu::gemm_batched(batch, false, true, M, N, K, 1.5f, A.data(), K, sa, B.data(), K, sb, 0.25f,
                    C.data(), N, sc);
  const auto Ad = test::to_double(A), Bd = test::to_double(B);
  for (int64_t i = 0; i < batch; ++i)
    ref::gemm<double>(false, true, M, N, K, 1.5, Ad.data() + i * sa, K, Bd.data() + i * sb, K, 0.25,
                      expected.data() + i * sc, N);
  expect_close(C.values(), expected, 1e-5, 1e-6, "C");
  C.expect_guards_intact("C");
}

TEST(Linear, ForwardMatchesRef) {
  const int64_t N = 7, in = 13, out = 5;
  const auto x = random_vector(N * in, 10), W = random_vector(out * in, 11),
             b = random_vector(out, 12);
  for (const bool with_bias : {true, false}) {
    Guarded<float> y(N * out, std::numeric_limits<float>::quiet_NaN());
    cpu::linear_forward(x.data(), W.data(), with_bias ? b.data() : nullptr, y.data(), N, in, out);
    std::vector<double> expected(N * out);
    const auto xd = test::to_double(x), Wd = test::to_double(W), bd = test::to_double(b);
    ref::linear_forward<double>(xd.data(), Wd.data(), with_bias ? bd.data() : nullptr,
                                expected.data(), N, in, out);
    expect_close(y.values(), expected, 1e-5, 1e-6, with_bias ? "y (bias)" : "y (no bias)");
    y.expect_guards_intact("y");
  }
}

TEST(Linear, BackwardAccumulatesLikeRef) {
  const int64_t N = 7, in = 13, out = 5;
  const auto x = random_vector(N * in, 20), W = random_vector(out * in, 21),
             dy = random_vector(N * out, 22);
  for (const bool optional : {true, false}) {
    Guarded<float> dx(random_vector(N * in, 23)), dW(random_vector(out * in, 24)),
        db(random_vector(out, 25));
    auto dx_ref = test::to_double(dx.values()), dW_ref = test::to_double(dW.values()),
         db_ref = test::to_double(db.values());
    const auto dx0 = dx_ref, db0 = db_ref;
    cpu::linear_backward(x.data(), W.data(), dy.data(), optional ? dx.data() : nullptr, dW.data(),
                         optional ? db.data() : nullptr, N, in, out);
    const auto xd = test::to_double(x), Wd = test::to_double(W), dyd = test::to_double(dy);
    ref::linear_backward<double>(xd.data(), Wd.data(), dyd.data(),
                                 optional ? dx_ref.data() : nullptr, dW_ref.data(),
                                 optional ? db_ref.data() : nullptr, N, in, out);
    expect_close(dx.values(), optional ? dx_ref : dx0, 1e-5, 1e-5, "dx");
    expect_close(dW.values(), dW_ref, 1e-5, 1e-5, "dW");
    expect_close(db.values(), optional ? db_ref : db0, 1e-5, 1e-5, "db");
    dx.expect_guards_intact("dx");
    dW.expect_guards_intact("dW");
    db.expect_guards_intact("db");
  }
}

TEST(Linear, LargeShapeMatchesRef) {
  // Big enough for the threaded bias and column-reduction paths.
  const int64_t N = 301, in = 67, out = 129;
  const auto x = random_vector(N * in, 30), W = random_vector(out * in, 31),
             b = random_vector(out, 32), dy = random_vector(N * out, 33);
  std::vector<float> y(N * out), dx(N * in), dW(out * in), db(out);
  cpu::linear_forward(x.data(), W.data(), b.data(), y.data(), N, in, out);
  cpu::linear_backward(x.data(), W.data(), dy.data(), dx.data(), dW.data(), db.data(), N, in, out);
  const auto xd = test::to_double(x), Wd = test::to_double(W), bd = test::to_double(b),
             dyd = test::to_double(dy);
  std::vector<double> ey(N * out), edx(N * in), edW(out * in), edb(out);
  ref::linear_forward<double>(xd.data(), Wd.data(), bd.data(), ey.data(), N, in, out);
  ref::linear_backward<double>(xd.data(), Wd.data(), dyd.data(), edx.data(), edW.data(), edb.data(),
                               N, in, out);
  expect_close(y, ey, 1e-4, 1e-4, "y");
  expect_close(dx, edx, 1e-4, 1e-4, "dx");
  expect_close(dW, edW, 1e-4, 1e-4, "dW");
  expect_close(db, edb, 1e-4, 1e-4, "db");
}

TEST(Linear, RefGradientMatchesFiniteDifferences) {
  const int64_t N = 3, in = 5, out = 4;
  const auto x = random_vector<double>(N * in, 40), W = random_vector<double>(out * in, 41),
             b = random_vector<double>(out, 42), w = random_vector<double>(N * out, 43);
  auto loss = [&](const std::vector<double>& xx, const std::vector<double>& WW,
                  const std::vector<double>& bb) {
    std::vector<double> y(N * out);
    ref::linear_forward<double>(xx.data(), WW.data(), bb.data(), y.data(), N, in, out);
    return test::dot(y, w);
  };
  std::vector<double> dx(N * in), dW(out * in), db(out);
  ref::linear_backward<double>(x.data(), W.data(), w.data(), dx.data(), dW.data(), db.data(), N, in,
                               out);
  const auto nx = test::numeric_gradient([&](const auto& v) { return loss(v, W, b); }, x);
  const auto nW = test::numeric_gradient([&](const auto& v) { return loss(x, v, b); }, W);
  const auto nb = test::numeric_gradient([&](const auto& v) { return loss(x, W, v); }, b);
  expect_close(dx, nx, 1e-6, 1e-8, "dx");
  expect_close(dW, nW, 1e-6, 1e-8, "dW");
  expect_close(db, nb, 1e-6, 1e-8, "db");
}

}  // namespace
}  // namespace attnscope
