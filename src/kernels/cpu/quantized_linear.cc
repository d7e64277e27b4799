// The reduced-precision packed products of quantized_linear.h. This file is compiled for the
// baseline x86-64 (like packed_linear.cc); the AVX-512 kernels carry their own target attributes
// and run only when cpuid says the CPU (and the OS) has them. Tile: kRows rows × kPanels panels of
// 16 columns, 24 zmm accumulators; per 32-bit group of the input (2 bf16 or 4 int8 values), each
// panel's 64 bytes are loaded once and each row's group is broadcast against them.
#include "kernels/cpu/quantized_linear.h"

#include <algorithm>
#include <atomic>
#include <bit>
#include <cmath>
#include <cstring>

#include "core/error.h"
#include "kernels/ref/quantized_linear.h"

#if defined(__x86_64__) || defined(_M_X64)
#define ATTNSCOPE_QUANT_X86 1
#include <cpuid.h>
#include <immintrin.h>
#include <sys/syscall.h>
#include <unistd.h>
#else
#define ATTNSCOPE_QUANT_X86 0
#endif

namespace attnscope::cpu {

namespace {

constexpr int64_t kPanel = 16;
constexpr int64_t kTileRowsAmx = 16;  // AMX: rows and k-groups of a tile
constexpr int kRows = 6;
constexpr int kPanels = 4;

int64_t lanes_per_group(WeightFormat f) {
  return f == WeightFormat::kInt8 ? 4 : 2;
}

// The call's activations, packed like the weights' groups: [N][k_groups] 32-bit lanes, and for
// int8 the per-row scales. Per thread, reused from call to call (no allocation per step).
struct PackedRows {
  std::vector<uint32_t> x;
  std::vector<float> scale;
};

#if ATTNSCOPE_QUANT_X86
// AVX-512 versions of pack_row's loops (below, with the kernels), for the CPUs that run those.
float abs_max_avx512(const float* v, int64_t n);
void int8_row_avx512(const float* x, int64_t in, float inv, uint8_t* bytes);
void bf16_row_avx512(const float* x, int64_t in, uint16_t* halves);
#endif

// max |v| over a row, as ref::int8_scale's loop finds it (NaN skipped), in 16 running maxima
// so that it vectorises.
float abs_max(const float* v, int64_t n) {
  constexpr int64_t kLanes = 16;
  float lanes[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int64_t k = 0; k < kLanes; ++k) {
      const float a = std::fabs(v[i + k]);
      lanes[k] = a > lanes[k] ? a : lanes[k];
    }
  for (int64_t k = 0; i + k < n; ++k) {
    const float a = std::fabs(v[i + k]);
    lanes[k] = a > lanes[k] ? a : lanes[k];
  }
  float m = 0.0f;
  for (float a : lanes) m = a > m ? a : m;
  return m;
}

// Sizes p for N rows of W's inputs (padded_rows ≥ N of them: the AMX kernels read whole tiles of
// rows; the padding rows hold 0, for int8 q = 0, which is byte 128).
void size_rows(int64_t N, int64_t padded_rows, const QuantizedWeight& W, PackedRows& p) {
  const bool int8 = W.format == WeightFormat::kInt8;
  p.x.resize(static_cast<size_t>(N * W.k_groups));
  p.x.resize(static_cast<size_t>(padded_rows * W.k_groups), int8 ? 0x80808080u : 0u);
  if (int8) p.scale.resize(static_cast<size_t>(N));
}

// Quantizes row r of x [N, W.in] into p (sized by size_rows). simd: the AVX-512 kernels will run
// (so the CPU has AVX512-BW): quantize with them too. A decode step quantizes [rows, 256] for each
// of its products, so the rows are shared out inside the product's parallel region.
void pack_row(const float* x, int64_t r, const QuantizedWeight& W, PackedRows& p, bool simd) {
  const int64_t in = W.in, kg = W.k_groups;
  const bool int8 = W.format == WeightFormat::kInt8;
  // A lane's values in memory order are its inputs in order (lowest byte or half first), so on a
  // little-endian CPU a row is written as a plain array of bytes (int8) or halves (bf16), 16 at a
  // time with AVX-512 (one value at a time, quantizing was 13–14% of an int8 greedy step).
  constexpr bool kLittle = std::endian::native == std::endian::little;
  const float* xr = x + r * in;
  uint32_t* lanes = p.x.data() + r * kg;
  if (!int8) {
    if constexpr (kLittle) {
      auto* halves = reinterpret_cast<uint16_t*>(lanes);
#if ATTNSCOPE_QUANT_X86
      if (simd)
        bf16_row_avx512(xr, in, halves);
      else
#endif
        for (int64_t k = 0; k < in; ++k) halves[k] = ref::bf16_round(xr[k]);
      for (int64_t k = in; k < 2 * kg; ++k) halves[k] = 0;
      return;
    }
    for (int64_t g = 0; g < kg; ++g) {
      const int64_t k = 2 * g;
      const uint32_t lo = ref::bf16_round(xr[k]);
      const uint32_t hi = k + 1 < in ? ref::bf16_round(xr[k + 1]) : 0u;
      lanes[g] = lo | (hi << 16);
    }
    return;
  }
#if ATTNSCOPE_QUANT_X86
  const float m = simd ? abs_max_avx512(xr, in) : abs_max(xr, in);
#else
  const float m = abs_max(xr, in);
#endif
  const float s = m > 0.0f ? m / 127.0f : 1.0f;  // ref::int8_scale
  p.scale[static_cast<size_t>(r)] = s;
  const float inv = 1.0f / s;
  // Unsigned for vpdpbusd: q + 128, byte i of lane g holding input 4g + i (the padding past
  // `in` is 128, i.e. q = 0).
  if constexpr (kLittle) {
    auto* bytes = reinterpret_cast<uint8_t*>(lanes);
#if ATTNSCOPE_QUANT_X86
    if (simd)
      int8_row_avx512(xr, in, inv, bytes);
    else
#endif
      for (int64_t k = 0; k < in; ++k)
        bytes[k] = static_cast<uint8_t>(ref::int8_round(xr[k], inv) + 128);
    for (int64_t k = in; k < 4 * kg; ++k) bytes[k] = 128;
    return;
  }
  for (int64_t g = 0; g < kg; ++g) {
    uint32_t lane = 0;
    for (int64_t i = 0; i < 4; ++i) {
      const int64_t k = 4 * g + i;
      const int32_t q = k < in ? ref::int8_round(xr[k], inv) : 0;
      lane |= static_cast<uint32_t>(q + 128) << (8 * i);
    }
    lanes[g] = lane;
  }
}

// What one group of panels [p0, p0 + np) computes for all N rows; cols = its output columns.
struct Group {
  const uint32_t* panels;  // the group's first panel
  int64_t np, col0, cols;
};

// ---- scalar: the same arithmetic, any CPU ------------------------------------------------------

void scalar_group(const PackedRows& xr, int64_t N, const QuantizedWeight& W, const float* b,
                  float* y, const Group& g) {
  const int64_t kg = W.k_groups, stride = kg * kPanel;
  for (int64_t p = 0; p < g.np; ++p) {
    const uint32_t* panel = g.panels + p * stride;
    const int64_t c0 = g.col0 + p * kPanel, n = std::min(kPanel, W.out - c0);
    for (int64_t r = 0; r < N; ++r) {
      const uint32_t* xs = xr.x.data() + r * kg;
      if (W.format == WeightFormat::kBf16) {
        float acc[kPanel] = {};
        for (int64_t q = 0; q < kg; ++q) {
          const float x0 = ref::bf16_to_float(static_cast<uint16_t>(xs[q] & 0xffffu));
          const float x1 = ref::bf16_to_float(static_cast<uint16_t>(xs[q] >> 16));
          for (int64_t j = 0; j < kPanel; ++j) {
            const uint32_t w = panel[q * kPanel + j];
            acc[j] += x0 * ref::bf16_to_float(static_cast<uint16_t>(w & 0xffffu));
            acc[j] += x1 * ref::bf16_to_float(static_cast<uint16_t>(w >> 16));
          }
        }
        for (int64_t j = 0; j < n; ++j)
          y[r * W.out + c0 + j] = acc[j] + (b != nullptr ? b[c0 + j] : 0.0f);
      } else {
        int32_t acc[kPanel] = {};
        for (int64_t q = 0; q < kg; ++q) {
          const uint32_t xv = xs[q];
          for (int64_t j = 0; j < kPanel; ++j) {
            const uint32_t w = panel[q * kPanel + j];
            int32_t s = 0;
            for (int i = 0; i < 4; ++i)
              s += static_cast<int32_t>((xv >> (8 * i)) & 0xffu) *
                   static_cast<int32_t>(static_cast<int8_t>((w >> (8 * i)) & 0xffu));
            acc[j] += s;
          }
        }
        const float sx = xr.scale[static_cast<size_t>(r)];
        for (int64_t j = 0; j < n; ++j) {
          const int64_t c = c0 + j;
          const float v = static_cast<float>(acc[j] - 128 * W.col_sum[static_cast<size_t>(c)]) *
                          (sx * W.scale[static_cast<size_t>(c)]);
          y[r * W.out + c] = v + (b != nullptr ? b[c] : 0.0f);
        }
      }
    }
  }
}

// ---- AVX-512 ------------------------------------------------------------------------------------

#if ATTNSCOPE_QUANT_X86

// GCC 12 warns that its own intrinsic headers read an uninitialised __Y (the masked loads and
// set1 of avx512fintrin.h): a known false positive there, not in this code.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#define ATTNSCOPE_VNNI __attribute__((target("avx512f,avx512bw,avx512vnni")))
#define ATTNSCOPE_BF16 __attribute__((target("avx512f,avx512bw,avx512bf16")))

__mmask16 column_mask(int64_t n) {
  return n >= kPanel ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << n) - 1u);
}

