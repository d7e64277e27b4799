// The reduced-precision packed products (kernels/cpu/quantized_linear.h) against the plain
// reference (kernels/ref/quantized_linear.h) on the SIMD version this CPU runs and on the scalar
// fallback (forced), and against the fp32 product within the error bound of each format: rows
// below, at and above the tile height, output widths around the 16-column panel, inputs that are
// not a multiple of the 2 or 4 values of a lane, with and without a bias, nothing written
// outside y.
#include <gtest/gtest.h>

#include <bit>

#include <cmath>
#include <fstream>
#include <string>
#include <vector>

#include "core/error.h"
#include "grad_check.h"
#include "kernels/cpu/packed_linear.h"
#include "kernels/cpu/quantized_linear.h"
#include "kernels/ref/gemm.h"
#include "kernels/ref/quantized_linear.h"

namespace attnscope {
namespace {

using cpu::WeightFormat;
using test::expect_close;
using test::Guarded;
using test::random_vector;

void reference(WeightFormat f, const std::vector<float>& x, const std::vector<float>& W,
               const float* b, std::vector<float>& y, int64_t N, int64_t in, int64_t out) {
  y.assign(static_cast<size_t>(N * out), 0.0f);
  if (f == WeightFormat::kBf16)
    ref::bf16_linear_forward(x.data(), W.data(), b, y.data(), N, in, out);
  else
    ref::int8_linear_forward(x.data(), W.data(), b, y.data(), N, in, out);
}

// Every shape through the kernel (as currently dispatched) against the reference.
void check_against_reference(WeightFormat f) {
  uint64_t seed = 11;
  for (const int64_t N : {1, 2, 5, 6, 7, 13, 17, 32})
    for (const int64_t out : {1, 15, 16, 17, 64, 65, 200})
      for (const int64_t in : {1, 3, 5, 64, 128, 257}) {
        const auto x = random_vector(N * in, seed++), W = random_vector(out * in, seed++),
                   b = random_vector(out, seed++);
        cpu::QuantizedWeight q;
        cpu::quantize_weight(W.data(), out, in, f, q);
        for (const bool bias : {false, true}) {
          Guarded<float> y(N * out, -99.0f);
          cpu::quantized_linear_forward(x.data(), q, bias ? b.data() : nullptr, y.data(), N);
          std::vector<float> want;
          reference(f, x, W, bias ? b.data() : nullptr, want, N, in, out);
          const std::string what = std::string(cpu::weight_format_name(f)) + " N " +
                                   std::to_string(N) + " out " + std::to_string(out) + " in " +
                                   std::to_string(in) + (bias ? " bias" : "");
          // bf16: fp32 sums of exact products against double sums; int8: exact integer sums.
          const double atol = f == WeightFormat::kBf16 ? 2e-6 * static_cast<double>(in) : 1e-5;
          expect_close(y.values(), want, 1e-5, atol, what);
          y.expect_guards_intact(what);
        }
      }
}

TEST(QuantizedLinear, MatchesReferenceOnTheBestIsaAndOnTheScalarFallback) {
  using cpu::QuantizedIsaLimit;
  for (const WeightFormat f : {WeightFormat::kBf16, WeightFormat::kInt8}) {
    SCOPED_TRACE(cpu::weight_format_name(f));
    for (const QuantizedIsaLimit limit :
         {QuantizedIsaLimit::kBest, QuantizedIsaLimit::kAvx512, QuantizedIsaLimit::kScalar}) {
      cpu::limit_quantized_linear_isa(limit);
      SCOPED_TRACE(cpu::quantized_linear_isa(f));
      if (limit == QuantizedIsaLimit::kScalar) {
        EXPECT_EQ(cpu::quantized_linear_isa(f), "scalar");
      }
      if (limit == QuantizedIsaLimit::kAvx512) {
        EXPECT_EQ(cpu::quantized_linear_isa(f).rfind("amx", 0), std::string::npos);
      }
      check_against_reference(f);
    }
  }
  cpu::limit_quantized_linear_isa(cpu::QuantizedIsaLimit::kBest);
}

// AMX's tiles and AVX512-VNNI sum the same integers, and share the epilogue: the same floats, bit
// for bit, on a decode step's shapes (rows past a tile of 16, inputs a multiple of 64 and not).
TEST(QuantizedLinear, AmxTilesGiveVnnisFloatsExactly) {
  if (cpu::quantized_linear_isa(WeightFormat::kInt8) != "amx-int8")
    GTEST_SKIP() << "no AMX-INT8 here (" << cpu::quantized_linear_isa(WeightFormat::kInt8) << ")";
  uint64_t seed = 41;
  for (const int64_t N : {1, 15, 16, 17, 31, 32, 33, 64, 128})
    for (const int64_t out : {1, 16, 31, 64, 65, 256, 1000})
      for (const int64_t in : {64, 256, 320, 1024, 100}) {
        const auto x = random_vector(N * in, seed++), W = random_vector(out * in, seed++),
                   b = random_vector(out, seed++);
        cpu::QuantizedWeight q;
        cpu::quantize_weight(W.data(), out, in, WeightFormat::kInt8, q);
        Guarded<float> amx(N * out, -99.0f), vnni(N * out, -99.0f);
        cpu::limit_quantized_linear_isa(cpu::QuantizedIsaLimit::kBest);
        cpu::quantized_linear_forward(x.data(), q, b.data(), amx.data(), N);
        cpu::limit_quantized_linear_isa(cpu::QuantizedIsaLimit::kAvx512);
        cpu::quantized_linear_forward(x.data(), q, b.data(), vnni.data(), N);
        const std::string what =
            "N " + std::to_string(N) + " out " + std::to_string(out) + " in " + std::to_string(in);
        for (int64_t i = 0; i < N * out; ++i)
          ASSERT_EQ(std::bit_cast<uint32_t>(amx[i]), std::bit_cast<uint32_t>(vnni[i]))
              << what << " element " << i;
        amx.expect_guards_intact(what);
      }
  cpu::limit_quantized_linear_isa(cpu::QuantizedIsaLimit::kBest);
}

// The CPU's flags as Linux lists them ("avx512_vnni", "avx512_bf16"), empty where unknown.
std::string cpu_flags() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("flags", 0) == 0) return line + " ";
  return {};
}

