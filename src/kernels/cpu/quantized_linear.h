// y[N, out] = x[N, in] · Wᵀ + b with W stored in reduced precision, packed once (as
// packed_linear.h packs fp32 weights for decode steps) into panels of 16 output columns:
//
//   bf16  W rounded to bfloat16, [⌈out/16⌉][⌈in/2⌉][16][2]; x rounded to bfloat16 per call;
//         products summed in fp32 (AVX512-BF16 vdpbf16ps where the CPU has it, AMX tdpbf16ps
//         where the OS allows it too: the same products, summed in another order).
//   int8  W quantized per output channel (symmetric, scale = max |W[c, :]| / 127),
//         [⌈out/16⌉][⌈in/4⌉][16][4]; x quantized per row at each call (the same rule), shifted by
//         128 to unsigned for AVX512-VNNI vpdpbusd (or AMX tdpbusd where the CPU and the OS
//         allow it), the shift taken back with each channel's sum of weights; the dot products
//         are exact in int32, so both give the same floats.
//
// The instruction set is chosen at run time from the CPU's features, with a portable scalar
// version of the same arithmetic everywhere (tests force it). kernels/ref/quantized_linear.h is
// the plain reference.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/huge_page_allocator.h"
#include "kernels/cpu/activation.h"

namespace attnscope::cpu {

enum class WeightFormat { kF32, kBf16, kInt8 };

const char* weight_format_name(WeightFormat f);

struct QuantizedWeight {
  WeightFormat format = WeightFormat::kBf16;
  int64_t out = 0, in = 0;
  int64_t k_groups = 0;  // ⌈in/2⌉ (bf16) or ⌈in/4⌉ (int8): 32-bit lanes per column
  // [⌈out/16⌉][k_groups][16]: 2 bf16 or 4 int8 per lane
  std::vector<uint32_t, HugePageAllocator<uint32_t>> panels;
  std::vector<float> scale;      // int8: [out] per-channel scale
  std::vector<int32_t> col_sum;  // int8: [out] Σ_k q[c, k] (for the unsigned shift)
};

// Packs W [out, in] (fmt: kBf16 or kInt8) into q, its storage reused when large enough.
void quantize_weight(const float* W, int64_t out, int64_t in, WeightFormat fmt, QuantizedWeight& q);
// y[N, out] = x · Wᵀ + b (b [out] or null), then the epilogue on each block of columns as it is
// finished (activation.h).
void quantized_linear_forward(const float* x, const QuantizedWeight& W, const float* b, float* y,
                              int64_t N, const Epilogue& epilogue = {});

// What the kernels run on here: "amx-int8" / "amx-bf16" (Intel AMX tiles, for inputs a multiple
// of 64; AVX-512 for the others), "avx512-vnni" / "avx512-bf16" when the CPU has them, otherwise
// "scalar"; for reports.
std::string quantized_linear_isa(WeightFormat f);
// Tests: the best the CPU has, AVX-512 without AMX, or the scalar version.
enum class QuantizedIsaLimit { kBest, kAvx512, kScalar };
void limit_quantized_linear_isa(QuantizedIsaLimit limit);

}  // namespace attnscope::cpu