#define ATTNSCOPE_AVX512BW __attribute__((target("avx512f,avx512bw")))

// max |v|: _mm512_max_ps returns its second operand when either is NaN, so a NaN is skipped, as in
// abs_max.
ATTNSCOPE_AVX512BW float abs_max_avx512(const float* v, int64_t n) {
  __m512 m = _mm512_setzero_ps();
  for (int64_t k = 0; k < n; k += kPanel) {
    const __m512 a = _mm512_abs_ps(_mm512_maskz_loadu_ps(column_mask(n - k), v + k));
    m = _mm512_max_ps(a, m);
  }
  alignas(64) float lanes[kPanel];
  _mm512_store_ps(lanes, m);
  float r = 0.0f;
  for (float a : lanes) r = a > r ? a : r;
  return r;
}

// bytes[k] = ref::int8_round(x[k], inv) + 128, 16 at a time: the same clamp (NaN passes it, as
// std::clamp lets it), the same 1.5·2²³ rounding, the same truncating conversion.
ATTNSCOPE_AVX512BW void int8_row_avx512(const float* x, int64_t in, float inv, uint8_t* bytes) {
  const __m512 scale = _mm512_set1_ps(inv), lo = _mm512_set1_ps(-127.0f),
               hi = _mm512_set1_ps(127.0f), round = _mm512_set1_ps(12582912.0f);
  const __m512i shift = _mm512_set1_epi32(128);
  for (int64_t k = 0; k < in; k += kPanel) {
    const __mmask16 m = column_mask(in - k);
    __m512 c = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + k), scale);
    c = _mm512_min_ps(hi, _mm512_max_ps(lo, c));
    c = _mm512_sub_ps(_mm512_add_ps(c, round), round);
    const __m512i q = _mm512_add_epi32(_mm512_cvttps_epi32(c), shift);
    _mm512_mask_cvtepi32_storeu_epi8(bytes + k, m, q);
  }
}