TEST(QuantizedLinear, ACpuWithVnniBf16OrAmxRunsThoseKernels) {
  const std::string flags = cpu_flags();
  if (flags.empty()) GTEST_SKIP() << "no /proc/cpuinfo";
  const bool avx512 = flags.find(" avx512bw ") != std::string::npos;
  const bool vnni = avx512 && flags.find(" avx512_vnni ") != std::string::npos;
  const bool bf16 = avx512 && flags.find(" avx512_bf16 ") != std::string::npos;
  const bool tiles = flags.find(" amx_tile ") != std::string::npos;
  const bool amx_int8 = vnni && tiles && flags.find(" amx_int8 ") != std::string::npos;
  const bool amx_bf16 = bf16 && tiles && flags.find(" amx_bf16 ") != std::string::npos;
  EXPECT_EQ(cpu::quantized_linear_isa(WeightFormat::kInt8),
            amx_int8 ? "amx-int8" : (vnni ? "avx512-vnni" : "scalar"));
  EXPECT_EQ(cpu::quantized_linear_isa(WeightFormat::kBf16),
            amx_bf16 ? "amx-bf16" : (bf16 ? "avx512-bf16" : "scalar"));
}

// |y − y_fp32| within what each format's rounding allows, per element:
//   bf16: each operand off by ≤ 2⁻⁹ relative, so each product by ≤ 2⁻⁸ (+ the fp32 sum);
//   int8: x off by ≤ s_x/2, W by ≤ s_w/2 per value: Σ_k |x_k| s_w/2 + |W_k| s_x/2 + s_x s_w/4.
TEST(QuantizedLinear, StaysWithinItsErrorBoundOfTheFp32Product) {
  const int64_t N = 9, in = 300, out = 70;
  const auto x = random_vector(N * in, 3, -2.0, 2.0), W = random_vector(out * in, 4, -0.3, 0.3),
             b = random_vector(out, 5);
  std::vector<float> exact(static_cast<size_t>(N * out));
  ref::linear_forward<float>(x.data(), W.data(), b.data(), exact.data(), N, in, out);
  for (const WeightFormat f : {WeightFormat::kBf16, WeightFormat::kInt8}) {
    cpu::QuantizedWeight q;
    cpu::quantize_weight(W.data(), out, in, f, q);
    std::vector<float> y(static_cast<size_t>(N * out));
    cpu::quantized_linear_forward(x.data(), q, b.data(), y.data(), N);
    double worst = 0;
    int64_t bad = 0;
    for (int64_t r = 0; r < N; ++r) {
      const float sx = ref::int8_scale(x.data() + r * in, in);
      for (int64_t c = 0; c < out; ++c) {
        const float sw = ref::int8_scale(W.data() + c * in, in);
        double bound = 1e-5;
        for (int64_t k = 0; k < in; ++k) {
          const double ax = std::fabs(x[r * in + k]), aw = std::fabs(W[c * in + k]);
          bound += f == WeightFormat::kBf16 ? ax * aw * std::ldexp(1.0, -8)
                                            : ax * sw / 2 + aw * sx / 2 + sx * sw / 4.0;
        }
        const double d = std::fabs(y[r * out + c] - exact[r * out + c]);
        worst = std::max(worst, d);
        if (d > bound) ++bad;
      }
    }
    EXPECT_EQ(bad, 0) << cpu::weight_format_name(f) << ": largest |Δ| " << worst;
    // And not vacuous: the rounding shows.
    EXPECT_GT(worst, 0.0) << cpu::weight_format_name(f);
  }
}

