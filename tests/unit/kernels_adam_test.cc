// Adam / AdamW: two steps computed by hand with the PyTorch formulas, the float kernel against the
// textbook reference over several steps, and argument checks.
#include <gtest/gtest.h>

#include <vector>

#include "core/error.h"
#include "grad_check.h"
#include "kernels/cpu/adam.h"
#include "kernels/ref/adam.h"

namespace attnscope {
namespace {

using test::expect_close;
using test::Guarded;
using test::random_vector;

cpu::AdamConfig hand_config(bool decoupled) {
  cpu::AdamConfig cfg;
  cfg.lr = 0.1f;
  cfg.beta1 = 0.9f;
  cfg.beta2 = 0.999f;
  cfg.eps = 1e-8f;
  cfg.weight_decay = 0.1f;
  cfg.decoupled = decoupled;
  return cfg;
}

// θ = [1, −2], gradients [0.5, −0.1] then [−0.3, 0.2].
void run_two_steps(bool decoupled, std::vector<float>& p, std::vector<float>& m,
                   std::vector<float>& v, std::vector<std::vector<float>>& after) {
  const std::vector<std::vector<float>> grads = {{0.5f, -0.1f}, {-0.3f, 0.2f}};
  p = {1.0f, -2.0f};
  m = {0.0f, 0.0f};
  v = {0.0f, 0.0f};
  for (int64_t step = 1; step <= 2; ++step) {
    cpu::adam_update(p.data(), grads[step - 1].data(), m.data(), v.data(), 2,
                     hand_config(decoupled), step);
    after.push_back(p);
  }
}

TEST(Adam, HandComputedTwoSteps) {
  // Adam (L2): step 1, θ0: g = 0.5 + 0.1·1 = 0.6, m = 0.06, v = 0.00036, m̂ = 0.6, v̂ = 0.36,
  // θ = 1 − 0.1·0.6/(0.6 + 1e-8) = 0.9. θ1: g = −0.1 − 0.2 = −0.3, θ = −2 + 0.1 = −1.9.
  // Step 2, θ0: g = −0.3 + 0.09 = −0.21, m = 0.054 − 0.021 = 0.033,
  // v = 0.00035964 + 0.0000441 = 0.00040374, m̂ = 0.033/0.19, v̂ = 0.00040374/0.001999
  // → θ = 0.9 − 0.1·0.173684/0.449416 = 0.8613530. θ1 likewise → −1.8355117.
  std::vector<float> p, m, v;
  std::vector<std::vector<float>> after;
  run_two_steps(false, p, m, v, after);
  expect_close(after[0], std::vector<double>{0.9000000017, -1.9000000033}, 1e-6, 1e-7, "step 1");
  expect_close(after[1], std::vector<double>{0.8613529972, -1.8355117308}, 1e-6, 1e-7, "step 2");
  expect_close(m, std::vector<double>{0.033, -0.026}, 1e-5, 1e-8, "m");
  expect_close(v, std::vector<double>{0.00040374, 9.001e-05}, 5e-5, 1e-10, "v");
}

TEST(AdamW, HandComputedTwoSteps) {
  // AdamW: θ *= 1 − lr·wd = 0.99 first, the gradient is untouched. Step 1, θ0: 0.99 − 0.1 = 0.89;
  // θ1: −1.98 + 0.1 = −1.88. Step 2, θ0: g = −0.3, m = 0.045 − 0.03 = 0.015,
  // v = 0.00024975 + 0.00009 = 0.00033975 → θ = 0.8811 − 0.1·(0.015/0.19)/√(0.00033975/0.001999)
  // = 0.8619502. θ1 → −1.8978104.
  std::vector<float> p, m, v;
  std::vector<std::vector<float>> after;
  run_two_steps(true, p, m, v, after);
  expect_close(after[0], std::vector<double>{0.8900000020, -1.8800000100}, 1e-6, 1e-7, "step 1");
  expect_close(after[1], std::vector<double>{0.8619501989, -1.8978103603}, 1e-6, 1e-7, "step 2");
  expect_close(m, std::vector<double>{0.015, 0.011}, 1e-5, 1e-8, "m");
  expect_close(v, std::vector<double>{0.00033975, 4.999e-05}, 5e-5, 1e-10, "v");
}

TEST(Adam, MatchesRefOverSeveralSteps) {
  for (const bool decoupled : {false, true}) {
    const int64_t n = 40001;  // threaded
    cpu::AdamConfig cfg;
    cfg.lr = 3e-3f;
    cfg.weight_decay = 0.05f;
    cfg.decoupled = decoupled;
    Guarded<float> p(random_vector(n, 1)), m(n, 0.0f), v(n, 0.0f);
    auto ep = test::to_double(p.values());
    std::vector<double> em(n, 0.0), ev(n, 0.0);
    for (int64_t step = 1; step <= 5; ++step) {
      const auto g = random_vector(n, 10 + static_cast<uint64_t>(step), -0.1, 0.1);
      cpu::adam_update(p.data(), g.data(), m.data(), v.data(), n, cfg, step);
      const auto gd = test::to_double(g);
      ref::adam_update<double>(ep.data(), gd.data(), em.data(), ev.data(), n, cfg, step);
    }
    const std::string what = decoupled ? "AdamW " : "Adam ";
    expect_close(p.values(), ep, 1e-5, 1e-6, what + "param");
    expect_close(m.values(), em, 1e-4, 1e-7, what + "m");
    expect_close(v.values(), ev, 1e-4, 1e-9, what + "v");
    p.expect_guards_intact("param");
    m.expect_guards_intact("m");
    v.expect_guards_intact("v");
  }
}

TEST(Adam, WithoutWeightDecayAdamAndAdamWAgree) {
  cpu::AdamConfig adam, adamw;
  adamw.decoupled = true;
  auto p1 = random_vector(33, 2), p2 = p1;
  std::vector<float> m1(33), v1(33), m2(33), v2(33);
  for (int64_t step = 1; step <= 3; ++step) {
    const auto g = random_vector(33, 20 + static_cast<uint64_t>(step));
    cpu::adam_update(p1.data(), g.data(), m1.data(), v1.data(), 33, adam, step);
    cpu::adam_update(p2.data(), g.data(), m2.data(), v2.data(), 33, adamw, step);
  }
  expect_close(p1, p2, 0, 0, "param");
}

TEST(Adam, RejectsStepZero) {
  std::vector<float> p(3), g(3), m(3), v(3);
  EXPECT_THROW(cpu::adam_update(p.data(), g.data(), m.data(), v.data(), 3, {}, 0), Error);
}

}  // namespace
}  // namespace attnscope