// halves[k] = ref::bf16_round(x[k]) with integer arithmetic: round to nearest even, a NaN kept
// quiet (vcvtneps2bf16 would flush denormals, which the reference keeps).
ATTNSCOPE_AVX512BW void bf16_row_avx512(const float* x, int64_t in, uint16_t* halves) {
  const __m512i one = _mm512_set1_epi32(1), half = _mm512_set1_epi32(0x7fff),
                abs = _mm512_set1_epi32(0x7fffffff), inf = _mm512_set1_epi32(0x7f800000),
                quiet = _mm512_set1_epi32(0x40);
  for (int64_t k = 0; k < in; k += kPanel) {
    const __mmask16 m = column_mask(in - k);
    const __m512i u = _mm512_castps_si512(_mm512_maskz_loadu_ps(m, x + k));
    const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16), one);
    __m512i r = _mm512_srli_epi32(_mm512_add_epi32(u, _mm512_add_epi32(half, lsb)), 16);
    const __mmask16 nan = _mm512_cmpgt_epu32_mask(_mm512_and_si512(u, abs), inf);
    r = _mm512_mask_mov_epi32(r, nan, _mm512_or_si512(_mm512_srli_epi32(u, 16), quiet));
    _mm512_mask_cvtepi32_storeu_epi16(halves + k, m, r);
  }
}