TEST(QuantizedLinear, ThroughPackWeightLargeAndThreaded) {
  const int64_t N = 16, in = 96, out = 5000;  // above the threading threshold
  const auto x = random_vector(N * in, 7), W = random_vector(out * in, 8),
             b = random_vector(out, 9);
  for (const WeightFormat f : {WeightFormat::kBf16, WeightFormat::kInt8}) {
    cpu::PackedWeight packed;
    cpu::pack_weight(W.data(), out, in, packed, f);
    EXPECT_TRUE(packed.panels.empty());  // one copy of the weights, in the chosen format
    std::vector<float> y(static_cast<size_t>(N * out)), want;
    cpu::packed_linear_forward(x.data(), packed, b.data(), y.data(), N);
    reference(f, x, W, b.data(), want, N, in, out);
    expect_close(y, want, 1e-5, 2e-4, cpu::weight_format_name(f));
  }
}

TEST(QuantizedLinear, AZeroRowGivesTheBiasAndTooManyInputsAreRefused) {
  const int64_t N = 2, in = 8, out = 3;
  std::vector<float> x(static_cast<size_t>(N * in), 0.0f), W = random_vector(out * in, 1),
                                                           b = {0.5f, -1.0f, 2.0f};
  cpu::QuantizedWeight q;
  cpu::quantize_weight(W.data(), out, in, WeightFormat::kInt8, q);
  std::vector<float> y(static_cast<size_t>(N * out), 7.0f);
  cpu::quantized_linear_forward(x.data(), q, b.data(), y.data(), N);
  for (int64_t r = 0; r < N; ++r)
    for (int64_t c = 0; c < out; ++c) EXPECT_EQ(y[r * out + c], b[c]);
  std::vector<float> wide(70000, 0.5f);
  EXPECT_THROW(cpu::quantize_weight(wide.data(), 1, 70000, WeightFormat::kInt8, q), Error);
  EXPECT_THROW(cpu::quantize_weight(W.data(), out, in, WeightFormat::kF32, q), Error);
}

}  // namespace
}  // namespace attnscope
