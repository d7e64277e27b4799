// The packed-weight product of packed_linear.h, written once with Highway and compiled by
// foreach_target.h for every x86 target (this file is built for the baseline x86-64, as
// attention_tiles.cc). Tile: kRows rows × kPanels panels of 16 columns; per input k, the panels'
// 16·kPanels weights are loaded once and each row's x[r, k] is broadcast against them, so
// kRows · kPanels · 16/lanes accumulators stay in registers.
// clang-format off
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/cpu/packed_linear.cc"
#include <hwy/foreach_target.h>  // must come before highway.h
#include <hwy/highway.h>
// clang-format on

#include <algorithm>
#include <cstring>

#include "kernels/cpu/packed_linear.h"

HWY_BEFORE_NAMESPACE();
namespace attnscope::cpu {
namespace HWY_NAMESPACE {

namespace hn = hwy::HWY_NAMESPACE;
using D = hn::ScalableTag<float>;
using V = hn::Vec<D>;

#if HWY_TARGET <= HWY_AVX3  // 32 vector registers: 6 rows × 4 panels = 24 accumulators
constexpr int kRows = 6;
constexpr int kPanels = 4;
#else  // 16 registers (AVX2: 2 vectors a panel; SSE4: 4): 12 accumulators or fewer
constexpr int kRows = 6;
constexpr int kPanels = 1;
#endif

// Vectors per panel of 16 floats on this target (1 on AVX-512, 2 on AVX2, 4 on SSE4), at most 16
// (the scalar fallback has one lane).
template <class Tag>
constexpr int VectorsPerPanel(Tag d) {
  return static_cast<int>(kPackedPanel / static_cast<int64_t>(hn::MaxLanes(d)));
}

// rows × panels tile: y[r, cols of the panels] = x[r, :] · panels + b, for R ≤ kRows rows.
template <int R, int P>
HWY_INLINE void Tile(const float* x, int64_t in, const float* panels, int64_t panel_stride,
                     const float* b, float* y, int64_t ldy, int64_t cols) {
  const D d;
  constexpr int NV = VectorsPerPanel(D());
  const size_t N = hn::Lanes(d);
  V acc[R][P * NV];
  for (int r = 0; r < R; ++r)
    for (int v = 0; v < P * NV; ++v) acc[r][v] = hn::Zero(d);
  for (int64_t k = 0; k < in; ++k) {
    V w[P * NV];
    for (int p = 0; p < P; ++p)
      for (int v = 0; v < NV; ++v)
        w[p * NV + v] = hn::LoadU(d, panels + p * panel_stride + k * kPackedPanel + v * N);
    for (int r = 0; r < R; ++r) {
      const V a = hn::Set(d, x[r * in + k]);
      for (int v = 0; v < P * NV; ++v) acc[r][v] = hn::MulAdd(a, w[v], acc[r][v]);
    }
  }
  // Out: whole panels straight into y (with b); a last partial panel through a buffer.
  HWY_ALIGN float buf[kPackedPanel * kPanels];
  for (int r = 0; r < R; ++r) {
    float* out = y + r * ldy;
    const bool whole = cols == P * kPackedPanel;
    float* dst = whole ? out : buf;
    for (int v = 0; v < P * NV; ++v) hn::StoreU(acc[r][v], d, dst + v * N);
    if (!whole) std::memcpy(out, buf, static_cast<size_t>(cols) * sizeof(float));
    if (b != nullptr)
      for (int64_t c = 0; c < cols; ++c) out[c] += b[c];
  }
}

template <int P>
HWY_INLINE void Rows(const float* x, int64_t N, int64_t in, const float* panels,
                     int64_t panel_stride, const float* b, float* y, int64_t ldy, int64_t cols) {
  int64_t r = 0;
  for (; r + kRows <= N; r += kRows)
    Tile<kRows, P>(x + r * in, in, panels, panel_stride, b, y + r * ldy, ldy, cols);
  switch (N - r) {  // the last rows, fewer than kRows
    case 5:
      Tile<5, P>(x + r * in, in, panels, panel_stride, b, y + r * ldy, ldy, cols);
      break;
    case 4:
      Tile<4, P>(x + r * in, in, panels, panel_stride, b, y + r * ldy, ldy, cols);
      break;
    case 3:
      Tile<3, P>(x + r * in, in, panels, panel_stride, b, y + r * ldy, ldy, cols);
      break;
    case 2:
      Tile<2, P>(x + r * in, in, panels, panel_stride, b, y + r * ldy, ldy, cols);
      break;
    case 1:
      Tile<1, P>(x + r * in, in, panels, panel_stride, b, y + r * ldy, ldy, cols);
      break;
    default:
      break;
  }
}

void PackedLinearForward(const float* x, const float* panels, int64_t out, int64_t in,
                         const float* b, float* y, int64_t N, const Epilogue* epilogue) {
  const int64_t num_panels = (out + kPackedPanel - 1) / kPackedPanel;
  const int64_t groups = (num_panels + kPanels - 1) / kPanels;
  const int64_t panel_stride = in * kPackedPanel;
  // Each group of panels is read from memory once, then from cache for the other row tiles.
#pragma omp parallel for schedule(static) if (groups > 1 && N * out * in > (1 << 18))
  for (int64_t g = 0; g < groups; ++g) {
    const int64_t p0 = g * kPanels, np = std::min<int64_t>(kPanels, num_panels - p0);
    const int64_t col0 = p0 * kPackedPanel, cols = std::min(np * kPackedPanel, out - col0);
    const float* gp = panels + p0 * panel_stride;
    const float* gb = b != nullptr ? b + col0 : nullptr;
    if (np == kPanels) {
      Rows<kPanels>(x, N, in, gp, panel_stride, gb, y + col0, out, cols);
    } else {
      for (int64_t p = 0; p < np; ++p) {  // the last group: one panel at a time
        const int64_t c0 = p * kPackedPanel, c = std::min(kPackedPanel, cols - c0);
        Rows<1>(x, N, in, gp + p * panel_stride, panel_stride, gb != nullptr ? gb + c0 : nullptr,
                y + col0 + c0, out, c);
      }
    }
    if (epilogue != nullptr) apply_epilogue(*epilogue, y, N, out, col0, cols);
  }
}

const char* PackedLinearTarget() {
  return hwy::TargetName(HWY_TARGET);
}

}  // namespace HWY_NAMESPACE
}  // namespace attnscope::cpu
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include "core/error.h"