template <int R, int P>
ATTNSCOPE_VNNI void tile_int8(const uint32_t* x, int64_t kg, const uint32_t* panels,
                              const QuantizedWeight& W, const float* sx, const float* b, float* y,
                              int64_t col0, int64_t cols) {
  const int64_t stride = kg * kPanel;
  __m512i acc[R][P];
  for (int r = 0; r < R; ++r)
    for (int p = 0; p < P; ++p) acc[r][p] = _mm512_setzero_si512();
  for (int64_t q = 0; q < kg; ++q) {
    __m512i w[P];
    for (int p = 0; p < P; ++p) w[p] = _mm512_loadu_si512(panels + p * stride + q * kPanel);
    for (int r = 0; r < R; ++r) {
      const __m512i a = _mm512_set1_epi32(static_cast<int>(x[r * kg + q]));
      for (int p = 0; p < P; ++p) acc[r][p] = _mm512_dpbusd_epi32(acc[r][p], a, w[p]);
    }
  }
  for (int p = 0; p < P; ++p) {
    const int64_t c0 = col0 + p * kPanel, n = std::min(kPanel, cols - p * kPanel);
    if (n <= 0) break;
    const __mmask16 m = column_mask(n);
    const __m512i shift = _mm512_slli_epi32(_mm512_maskz_loadu_epi32(m, W.col_sum.data() + c0), 7);
    const __m512 sc = _mm512_maskz_loadu_ps(m, W.scale.data() + c0);
    const __m512 bias = b != nullptr ? _mm512_maskz_loadu_ps(m, b + c0) : _mm512_setzero_ps();
    for (int r = 0; r < R; ++r) {
      __m512 v = _mm512_cvtepi32_ps(_mm512_sub_epi32(acc[r][p], shift));
      v = _mm512_mul_ps(v, _mm512_mul_ps(_mm512_set1_ps(sx[r]), sc));
      _mm512_mask_storeu_ps(y + r * W.out + c0, m, _mm512_add_ps(v, bias));
    }
  }
}

template <int R, int P>
ATTNSCOPE_BF16 void tile_bf16(const uint32_t* x, int64_t kg, const uint32_t* panels,
                              const QuantizedWeight& W, const float* /*sx*/, const float* b,
                              float* y, int64_t col0, int64_t cols) {
  const int64_t stride = kg * kPanel;
  __m512 acc[R][P];
  for (int r = 0; r < R; ++r)
    for (int p = 0; p < P; ++p) acc[r][p] = _mm512_setzero_ps();
  for (int64_t q = 0; q < kg; ++q) {
    __m512i w[P];
    for (int p = 0; p < P; ++p) w[p] = _mm512_loadu_si512(panels + p * stride + q * kPanel);
    for (int r = 0; r < R; ++r) {
      const __m512i a = _mm512_set1_epi32(static_cast<int>(x[r * kg + q]));
      for (int p = 0; p < P; ++p)
        acc[r][p] = _mm512_dpbf16_ps(acc[r][p], (__m512bh)a, (__m512bh)w[p]);
    }
  }
  for (int p = 0; p < P; ++p) {
    const int64_t c0 = col0 + p * kPanel, n = std::min(kPanel, cols - p * kPanel);
    if (n <= 0) break;
    const __mmask16 m = column_mask(n);
    const __m512 bias = b != nullptr ? _mm512_maskz_loadu_ps(m, b + c0) : _mm512_setzero_ps();
    for (int r = 0; r < R; ++r)
      _mm512_mask_storeu_ps(y + r * W.out + c0, m, _mm512_add_ps(acc[r][p], bias));
  }
}

// All N rows of one group: tiles of kRows rows, then the last rows.
template <bool Int8, int P>
void rows_avx512(const PackedRows& xr, int64_t N, const QuantizedWeight& W, const float* b,
                 float* y, const uint32_t* panels, int64_t col0, int64_t cols) {
  const int64_t kg = W.k_groups;
  const float* sx = Int8 ? xr.scale.data() : nullptr;
  auto tile = [&](auto rows_tag, int64_t r) {
    constexpr int R = decltype(rows_tag)::value;
    const float* s = Int8 ? sx + r : nullptr;
    if constexpr (Int8)
      tile_int8<R, P>(xr.x.data() + r * kg, kg, panels, W, s, b, y + r * W.out, col0, cols);
    else
      tile_bf16<R, P>(xr.x.data() + r * kg, kg, panels, W, s, b, y + r * W.out, col0, cols);
  };
  int64_t r = 0;
  for (; r + kRows <= N; r += kRows) tile(std::integral_constant<int, kRows>{}, r);
  switch (N - r) {
    case 5:
      tile(std::integral_constant<int, 5>{}, r);
      break;
    case 4:
      tile(std::integral_constant<int, 4>{}, r);
      break;
    case 3:
      tile(std::integral_constant<int, 3>{}, r);
      break;
    case 2:
      tile(std::integral_constant<int, 2>{}, r);
      break;
    case 1:
      tile(std::integral_constant<int, 1>{}, r);
      break;
    default:
      break;
  }
}

