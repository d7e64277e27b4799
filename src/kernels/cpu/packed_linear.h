// y[N, out] = x[N, in] · Wᵀ + b for few rows N and a large W that stays the same over many calls:
// a decoder's output layer (a Marian model's [58101, 512] table) fed one position of each beam
// per step. cblas_sgemm packs W into its panel layout on every call — for a few rows that copy
// costs as much as the product, and W is read three times per call (read, written packed, read
// again). Here W is packed once (pack_weight, when decoding starts) into panels of 16 output
// columns, [⌈out/16⌉][in][16], and each call streams the panels once: register-blocked tiles of
// rows × panels with Highway's SIMD (compiled for every x86 target, the best chosen at run time,
// like attention_tiles.cc). OpenMP over groups of panels.
#pragma once

#include <cstdint>
#include <vector>

#include "core/huge_page_allocator.h"
#include "kernels/cpu/activation.h"
#include "kernels/cpu/quantized_linear.h"

namespace attnscope::cpu {

inline constexpr int64_t kPackedPanel = 16;  // output columns per panel (AVX-512: one vector)

// W [out, in] packed: panels[p][k][j] = W[p·16 + j][k], zero past `out` (fp32); or, in reduced
// precision (bf16, int8: quantized_linear.h), q.
struct PackedWeight {
  int64_t out = 0, in = 0;
  WeightFormat format = WeightFormat::kF32;
  std::vector<float, HugePageAllocator<float>> panels;  // fp32: [⌈out/16⌉ · in · 16]
  QuantizedWeight q;                                    // bf16, int8
};

// Packs W [out, in] into p in the given format (its storage reused when large enough).
void pack_weight(const float* W, int64_t out, int64_t in, PackedWeight& p,
                 WeightFormat format = WeightFormat::kF32);
// y[N, out] = x[N, in] · Wᵀ + b (b [out] or null), W as packed by pack_weight (in its format),
// then the epilogue on each block of columns as it is finished (activation.h).
void packed_linear_forward(const float* x, const PackedWeight& W, const float* b, float* y,
                           int64_t N, const Epilogue& epilogue = {});
// The instruction set the kernel dispatches to ("AVX3", "AVX2", …), for reports.
const char* packed_linear_simd_target();

}  // namespace attnscope::cpu
