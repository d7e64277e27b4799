// The front of the device attention (attention.h): argument checks, the choice of path, launch
// geometry (split-K for the rows path) and the launches of attention_flash.cuh and
// attention_rows.cuh.
#include <cuda_bf16.h>

#include <cstdint>

#include "kernels/cuda/attention.h"
#include "kernels/cuda/attention_flash.cuh"
#include "kernels/cuda/attention_rows.cuh"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/device_buffer.h"

namespace attnscope::cuda {

namespace {

using detail::FlashParams;
using detail::FlashTile;
using detail::FlashWeightsParams;
using detail::RowsParams;
using detail::RowsWeightsParams;

constexpr int64_t kMaxLen = INT32_MAX;  // sequence lengths and pair counts stay within int

bool aligned(const void* p, int64_t bytes) {
  return reinterpret_cast<uintptr_t>(p) % static_cast<uintptr_t>(bytes) == 0;
}
// Every row start of the view is a multiple of `bytes`.
bool rows_aligned(const DeviceHeads& v, int64_t elem, int64_t bytes) {
  return aligned(v.data, bytes) && (v.batch_stride * elem) % bytes == 0 &&
         (v.head_stride * elem) % bytes == 0 && (v.row_stride * elem) % bytes == 0;
}

void check_shape(const DeviceAttentionShape& s, const char* fn) {
  ATTN_CUDA_REQUIRE(s.B >= 0 && s.H >= 0 && s.Tq >= 0 && s.Tk >= 0 && s.d >= 0,
                    fn << ": negative shape B=" << s.B << " H=" << s.H << " Tq=" << s.Tq
                       << " Tk=" << s.Tk << " d=" << s.d);
  ATTN_CUDA_REQUIRE(
      s.Tq <= kMaxLen && s.Tk <= kMaxLen && s.B * s.H <= kMaxLen,
      fn << ": Tq=" << s.Tq << ", Tk=" << s.Tk << " or B·H=" << s.B * s.H << " exceeds 2^31 − 1");
  ATTN_CUDA_REQUIRE(s.d >= 1 && s.d <= detail::kRowsMaxDim,
                    fn << ": head dim " << s.d << " is outside [1, " << detail::kRowsMaxDim << "]");
  ATTN_CUDA_REQUIRE(s.causal_offset > -kMaxLen && s.causal_offset < kMaxLen,
                    fn << ": causal_offset " << s.causal_offset << " is out of range");
}

void check_view(const DeviceHeads& v, int64_t T, const DeviceAttentionShape& s, const char* fn,
                const char* name) {
  ATTN_CUDA_REQUIRE(v.data != nullptr, fn << ": " << name << " is null");
  ATTN_CUDA_REQUIRE(T <= 1 || v.row_stride >= s.d, fn << ": " << name << " row stride "
                                                      << v.row_stride << " < head dim " << s.d
                                                      << " (rows would overlap)");
  ATTN_CUDA_REQUIRE(v.batch_stride >= 0 && v.head_stride >= 0 && v.row_stride >= 0,
                    fn << ": " << name << " has a negative stride");
}

// The tensor-core path applies: bf16, d 64 or 128, 16-byte rows, grid limits.
bool flash_applies(const DeviceAttentionShape& s, const DeviceHeads* views, int n_views) {
  if (s.type != DType::kBF16 || (s.d != 64 && s.d != 128)) return false;
  if (s.B > 65535 || s.H > 65535) return false;
  for (int i = 0; i < n_views; ++i)
    if (!rows_aligned(views[i], 2, 16)) return false;
  return true;
}

// The rows path may read K rows with 16-byte loads.
bool rows_vector_loads(const DeviceAttentionShape& s, const DeviceHeads& k) {
  const int64_t elem = static_cast<int64_t>(dtype_size(s.type));
  return (s.d * elem) % 16 == 0 && rows_aligned(k, elem, 16);
}

template <int D>
void launch_flash_forward(const FlashParams& p, int64_t B, int64_t H, int64_t Tq,
                          cudaStream_t stream) {
  using Tile = FlashTile<D>;
  ATTN_CUDA_CHECK(cudaFuncSetAttribute(detail::flash_forward_kernel<D>,
                                       cudaFuncAttributeMaxDynamicSharedMemorySize,
                                       Tile::kSmemForward));
  const dim3 grid(static_cast<unsigned>((Tq + Tile::kBM - 1) / Tile::kBM), static_cast<unsigned>(H),
                  static_cast<unsigned>(B));
  detail::flash_forward_kernel<D><<<grid, Tile::kThreads, Tile::kSmemForward, stream>>>(p);
  ATTN_CUDA_CHECK_LAUNCH("flash_forward_kernel");
}

template <int D>
void launch_flash_weights(FlashWeightsParams p, int64_t rows, int64_t n_pairs,
                          cudaStream_t stream) {
  using Tile = FlashTile<D>;
  ATTN_CUDA_CHECK(cudaFuncSetAttribute(detail::flash_weights_kernel<D>,
                                       cudaFuncAttributeMaxDynamicSharedMemorySize,
                                       Tile::kSmemWeights));
  const auto bx = static_cast<unsigned>((rows + Tile::kBM - 1) / Tile::kBM);
  for (int64_t base = 0; base < n_pairs; base += 65535) {  // grid.y is at most 65535
    const int64_t n = n_pairs - base < 65535 ? n_pairs - base : 65535;
    p.pair_base = static_cast<int>(base);
    detail::flash_weights_kernel<D>
        <<<dim3(bx, static_cast<unsigned>(n)), Tile::kThreads, Tile::kSmemWeights, stream>>>(p);
    ATTN_CUDA_CHECK_LAUNCH("flash_weights_kernel");
  }
}

template <typename T>
void launch_rows(const RowsParams& p, bool vec, cudaStream_t stream) {
  const int64_t blocks = (p.items + detail::kRowsWarps - 1) / detail::kRowsWarps;
  ATTN_CUDA_REQUIRE(blocks <= INT32_MAX, "attention: " << p.items << " rows exceed one launch");
  const size_t smem = static_cast<size_t>(detail::kRowsWarps) * p.d * sizeof(float);
  const auto grid = static_cast<unsigned>(blocks);
  if (vec)
    detail::attention_rows_kernel<T, true><<<grid, 32 * detail::kRowsWarps, smem, stream>>>(p);
  else
    detail::attention_rows_kernel<T, false><<<grid, 32 * detail::kRowsWarps, smem, stream>>>(p);
  ATTN_CUDA_CHECK_LAUNCH("attention_rows_kernel");
  if (p.splits > 1) {
    const int64_t rows = p.items / p.splits;
    const auto cgrid = static_cast<unsigned>((rows + detail::kRowsWarps - 1) / detail::kRowsWarps);
    detail::attention_combine_kernel<T><<<cgrid, 32 * detail::kRowsWarps, 0, stream>>>(p);
    ATTN_CUDA_CHECK_LAUNCH("attention_combine_kernel");
  }
}

template <typename T>
void launch_rows_weights(const RowsWeightsParams& p, bool vec, cudaStream_t stream) {
  const int64_t warps = p.n_pairs * (p.q_end - p.q_begin);
  const int64_t blocks = (warps + detail::kRowsWarps - 1) / detail::kRowsWarps;
  ATTN_CUDA_REQUIRE(blocks <= INT32_MAX,
                    "attention_weights: " << warps << " rows exceed one launch");
  const size_t smem = static_cast<size_t>(detail::kRowsWarps) * p.d * sizeof(float);
  const auto grid = static_cast<unsigned>(blocks);
  if (vec)
    detail::attention_rows_weights_kernel<T, true>
        <<<grid, 32 * detail::kRowsWarps, smem, stream>>>(p);
  else
    detail::attention_rows_weights_kernel<T, false>
        <<<grid, 32 * detail::kRowsWarps, smem, stream>>>(p);
  ATTN_CUDA_CHECK_LAUNCH("attention_rows_weights_kernel");
}

}  // namespace

AttentionPath attention_path(const AttentionForwardArgs& a) {
  const DeviceHeads views[4] = {a.q, a.k, a.v, a.out};
  return flash_applies(a.shape, views, 4) && a.shape.Tq >= kFlashMinRows ? AttentionPath::kFlash
                                                                         : AttentionPath::kRows;
}

void attention_forward(const AttentionForwardArgs& a, DeviceAllocator& alloc, cudaStream_t stream) {
  const DeviceAttentionShape& s = a.shape;
  constexpr const char* fn = "attention_forward";
  check_shape(s, fn);
  if (s.B == 0 || s.H == 0 || s.Tq == 0) return;
  check_view(a.q, s.Tq, s, fn, "q");
  check_view(a.out, s.Tq, s, fn, "out");
  if (s.Tk > 0) {
    check_view(a.k, s.Tk, s, fn, "k");
    check_view(a.v, s.Tk, s, fn, "v");
  }
  const DeviceHeads views[4] = {a.q, a.k, a.v, a.out};
  AttentionPath path = a.path;
  if (path == AttentionPath::kAuto) path = attention_path(a);
  ATTN_CUDA_REQUIRE(path != AttentionPath::kFlash || flash_applies(s, views, 4),
                    fn << ": the tensor-core path needs bf16, head dim 64 or 128 and 16-byte "
                          "aligned rows (got "
                       << dtype_name(s.type) << ", d=" << s.d << ")");
  const float scale_log2 = s.scale * detail::kLog2e;

  if (path == AttentionPath::kFlash) {
    FlashParams p{};
    p.q = static_cast<const __nv_bfloat16*>(a.q.data);
    p.k = static_cast<const __nv_bfloat16*>(a.k.data);
    p.v = static_cast<const __nv_bfloat16*>(a.v.data);
    p.out = static_cast<__nv_bfloat16*>(a.out.data);
    p.lse = a.lse;
    p.q_bs = a.q.batch_stride, p.q_hs = a.q.head_stride, p.q_rs = a.q.row_stride;
    p.k_bs = a.k.batch_stride, p.k_hs = a.k.head_stride, p.k_rs = a.k.row_stride;
    p.v_bs = a.v.batch_stride, p.v_hs = a.v.head_stride, p.v_rs = a.v.row_stride;
    p.o_bs = a.out.batch_stride, p.o_hs = a.out.head_stride, p.o_rs = a.out.row_stride;
    p.H = static_cast<int>(s.H), p.Tq = static_cast<int>(s.Tq), p.Tk = static_cast<int>(s.Tk);
    p.causal = s.causal ? 1 : 0;
    p.causal_offset = s.causal_offset;
    p.pad = s.key_padding;
    p.scale_log2 = scale_log2;
    if (s.d == 64)
      launch_flash_forward<64>(p, s.B, s.H, s.Tq, stream);
    else
      launch_flash_forward<128>(p, s.B, s.H, s.Tq, stream);
    return;
  }

  RowsParams p{};
  p.q = a.q.data, p.k = a.k.data, p.v = a.v.data, p.out = a.out.data, p.lse = a.lse;
  p.q_bs = a.q.batch_stride, p.q_hs = a.q.head_stride, p.q_rs = a.q.row_stride;
  p.k_bs = a.k.batch_stride, p.k_hs = a.k.head_stride, p.k_rs = a.k.row_stride;
  p.v_bs = a.v.batch_stride, p.v_hs = a.v.head_stride, p.v_rs = a.v.row_stride;
  p.o_bs = a.out.batch_stride, p.o_hs = a.out.head_stride, p.o_rs = a.out.row_stride;
  p.H = static_cast<int>(s.H), p.Tq = static_cast<int>(s.Tq), p.Tk = static_cast<int>(s.Tk);
  p.d = static_cast<int>(s.d);
  p.causal = s.causal ? 1 : 0;
  p.causal_offset = s.causal_offset;
  p.pad = s.key_padding;
  p.scale_log2 = scale_log2;
  // Split-K: enough warps to fill the GPU (about 48 per multiprocessor), chunks of at least 64
  // keys, whole warps of keys per chunk.
  const int64_t rows = s.B * s.H * s.Tq;
  const int64_t target = static_cast<int64_t>(current_device_info().sm_count) * 48;
  int64_t splits = (target + rows - 1) / rows;
  const int64_t max_splits = (s.Tk + 63) / 64;
  if (splits > max_splits) splits = max_splits;
  if (splits < 1) splits = 1;
  int64_t chunk = (s.Tk + splits - 1) / splits;
  chunk = (chunk + 31) / 32 * 32;
  if (chunk < 32) chunk = 32;
  splits = (s.Tk + chunk - 1) / chunk;
  if (splits < 1) splits = 1;
  p.splits = static_cast<int>(splits);
  p.chunk = static_cast<int>(chunk);
  p.items = rows * splits;
  DeviceBuffer<float> part_o, part_ml;
  if (splits > 1) {
    part_o = DeviceBuffer<float>(alloc, static_cast<size_t>(p.items * s.d), stream);
    part_ml = DeviceBuffer<float>(alloc, static_cast<size_t>(p.items * 2), stream);
    p.part_o = part_o.data();
    p.part_ml = part_ml.data();
  }
  const bool vec = rows_vector_loads(s, a.k);
  if (s.type == DType::kF32)
    launch_rows<float>(p, vec, stream);
  else
    launch_rows<__nv_bfloat16>(p, vec, stream);
  // part_o and part_ml go back to the allocator as used on `stream`: later work there is ordered
  // after these kernels.
}

void attention_weights(const AttentionWeightsArgs& a, cudaStream_t stream) {
  const DeviceAttentionShape& s = a.shape;
  constexpr const char* fn = "attention_weights";
  check_shape(s, fn);
  ATTN_CUDA_REQUIRE(0 <= a.q_begin && a.q_begin <= a.q_end && a.q_end <= s.Tq,
                    fn << ": query rows [" << a.q_begin << ", " << a.q_end
                       << ") are not within [0, " << s.Tq << ")");
  ATTN_CUDA_REQUIRE(a.n_pairs >= 0 && a.n_pairs <= kMaxLen,
                    fn << ": n_pairs " << a.n_pairs << " is out of range");
  ATTN_CUDA_REQUIRE(
      a.pairs != nullptr || a.n_pairs == s.B * s.H,
      fn << ": without a pair list n_pairs must be B·H = " << s.B * s.H << ", not " << a.n_pairs);
  const int64_t rows = a.q_end - a.q_begin;
  if (a.n_pairs == 0 || rows == 0 || s.Tk == 0) return;
  ATTN_CUDA_REQUIRE(a.out != nullptr && a.lse != nullptr, fn << ": out or lse is null");
  ATTN_CUDA_REQUIRE(rows == 1 || a.row_stride >= s.Tk,
                    fn << ": row stride " << a.row_stride << " < Tk " << s.Tk);
  ATTN_CUDA_REQUIRE(a.n_pairs == 1 || a.pair_stride >= (rows - 1) * a.row_stride + s.Tk,
                    fn << ": pair stride " << a.pair_stride << " is too small for " << rows
                       << " rows of stride " << a.row_stride);
  check_view(a.q, s.Tq, s, fn, "q");
  check_view(a.k, s.Tk, s, fn, "k");
  const DeviceHeads views[2] = {a.q, a.k};
  AttentionPath path = a.path;
  if (path == AttentionPath::kAuto)
    path = flash_applies(s, views, 2) && s.Tq >= kFlashMinRows ? AttentionPath::kFlash
                                                               : AttentionPath::kRows;
  ATTN_CUDA_REQUIRE(path != AttentionPath::kFlash || flash_applies(s, views, 2),
                    fn << ": the tensor-core path needs bf16, head dim 64 or 128 and 16-byte "
                          "aligned rows (got "
                       << dtype_name(s.type) << ", d=" << s.d << ")");
  const float scale_log2 = s.scale * detail::kLog2e;

  if (path == AttentionPath::kFlash) {
    FlashWeightsParams p{};
    p.q = static_cast<const __nv_bfloat16*>(a.q.data);
    p.k = static_cast<const __nv_bfloat16*>(a.k.data);
    p.lse = a.lse;
    p.q_bs = a.q.batch_stride, p.q_hs = a.q.head_stride, p.q_rs = a.q.row_stride;
    p.k_bs = a.k.batch_stride, p.k_hs = a.k.head_stride, p.k_rs = a.k.row_stride;
    p.H = static_cast<int>(s.H), p.Tq = static_cast<int>(s.Tq), p.Tk = static_cast<int>(s.Tk);
    p.causal = s.causal ? 1 : 0;
    p.causal_offset = s.causal_offset;
    p.pad = s.key_padding;
    p.scale_log2 = scale_log2;
    p.pairs = a.pairs;
    p.q_begin = static_cast<int>(a.q_begin), p.q_end = static_cast<int>(a.q_end);
    p.out = a.out;
    p.pair_stride = a.pair_stride, p.row_stride = a.row_stride;
    p.vec2 = aligned(a.out, 8) && a.row_stride % 2 == 0 && a.pair_stride % 2 == 0 ? 1 : 0;
    if (s.d == 64)
      launch_flash_weights<64>(p, rows, a.n_pairs, stream);
    else
      launch_flash_weights<128>(p, rows, a.n_pairs, stream);
    return;
  }

  RowsWeightsParams p{};
  p.q = a.q.data, p.k = a.k.data, p.lse = a.lse;
  p.q_bs = a.q.batch_stride, p.q_hs = a.q.head_stride, p.q_rs = a.q.row_stride;
  p.k_bs = a.k.batch_stride, p.k_hs = a.k.head_stride, p.k_rs = a.k.row_stride;
  p.H = static_cast<int>(s.H), p.Tq = static_cast<int>(s.Tq), p.Tk = static_cast<int>(s.Tk);
  p.d = static_cast<int>(s.d);
  p.causal = s.causal ? 1 : 0;
  p.causal_offset = s.causal_offset;
  p.pad = s.key_padding;
  p.scale_log2 = scale_log2;
  p.pairs = a.pairs;
  p.n_pairs = a.n_pairs;
  p.q_begin = static_cast<int>(a.q_begin), p.q_end = static_cast<int>(a.q_end);
  p.out = a.out;
  p.pair_stride = a.pair_stride, p.row_stride = a.row_stride;
  const bool vec = rows_vector_loads(s, a.k);
  if (s.type == DType::kF32)
    launch_rows_weights<float>(p, vec, stream);
  else
    launch_rows_weights<__nv_bfloat16>(p, vec, stream);
}

}  // namespace attnscope::cuda