template <bool Int8>
void avx512_group(const PackedRows& xr, int64_t N, const QuantizedWeight& W, const float* b,
                  float* y, const Group& g) {
  if (g.np == kPanels) {
    rows_avx512<Int8, kPanels>(xr, N, W, b, y, g.panels, g.col0, g.cols);
    return;
  }
  const int64_t stride = W.k_groups * kPanel;
  for (int64_t p = 0; p < g.np; ++p)  // the last group: one panel at a time
    rows_avx512<Int8, 1>(xr, N, W, b, y, g.panels + p * stride, g.col0 + p * kPanel,
                         std::min(kPanel, g.cols - p * kPanel));
}

// ---- AMX ----------------------------------------------------------------------------------------
//
// TDPBUSD multiplies a tile of 16 rows × 64 unsigned bytes (16 rows of x, 16 k-groups) by a tile
// of 16 k-groups × 16 columns of 4 signed bytes into 16 × 16 int32 sums: 16,384 products an
// instruction, against vpdpbusd's 256. A panel's 16 consecutive k-groups are exactly such a B tile
// (rows of 64 bytes, 64 apart), so the VNNI packing serves both. The sums are the same integers
// in any order, and the epilogue is tile_int8's, so AMX gives VNNI's floats bit for bit.
// TDPBF16PS does the same for bf16 pairs into fp32 sums (the products of vdpbf16ps, added in
// another order: equal to rounding). Used when k_groups is a multiple of 16 (in a multiple of 64
// for int8, 32 for bf16: every Transformer width); the rows are padded to a multiple of 16 with
// zeros (int8: byte 128, q = 0), whose sums are never stored.

#define ATTNSCOPE_AMX \
  __attribute__((target("amx-tile,amx-int8,amx-bf16,avx512f,avx512bw,avx512vnni")))

constexpr int64_t kTileRows = kTileRowsAmx;

// Tiles 0–3: C (2 row blocks × 2 panels), 4–5: A (row blocks), 6–7: B (panels); all 16 × 64 bytes.
struct alignas(64) TileConfig {
  uint8_t palette = 1, start_row = 0;
  uint8_t reserved[14] = {};
  uint16_t colsb[16] = {};
  uint8_t rows[16] = {};
};

constexpr TileConfig tile_config() {
  TileConfig c;
  for (int t = 0; t < 8; ++t) {
    c.colsb[t] = 64;
    c.rows[t] = kTileRows;
  }
  return c;
}
// In static storage: GCC 12 does not see that ldtilecfg reads a local object's bytes and drops the
// stores to it (the tiles were then left unconfigured).
constexpr TileConfig kTileConfig = tile_config();

ATTNSCOPE_AMX void amx_configure() {
  _tile_loadconfig(&kTileConfig);
}

// y[rows, cols] of one C tile's sums (16 × 16, as stored), with tile_int8's or tile_bf16's
// epilogue.
template <bool Int8>
ATTNSCOPE_AMX void amx_epilogue(const int32_t* sums, int64_t rows, const QuantizedWeight& W,
                                const float* sx, const float* b, float* y, int64_t c0, int64_t n) {
  const __mmask16 m = column_mask(n);
  if constexpr (!Int8) {  // fp32 sums
    const __m512 bias = b != nullptr ? _mm512_maskz_loadu_ps(m, b + c0) : _mm512_setzero_ps();
    for (int64_t r = 0; r < rows; ++r) {
      const __m512 acc = _mm512_castsi512_ps(_mm512_loadu_si512(sums + r * kPanel));
      _mm512_mask_storeu_ps(y + r * W.out + c0, m, _mm512_add_ps(acc, bias));
    }
    return;
  }
  const __m512i shift = _mm512_slli_epi32(_mm512_maskz_loadu_epi32(m, W.col_sum.data() + c0), 7);
  const __m512 sc = _mm512_maskz_loadu_ps(m, W.scale.data() + c0);
  const __m512 bias = b != nullptr ? _mm512_maskz_loadu_ps(m, b + c0) : _mm512_setzero_ps();
  for (int64_t r = 0; r < rows; ++r) {
    const __m512i acc = _mm512_loadu_si512(sums + r * kPanel);
    __m512 v = _mm512_cvtepi32_ps(_mm512_sub_epi32(acc, shift));
    v = _mm512_mul_ps(v, _mm512_mul_ps(_mm512_set1_ps(sx[r]), sc));
    _mm512_mask_storeu_ps(y + r * W.out + c0, m, _mm512_add_ps(v, bias));
  }
}