namespace attnscope::cpu {

HWY_EXPORT(PackedLinearForward);
HWY_EXPORT(PackedLinearTarget);

void pack_weight(const float* W, int64_t out, int64_t in, PackedWeight& p, WeightFormat format) {
  ATTN_CHECK(out > 0 && in > 0, "pack_weight: empty weight [{}, {}]", out, in);
  const int64_t num_panels = (out + kPackedPanel - 1) / kPackedPanel;
  p.out = out;
  p.in = in;
  p.format = format;
  if (format != WeightFormat::kF32) {
    p.panels = decltype(p.panels){};  // one copy of the weights at a time
    quantize_weight(W, out, in, format, p.q);
    return;
  }
  p.q = QuantizedWeight{};
  p.panels.assign(static_cast<size_t>(num_panels * in * kPackedPanel), 0.0f);
#pragma omp parallel for schedule(static) if (out * in > (1 << 18))
  for (int64_t q = 0; q < num_panels; ++q) {
    float* panel = p.panels.data() + q * in * kPackedPanel;  // [in][16]
    const int64_t j_end = std::min(kPackedPanel, out - q * kPackedPanel);
    for (int64_t j = 0; j < j_end; ++j) {
      const float* row = W + (q * kPackedPanel + j) * in;
      for (int64_t k = 0; k < in; ++k) panel[k * kPackedPanel + j] = row[k];
    }
  }
}

void packed_linear_forward(const float* x, const PackedWeight& W, const float* b, float* y,
                           int64_t N, const Epilogue& epilogue) {
  ATTN_CHECK(N >= 0 && W.out > 0 && W.in > 0, "packed_linear_forward: [{}, {}] · [{}, {}]ᵀ", N,
             W.in, W.out, W.in);
  if (W.format != WeightFormat::kF32) {
    quantized_linear_forward(x, W.q, b, y, N, epilogue);
    return;
  }
  ATTN_CHECK(static_cast<int64_t>(W.panels.size()) ==
                 (W.out + kPackedPanel - 1) / kPackedPanel * W.in * kPackedPanel,
             "packed_linear_forward: the weight is not packed");
  if (N == 0) return;
  HWY_DYNAMIC_DISPATCH(PackedLinearForward)
  (x, W.panels.data(), W.out, W.in, b, y, N, epilogue.empty() ? nullptr : &epilogue);
}

const char* packed_linear_simd_target() {
  return HWY_DYNAMIC_DISPATCH(PackedLinearTarget)();
}

}  // namespace attnscope::cpu
#endif  // HWY_ONCE
