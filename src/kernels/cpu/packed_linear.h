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

namespace attnscope::cpu {

inline constexpr int64_t kPackedPanel = 16;  // output columns per panel (AVX-512: one vector)

// W [out, in] packed: panels[p][k][j] = W[p·16 + j][k], zero past `out`.
struct PackedWeight {
  int64_t out = 0, in = 0;
  std::vector<float> panels;  // [⌈out/16⌉ · in · 16]
};

// Packs W [out, in] into p (its storage reused when large enough).
void pack_weight(const float* W, int64_t out, int64_t in, PackedWeight& p);
// y[N, out] = x[N, in] · Wᵀ + b (b [out] or null), W as packed by pack_weight.
void packed_linear_forward(const float* x, const PackedWeight& W, const float* b, float* y,
                           int64_t N);
// The instruction set the kernel dispatches to ("AVX3", "AVX2", …), for reports.
const char* packed_linear_simd_target();

}  // namespace attnscope::cpu