// RB row blocks (1 or 2) × PB panels (1 or 2) from row r0 and panel `panel` of the group.
template <bool Int8, int RB, int PB>
ATTNSCOPE_AMX void amx_block(const PackedRows& xr, int64_t N, const QuantizedWeight& W,
                             const float* b, float* y, const Group& g, int64_t r0, int64_t panel) {
  const int64_t kg = W.k_groups, stride = kg * kPanel;
  const auto* x = reinterpret_cast<const uint8_t*>(xr.x.data());
  const int64_t x_stride = kg * 4;  // bytes per row
  const uint32_t* b0 = g.panels + panel * stride;
  _tile_zero(0);
  if constexpr (PB == 2) _tile_zero(1);
  if constexpr (RB == 2) _tile_zero(2);
  if constexpr (RB == 2 && PB == 2) _tile_zero(3);
  for (int64_t q = 0; q < kg; q += kTileRows) {
    _tile_loadd(4, x + r0 * x_stride + q * 4, x_stride);
    _tile_loadd(6, b0 + q * kPanel, 64);
    if constexpr (Int8) {
      _tile_dpbusd(0, 4, 6);
    } else {
      _tile_dpbf16ps(0, 4, 6);
    }
    if constexpr (PB == 2) {
      _tile_loadd(7, b0 + stride + q * kPanel, 64);
      if constexpr (Int8) {
        _tile_dpbusd(1, 4, 7);
      } else {
        _tile_dpbf16ps(1, 4, 7);
      }
    }
    if constexpr (RB == 2) {
      _tile_loadd(5, x + (r0 + kTileRows) * x_stride + q * 4, x_stride);
      if constexpr (Int8) {
        _tile_dpbusd(2, 5, 6);
      } else {
        _tile_dpbf16ps(2, 5, 6);
      }
      if constexpr (PB == 2 && Int8) _tile_dpbusd(3, 5, 7);
      if constexpr (PB == 2 && !Int8) _tile_dpbf16ps(3, 5, 7);
    }
  }
  alignas(64) int32_t sums[4][kTileRows * kPanel];
  _tile_stored(0, sums[0], 64);
  if constexpr (PB == 2) _tile_stored(1, sums[1], 64);
  if constexpr (RB == 2) _tile_stored(2, sums[2], 64);
  if constexpr (RB == 2 && PB == 2) _tile_stored(3, sums[3], 64);
  for (int rb = 0; rb < RB; ++rb) {
    const int64_t r = r0 + rb * kTileRows, rows = std::min(kTileRows, N - r);
    if (rows <= 0) break;
    for (int pb = 0; pb < PB; ++pb) {
      const int64_t c0 = g.col0 + (panel + pb) * kPanel;
      const int64_t n = std::min(kPanel, g.cols - (panel + pb) * kPanel);
      amx_epilogue<Int8>(sums[rb * 2 + pb], rows, W, Int8 ? xr.scale.data() + r : nullptr, b,
                         y + r * W.out, c0, n);
    }
  }
}

// All N rows of one group of panels (rows padded to a multiple of 16 in xr).
template <bool Int8>
ATTNSCOPE_AMX void amx_group(const PackedRows& xr, int64_t N, const QuantizedWeight& W,
                             const float* b, float* y, const Group& g) {
  for (int64_t r0 = 0; r0 < N; r0 += 2 * kTileRows) {
    const bool two_rows = r0 + kTileRows < N;
    for (int64_t p = 0; p < g.np; p += 2) {
      const bool two_panels = p + 1 < g.np;
      if (two_rows && two_panels)
        amx_block<Int8, 2, 2>(xr, N, W, b, y, g, r0, p);
      else if (two_rows)
        amx_block<Int8, 2, 1>(xr, N, W, b, y, g, r0, p);
      else if (two_panels)
        amx_block<Int8, 1, 2>(xr, N, W, b, y, g, r0, p);
      else
        amx_block<Int8, 1, 1>(xr, N, W, b, y, g, r0, p);
    }
  }
}

ATTNSCOPE_AMX void amx_release() {
  _tile_release();
}

// The OS keeps a process's tile data only once asked (Linux ≥ 5.16: arch_prctl).
bool amx_permitted() {
  constexpr int kReqXcompPerm = 0x1023, kXfeatureTileData = 18;
  return syscall(SYS_arch_prctl, kReqXcompPerm, kXfeatureTileData) == 0;
}

