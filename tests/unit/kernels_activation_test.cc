// Pointwise kernels: ReLU, exact GELU, tanh GELU and SiLU forward/backward against the reference
// and known values, finite differences of the reference gradients, and add_bias / add / axpy.
#include <gtest/gtest.h>

#include <vector>

#include "grad_check.h"
#include "kernels/cpu/activation.h"
#include "kernels/ref/activation.h"

namespace attnscope {
namespace cpu {
// ctest lists the case by its name (found by argument-dependent lookup, hence this namespace).
const char* name_of(Activation a) {
  switch (a) {
    case Activation::kRelu:
      return "Relu";
    case Activation::kGelu:
      return "Gelu";
    case Activation::kGeluTanh:
      return "GeluTanh";
    case Activation::kSilu:
      return "Silu";
  }
  return "?";
}
void PrintTo(Activation a, std::ostream* os) {
  *os << name_of(a);
}
}  // namespace cpu
namespace {

using cpu::Activation;
using test::expect_close;
using test::Guarded;
using test::random_vector;

class ActivationTest : public ::testing::TestWithParam<Activation> {};

TEST_P(ActivationTest, ForwardMatchesRef) {
  for (const int64_t n : {int64_t{13}, int64_t{40001}}) {  // the larger one runs threaded
    const auto x = random_vector(n, 1, -4.0, 4.0);
    Guarded<float> y(n, -99.0f);
    cpu::activation_forward(GetParam(), x.data(), y.data(), n);
    std::vector<double> expected(n);
    const auto xd = test::to_double(x);
    ref::activation_forward<double>(GetParam(), xd.data(), expected.data(), n);
    expect_close(y.values(), expected, 1e-6, 1e-7, "y");
    y.expect_guards_intact("y");
  }
}

TEST_P(ActivationTest, ForwardInPlace) {
  auto x = random_vector(31, 2, -3.0, 3.0);
  std::vector<float> y(x.size());
  cpu::activation_forward(GetParam(), x.data(), y.data(), 31);
  cpu::activation_forward(GetParam(), x.data(), x.data(), 31);
  expect_close(x, y, 0, 0, "in place");
}

TEST_P(ActivationTest, BackwardAccumulatesLikeRef) {
  for (const int64_t n : {int64_t{13}, int64_t{40001}}) {
    const auto x = random_vector(n, 3, -4.0, 4.0), dy = random_vector(n, 4);
    Guarded<float> dx(random_vector(n, 5));
    auto expected = test::to_double(dx.values());
    cpu::activation_backward(GetParam(), x.data(), dy.data(), dx.data(), n);
    const auto xd = test::to_double(x), dyd = test::to_double(dy);
    ref::activation_backward<double>(GetParam(), xd.data(), dyd.data(), expected.data(), n);
    expect_close(dx.values(), expected, 1e-5, 1e-6, "dx");
    dx.expect_guards_intact("dx");
  }
}

TEST_P(ActivationTest, RefGradientMatchesFiniteDifferences) {
  const int64_t n = 17;
  const auto x = random_vector<double>(n, 6, -3.0, 3.0), w = random_vector<double>(n, 7);
  auto loss = [&](const std::vector<double>& xx) {
    std::vector<double> y(n);
    ref::activation_forward<double>(GetParam(), xx.data(), y.data(), n);
    return test::dot(y, w);
  };
  std::vector<double> dx(n, 0.0);
  ref::activation_backward<double>(GetParam(), x.data(), w.data(), dx.data(), n);
  expect_close(dx, test::numeric_gradient(loss, x), 1e-6, 1e-9, "dx");
}

INSTANTIATE_TEST_SUITE_P(All, ActivationTest,
                         ::testing::Values(Activation::kRelu, Activation::kGelu,
                                           Activation::kGeluTanh, Activation::kSilu),
                         [](const auto& p) { return std::string(cpu::name_of(p.param)); });

TEST(Activation, KnownValues) {
  // GELU(x) = x·Φ(x): Φ(1) = 0.841344746068543, Φ(−2) = 0.0227501319481792.
  const std::vector<float> x = {-2.0f, -1.0f, 0.0f, 1.0f, 3.0f};
  std::vector<float> gelu(5), relu(5);
  cpu::activation_forward(Activation::kGelu, x.data(), gelu.data(), 5);
  cpu::activation_forward(Activation::kRelu, x.data(), relu.data(), 5);
  expect_close(gelu,
               std::vector<double>{-2 * 0.0227501319481792, -(1 - 0.841344746068543), 0.0,
                                   0.841344746068543, 3 * 0.998650101968370},
               1e-6, 1e-7, "gelu");
  expect_close(relu, std::vector<float>{0, 0, 0, 1, 3}, 0, 0, "relu");
  // GELU'(0) = 1/2; ReLU' is 0 at and below 0.
  std::vector<float> dgelu(5, 0.0f), drelu(5, 0.0f);
  const std::vector<float> ones(5, 1.0f);
  cpu::activation_backward(Activation::kGelu, x.data(), ones.data(), dgelu.data(), 5);
  cpu::activation_backward(Activation::kRelu, x.data(), ones.data(), drelu.data(), 5);
  EXPECT_NEAR(dgelu[2], 0.5, 1e-7);
  expect_close(drelu, std::vector<float>{0, 0, 0, 1, 1}, 0, 0, "relu'");
}

TEST(Activation, SiluAndTanhGeluKnownValues) {
  // SiLU(x) = x·σ(x): σ(1) = 0.731058578630005, σ(−2) = 0.119202922022118; SiLU'(0) = 1/2.
  // tanh GELU(1) = 0.5·(1 + tanh(√(2/π)·1.044715)) = 0.8411919906..., GELU_tanh'(0) = 1/2.
  const std::vector<float> x = {-2.0f, 0.0f, 1.0f, 30.0f, -30.0f};
  std::vector<float> silu(5), gelu_tanh(5);
  cpu::activation_forward(Activation::kSilu, x.data(), silu.data(), 5);
  cpu::activation_forward(Activation::kGeluTanh, x.data(), gelu_tanh.data(), 5);
  expect_close(silu,
               std::vector<double>{-2 * 0.119202922022118, 0.0, 0.731058578630005, 30.0,
                                   -30.0 * 9.357622968839299e-14},
               1e-6, 1e-12, "silu");
  EXPECT_NEAR(gelu_tanh[2], 0.8411919906082768, 1e-7);
  EXPECT_NEAR(gelu_tanh[1], 0.0, 0.0);
  EXPECT_NEAR(gelu_tanh[3], 30.0, 1e-5);
  EXPECT_NEAR(gelu_tanh[4], 0.0, 1e-7);
  std::vector<float> dsilu(5, 0.0f), dgelu(5, 0.0f);
  const std::vector<float> ones(5, 1.0f);
  cpu::activation_backward(Activation::kSilu, x.data(), ones.data(), dsilu.data(), 5);
  cpu::activation_backward(Activation::kGeluTanh, x.data(), ones.data(), dgelu.data(), 5);
  EXPECT_NEAR(dsilu[1], 0.5, 1e-7);
  EXPECT_NEAR(dgelu[1], 0.5, 1e-7);
  EXPECT_NEAR(dsilu[3], 1.0, 1e-6);  // far right: the identity
}

TEST(Activation, AddBiasMatchesRef) {
  for (const auto& [rows, n] : {std::pair<int64_t, int64_t>{7, 13}, {301, 129}}) {
    Guarded<float> y(random_vector(rows * n, 8));
    const auto b = random_vector(n, 9);
    auto expected = y.values();
    cpu::add_bias(y.data(), b.data(), rows, n);
    ref::add_bias<float>(expected.data(), b.data(), rows, n);
    expect_close(y.values(), expected, 0, 0, "y");
    y.expect_guards_intact("y");
  }
}

TEST(Activation, AddAndAxpyMatchRef) {
  for (const int64_t n : {int64_t{13}, int64_t{40001}}) {
    const auto a = random_vector(n, 10), b = random_vector(n, 11);
    Guarded<float> y(n, -99.0f);
    cpu::add(a.data(), b.data(), y.data(), n);
    std::vector<float> expected(n);
    ref::add<float>(a.data(), b.data(), expected.data(), n);
    expect_close(y.values(), expected, 0, 0, "add");
    y.expect_guards_intact("add");

    Guarded<float> z(random_vector(n, 12));
    auto ez = z.values();
    cpu::axpy(-0.75f, a.data(), z.data(), n);
    ref::axpy<float>(-0.75f, a.data(), ez.data(), n);
    expect_close(z.values(), ez, 1e-6, 1e-7, "axpy");
    z.expect_guards_intact("axpy");
  }
  // add may write over an input (a residual update y = y + x).
  auto y = random_vector(9, 13);
  const auto x = random_vector(9, 14);
  std::vector<float> expected(9);
  ref::add<float>(y.data(), x.data(), expected.data(), 9);
  cpu::add(y.data(), x.data(), y.data(), 9);
  expect_close(y, expected, 0, 0, "add in place");
}

}  // namespace
}  // namespace attnscope
