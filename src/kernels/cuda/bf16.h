// bfloat16 as the host sees it: the 16 upper bits of an IEEE float, stored in a uint16_t. The
// device kernels read the same bits as __nv_bfloat16 (same size and layout), so host code that
// fills, uploads or checks bf16 tensors needs no CUDA header.
#pragma once

#include <cstdint>
#include <cstring>

namespace attnscope::cuda {

struct Bf16 {
  uint16_t bits = 0;
};
static_assert(sizeof(Bf16) == 2);

// Round to nearest, ties to even (as __float2bfloat16_rn); NaN stays a (quiet) NaN.
inline Bf16 to_bf16(float f) {
  uint32_t u = 0;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7f800000u) == 0x7f800000u && (u & 0x007fffffu) != 0)
    return Bf16{static_cast<uint16_t>((u >> 16) | 0x0040u)};
  const uint32_t rounding = 0x7fffu + ((u >> 16) & 1u);
  return Bf16{static_cast<uint16_t>((u + rounding) >> 16)};
}

inline float to_float(Bf16 b) {
  const uint32_t u = static_cast<uint32_t>(b.bits) << 16;
  float f = 0;
  std::memcpy(&f, &u, 4);
  return f;
}

// The float nearest to f that bf16 can hold: what a kernel sees after f was stored as bf16.
inline float round_to_bf16(float f) {
  return to_float(to_bf16(f));
}

}  // namespace attnscope::cuda