struct CpuFeatures {
  bool vnni = false, bf16 = false, amx_int8 = false, amx_bf16 = false;
};

CpuFeatures detect() {
  CpuFeatures f;
  __builtin_cpu_init();
  if (!__builtin_cpu_supports("avx512f") || !__builtin_cpu_supports("avx512bw")) return f;
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (__get_cpuid_count(7, 0, &a, &b, &c, &d)) {
    f.vnni = (c >> 11) & 1u;                                      // AVX512_VNNI
    f.amx_int8 = f.vnni && ((d >> 24) & 1u) && ((d >> 25) & 1u);  // AMX-TILE, AMX-INT8
    f.amx_bf16 = ((d >> 24) & 1u) && ((d >> 22) & 1u);            // AMX-TILE, AMX-BF16
  }
  if (a >= 1 && __get_cpuid_count(7, 1, &a, &b, &c, &d)) f.bf16 = (a >> 5) & 1u;  // AVX512_BF16
  f.amx_bf16 = f.amx_bf16 && f.bf16;  // the bf16 kernels' fallback and epilogue are AVX-512's
  if (f.amx_int8 || f.amx_bf16) {
    const bool permitted = amx_permitted();
    f.amx_int8 = f.amx_int8 && permitted;
    f.amx_bf16 = f.amx_bf16 && permitted;
  }
  return f;
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

#else  // not x86: the scalar version only

struct CpuFeatures {
  bool vnni = false, bf16 = false, amx_int8 = false, amx_bf16 = false;
};
CpuFeatures detect() {
  return {};
}

#endif

const CpuFeatures& features() {
  static const CpuFeatures f = detect();
  return f;
}

std::atomic<QuantizedIsaLimit> g_limit{QuantizedIsaLimit::kBest};

bool use_simd(WeightFormat f) {
  if (g_limit.load(std::memory_order_relaxed) == QuantizedIsaLimit::kScalar) return false;
  return f == WeightFormat::kInt8 ? features().vnni : features().bf16;
}

bool use_amx(const QuantizedWeight& W) {
  const bool has = W.format == WeightFormat::kInt8 ? features().amx_int8 : features().amx_bf16;
  return has && W.k_groups % kTileRowsAmx == 0 &&
         g_limit.load(std::memory_order_relaxed) == QuantizedIsaLimit::kBest;
}

}  // namespace

const char* weight_format_name(WeightFormat f) {
  switch (f) {
    case WeightFormat::kF32:
      return "fp32";
    case WeightFormat::kBf16:
      return "bf16";
    case WeightFormat::kInt8:
      return "int8";
  }
  return "?";
}

void quantize_weight(const float* W, int64_t out, int64_t in, WeightFormat fmt,
                     QuantizedWeight& q) {
  ATTN_CHECK(fmt == WeightFormat::kBf16 || fmt == WeightFormat::kInt8,
             "quantize_weight: {} is not a reduced precision", weight_format_name(fmt));
  ATTN_CHECK(out > 0 && in > 0, "quantize_weight: empty weight [{}, {}]", out, in);
  // int8: Σ_k of 255 · 127 per product stays inside int32 below 66,000 inputs.
  ATTN_CHECK(fmt != WeightFormat::kInt8 || in <= 65536,
             "quantize_weight: {} inputs overflow the int8 kernel's int32 sums", in);
  const int64_t per = lanes_per_group(fmt), kg = (in + per - 1) / per;
  const int64_t num_panels = (out + kPanel - 1) / kPanel;
  q.format = fmt;
  q.out = out;
  q.in = in;
  q.k_groups = kg;
  q.panels.assign(static_cast<size_t>(num_panels * kg * kPanel), 0u);
  if (fmt == WeightFormat::kInt8) {
    q.scale.assign(static_cast<size_t>(out), 0.0f);
    q.col_sum.assign(static_cast<size_t>(out), 0);
  } else {
    q.scale.clear();
    q.col_sum.clear();
  }
#pragma omp parallel for schedule(static) if (out * in > (1 << 18))
  for (int64_t c = 0; c < out; ++c) {
    const float* row = W + c * in;
    uint32_t* lanes = q.panels.data() + (c / kPanel) * kg * kPanel + c % kPanel;
    if (fmt == WeightFormat::kBf16) {
      for (int64_t k = 0; k < in; ++k)
        lanes[(k / 2) * kPanel] |= static_cast<uint32_t>(ref::bf16_round(row[k])) << (16 * (k % 2));
      continue;
    }
    std::vector<int8_t> qs(static_cast<size_t>(in));
    const float s = ref::int8_scale(row, in);
    ref::int8_quantize(row, in, s, qs.data());
    int32_t sum = 0;
    for (int64_t k = 0; k < in; ++k) {
      sum += qs[static_cast<size_t>(k)];
      lanes[(k / 4) * kPanel] |=
          static_cast<uint32_t>(static_cast<uint8_t>(qs[static_cast<size_t>(k)])) << (8 * (k % 4));
    }
    q.scale[static_cast<size_t>(c)] = s;
    q.col_sum[static_cast<size_t>(c)] = sum;
  }
}

