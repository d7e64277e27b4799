// Helpers of the device-model tests: the skip without a GPU, the paths of the test data and the
// binary (overridable by the environment, for a bundle run on another machine), models built
// twice with the same weights (one stays on the CPU as the reference, the other goes to the
// device), and the comparisons.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <memory>
#include <string>

#include "core/rng.h"
#include "core/tensor.h"
#include "nn/cuda/cuda_transformer.h"
#include "nn/device.h"
#include "nn/transformer.h"

namespace attnscope::test {

// Skips the test, with the reason, where no usable GPU is.
#define ATTN_REQUIRE_GPU()                                    \
  do {                                                        \
    std::string attn_why_;                                    \
    if (!::attnscope::cuda_device_usable(&attn_why_))         \
      GTEST_SKIP() << "no usable CUDA device: " << attn_why_; \
  } while (0)

// tests/data: $ATTNSCOPE_TEST_DATA when set, else the source tree's.
inline std::string test_data() {
  const char* env = std::getenv("ATTNSCOPE_TEST_DATA");
  return env != nullptr && *env != '\0' ? env : ATTNSCOPE_TEST_DATA;
}

// A Transformer of `cfg` with seeded random weights: Xavier matrices, and biases and norms moved
// off their zero / one start so that every parameter matters.
inline std::unique_ptr<Transformer> random_model(const ModelConfig& cfg, uint64_t seed) {
  auto m = std::make_unique<Transformer>(cfg);
  m->init_weights(seed);
  Rng rng(seed + 1000);
  m->visit_params([&](Param& p) {
    if (p.value.rank() == 1)
      for (int64_t i = 0; i < p.value.numel(); ++i) p.value[i] += rng.uniform(-0.2f, 0.2f);
  });
  return m;
}

inline DeviceOptions cuda_options(Precision p) {
  DeviceOptions o;
  o.device = Device::kCuda;
  o.precision = p;
  return o;
}

// ‖a − b‖₂ / ‖b‖₂ (b the reference); NaN anywhere gives NaN, which fails every ≤ check.
inline double relative_error(const Tensor& a, const Tensor& b) {
  EXPECT_EQ(a.shape(), b.shape());
  if (a.shape() != b.shape()) return std::nan("");
  double num = 0, den = 0;
  for (int64_t i = 0; i < a.numel(); ++i) {
    const double x = a[i], y = b[i];
    if (std::isnan(x) || std::isnan(y)) return std::nan("");
    num += (x - y) * (x - y);
    den += y * y;
  }
  return den > 0 ? std::sqrt(num / den) : std::sqrt(num);
}

inline double max_abs_diff(const Tensor& a, const Tensor& b) {
  EXPECT_EQ(a.shape(), b.shape());
  if (a.shape() != b.shape()) return std::nan("");
  double m = 0;
  for (int64_t i = 0; i < a.numel(); ++i) {
    const double d = std::abs(static_cast<double>(a[i]) - b[i]);
    if (std::isnan(d)) return d;
    m = std::max(m, d);
  }
  return m;
}

// Tolerances of the device model against the CPU model (‖·‖-relative): fp32 is the CPU's
// arithmetic up to summation order; bf16 rounds weights and activations to 8 bits of mantissa.
inline double logits_tolerance(Precision p) {
  return p == Precision::kF32 ? 1e-4 : 5e-2;
}
// The largest difference of one attention weight.
inline double map_tolerance(Precision p) {
  return p == Precision::kF32 ? 1e-4 : 0.1;
}

}  // namespace attnscope::test