void quantized_linear_forward(const float* x, const QuantizedWeight& W, const float* b, float* y,
                              int64_t N, const Epilogue& epilogue) {
  ATTN_CHECK(N >= 0 && W.out > 0 && W.in > 0 && W.format != WeightFormat::kF32,
             "quantized_linear_forward: [{}, {}] · [{}, {}]ᵀ ({})", N, W.in, W.out, W.in,
             weight_format_name(W.format));
  const int64_t num_panels = (W.out + kPanel - 1) / kPanel;
  ATTN_CHECK(static_cast<int64_t>(W.panels.size()) == num_panels * W.k_groups * kPanel,
             "quantized_linear_forward: the weight is not packed");
  if (N == 0) return;
  thread_local PackedRows rows;
  const bool amx = use_amx(W);
  size_rows(N, amx ? (N + kTileRowsAmx - 1) / kTileRowsAmx * kTileRowsAmx : N, W, rows);
  PackedRows& xr = rows;  // the calling thread's, shared with the region's threads
  const bool simd = use_simd(W.format);
  const bool int8 = W.format == WeightFormat::kInt8;
  const int64_t groups = (num_panels + kPanels - 1) / kPanels;
  const int64_t stride = W.k_groups * kPanel;
  // Threads pay from a quarter of a million products on, AMX too: a decode step's [32, 256] ·
  // [256, 1024] is 1 µs of AMX arithmetic, but its weights come from L3 at one core's bandwidth;
  // two cores each read half (int8 W3 +13%, W3b +12% over running products below 2^25 on one).
#pragma omp parallel if (groups > 1 && N * W.out * W.in > (int64_t{1} << 18))
  {
#pragma omp for schedule(static)
    for (int64_t r = 0; r < N; ++r) pack_row(x, r, W, xr, simd);
#if ATTNSCOPE_QUANT_X86
    if (amx) amx_configure();  // per thread: the tile registers are a thread's state
#endif
#pragma omp for schedule(static)
    for (int64_t gi = 0; gi < groups; ++gi) {
      Group g;
      const int64_t p0 = gi * kPanels;
      g.np = std::min<int64_t>(kPanels, num_panels - p0);
      g.col0 = p0 * kPanel;
      g.cols = std::min(g.np * kPanel, W.out - g.col0);
      g.panels = W.panels.data() + p0 * stride;
#if ATTNSCOPE_QUANT_X86
      if (amx) {
        if (int8)
          amx_group<true>(xr, N, W, b, y, g);
        else
          amx_group<false>(xr, N, W, b, y, g);
      } else if (simd) {
        if (int8)
          avx512_group<true>(xr, N, W, b, y, g);
        else
          avx512_group<false>(xr, N, W, b, y, g);
      } else {
        scalar_group(xr, N, W, b, y, g);
      }
#else
      (void)simd;
      (void)int8;
      scalar_group(xr, N, W, b, y, g);
#endif
      if (!epilogue.empty()) apply_epilogue(epilogue, y, N, W.out, g.col0, g.cols);
    }
#if ATTNSCOPE_QUANT_X86
    if (amx) amx_release();
#endif
  }
}

std::string quantized_linear_isa(WeightFormat f) {
  if (f == WeightFormat::kF32) return "fp32";
  if (!use_simd(f)) return "scalar";
  const bool best = g_limit.load(std::memory_order_relaxed) == QuantizedIsaLimit::kBest;
  if (f == WeightFormat::kInt8) return best && features().amx_int8 ? "amx-int8" : "avx512-vnni";
  if (best && features().amx_bf16) return "amx-bf16";
  return "avx512-bf16";
}

void limit_quantized_linear_isa(QuantizedIsaLimit limit) {
  g_limit.store(limit, std::memory_order_relaxed);
}

}  // namespace attnscope::cpu
