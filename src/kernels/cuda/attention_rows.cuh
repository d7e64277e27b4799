// The general attention path (attention.h, path kRows): fp32 arithmetic on fp32 or bf16 inputs,
// any head dim up to 256. Included by attention.cu only.
//
// One warp per (query row, key chunk): the row's q (times scale·log2 e) sits in shared memory;
// the warp takes 32 keys at a time, one key per lane (a dot product over d), then updates the
// row's running max m and sum l and adds the keys' weighted values to its output, each lane
// owning the output columns lane, lane + 32, … (so the V rows are read coalesced). Keys whose
// weight is 0 (masked) are skipped. With several chunks per row (split-K, for few rows and many
// keys: a decoder step against a long cache), each chunk writes its unnormalised (o, m, l) and a
// second kernel merges them: M = max m_s, L = Σ l_s·2^(m_s − M), out = Σ o_s·2^(m_s − M) / L.
// The weights kernel recomputes each score with the same dot product, so the weights match the
// lse the forward wrote.
#pragma once

#include <cuda_bf16.h>

#include <cstdint>

#include "kernels/cuda/attention_flash.cuh"
#include "kernels/cuda/device_common.cuh"
#include "kernels/cuda/mma.cuh"

namespace attnscope::cuda::detail {

constexpr int kRowsWarps = 4;      // warps (rows or chunks) per block
constexpr int kRowsMaxChunks = 8;  // output columns per lane: d ≤ 256
constexpr int kRowsMaxDim = 32 * kRowsMaxChunks;

struct RowsParams {
  const void* q;
  const void* k;
  const void* v;
  void* out;
  float* lse;
  int64_t q_bs, q_hs, q_rs, k_bs, k_hs, k_rs, v_bs, v_hs, v_rs, o_bs, o_hs, o_rs;
  int H, Tq, Tk, d;
  int causal;
  int64_t causal_offset;
  const uint8_t* pad;
  float scale_log2;
  int splits;      // key chunks per row
  int chunk;       // keys per chunk (a multiple of 32)
  int64_t items;   // B·H·Tq·splits warps of work
  float* part_o;   // [B·H·Tq·splits, d] when splits > 1
  float* part_ml;  // [B·H·Tq·splits, 2]
};

struct RowsWeightsParams {
  const void* q;
  const void* k;
  const float* lse;
  int64_t q_bs, q_hs, q_rs, k_bs, k_hs, k_rs;
  int H, Tq, Tk, d;
  int causal;
  int64_t causal_offset;
  const uint8_t* pad;
  float scale_log2;
  const int32_t* pairs;
  int64_t n_pairs;
  int q_begin, q_end;
  float* out;
  int64_t pair_stride, row_stride;
};

// Σ_c sq[c] · k[c] over c < d; kVec: d and the row start allow 16-byte loads.
template <typename T, bool kVec>
__device__ __forceinline__ float row_dot(const float* sq, const T* k, int d) {
  float acc = 0.0f;
  if constexpr (kVec) {
    constexpr int kPer = 16 / sizeof(T);
    for (int c = 0; c < d; c += kPer) {
      const uint4 raw = *reinterpret_cast<const uint4*>(k + c);
      if constexpr (sizeof(T) == 4) {
        const float4 f = *reinterpret_cast<const float4*>(&raw);
        acc += sq[c] * f.x;
        acc += sq[c + 1] * f.y;
        acc += sq[c + 2] * f.z;
        acc += sq[c + 3] * f.w;
      } else {
        const __nv_bfloat162* h2 = reinterpret_cast<const __nv_bfloat162*>(&raw);
#pragma unroll
        for (int i = 0; i < 4; ++i) {
          const float2 f = __bfloat1622float2(h2[i]);
          acc += sq[c + 2 * i] * f.x;
          acc += sq[c + 2 * i + 1] * f.y;
        }
      }
    }
  } else {
    for (int c = 0; c < d; ++c) acc += sq[c] * to_f32(k[c]);
  }
  return acc;
}

// This warp's q row, scaled to log2 units, into sq[0, d).
template <typename T>
__device__ __forceinline__ void load_scaled_q(float* sq, const T* q, int d, float scale_log2,
                                              int lane) {
  for (int c = lane; c < d; c += 32) sq[c] = to_f32(q[c]) * scale_log2;
  __syncwarp();
}

template <typename T, bool kVec>
__global__ void __launch_bounds__(32 * kRowsWarps) attention_rows_kernel(const RowsParams p) {
  extern __shared__ float rows_smem[];  // [kRowsWarps, d]
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int64_t item = static_cast<int64_t>(blockIdx.x) * kRowsWarps + warp;
  if (item >= p.items) return;  // the whole warp; no block-wide barrier follows
  const int split = static_cast<int>(item % p.splits);
  const int64_t row_id = item / p.splits;  // (b·H + h)·Tq + i
  const int i = static_cast<int>(row_id % p.Tq);
  const int64_t bh = row_id / p.Tq;
  const int b = static_cast<int>(bh / p.H), h = static_cast<int>(bh % p.H);
  const T* q = static_cast<const T*>(p.q) + b * p.q_bs + h * p.q_hs + i * p.q_rs;
  const T* kb = static_cast<const T*>(p.k) + b * p.k_bs + h * p.k_hs;
  const T* vb = static_cast<const T*>(p.v) + b * p.v_bs + h * p.v_hs;
  const uint8_t* pad_row = p.pad ? p.pad + static_cast<int64_t>(b) * p.Tk : nullptr;
  float* sq = rows_smem + warp * p.d;
  load_scaled_q(sq, q, p.d, p.scale_log2, lane);

  const int k_lo = split * p.chunk;
  int k_hi = min(p.Tk, k_lo + p.chunk);
  if (p.causal) {
    const int64_t lim = static_cast<int64_t>(i) + p.causal_offset + 1;  // keys < lim are visible
    if (lim < k_hi) k_hi = static_cast<int>(lim < 0 ? 0 : lim);
  }
  float m = kNegInfF, l = 0.0f;
  float o[kRowsMaxChunks];
#pragma unroll
  for (int u = 0; u < kRowsMaxChunks; ++u) o[u] = 0.0f;

  for (int j0 = k_lo; j0 < k_hi; j0 += 32) {
    const int j = j0 + lane;
    float s = kNegInfF;
    if (j < k_hi && (pad_row == nullptr || pad_row[j] == 0))
      s = row_dot<T, kVec>(sq, kb + j * p.k_rs, p.d);
    const float m_new = fmaxf(m, warp_max(s));
    if (m_new == kNegInfF) continue;  // nothing visible yet (the whole warp agrees)
    const float alpha = ex2(m - m_new);
    const float pj = ex2(s - m_new);
    l = l * alpha + pj;
#pragma unroll
    for (int u = 0; u < kRowsMaxChunks; ++u) o[u] *= alpha;
    const int n = min(32, k_hi - j0);
    for (int t = 0; t < n; ++t) {
      const float pt = __shfl_sync(0xffffffffu, pj, t);
      if (pt == 0.0f) continue;  // masked key (the whole warp agrees)
      const T* vr = vb + (j0 + t) * p.v_rs;
#pragma unroll
      for (int u = 0; u < kRowsMaxChunks; ++u) {
        const int c = lane + 32 * u;
        if (c < p.d) o[u] += pt * to_f32(vr[c]);
      }
    }
    m = m_new;
  }
  l = warp_sum(l);

  if (p.splits == 1) {
    T* out = static_cast<T*>(p.out) + b * p.o_bs + h * p.o_hs + i * p.o_rs;
    const float inv = l > 0.0f ? 1.0f / l : 0.0f;
#pragma unroll
    for (int u = 0; u < kRowsMaxChunks; ++u) {
      const int c = lane + 32 * u;
      if (c < p.d) out[c] = from_f32<T>(o[u] * inv);
    }
    if (p.lse != nullptr && lane == 0) p.lse[row_id] = l > 0.0f ? (m + log2f(l)) * kLn2 : kNegInfF;
  } else {
    float* po = p.part_o + item * p.d;
#pragma unroll
    for (int u = 0; u < kRowsMaxChunks; ++u) {
      const int c = lane + 32 * u;
      if (c < p.d) po[c] = o[u];
    }
    if (lane == 0) {
      p.part_ml[2 * item] = m;
      p.part_ml[2 * item + 1] = l;
    }
  }
}

// Merges the splits of each row (one warp per row).
template <typename T>
__global__ void __launch_bounds__(32 * kRowsWarps) attention_combine_kernel(const RowsParams p) {
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int64_t row_id = static_cast<int64_t>(blockIdx.x) * kRowsWarps + warp;
  if (row_id >= p.items / p.splits) return;
  const int i = static_cast<int>(row_id % p.Tq);
  const int64_t bh = row_id / p.Tq;
  const int b = static_cast<int>(bh / p.H), h = static_cast<int>(bh % p.H);
  const int64_t first = row_id * p.splits;
  float M = kNegInfF;
  for (int s = 0; s < p.splits; ++s) M = fmaxf(M, p.part_ml[2 * (first + s)]);
  float L = 0.0f;
  float o[kRowsMaxChunks];
#pragma unroll
  for (int u = 0; u < kRowsMaxChunks; ++u) o[u] = 0.0f;
  if (M != kNegInfF) {
    for (int s = 0; s < p.splits; ++s) {
      const float ms = p.part_ml[2 * (first + s)];
      if (ms == kNegInfF) continue;  // a chunk that saw nothing
      const float w = ex2(ms - M);
      L += p.part_ml[2 * (first + s) + 1] * w;
      const float* po = p.part_o + (first + s) * p.d;
#pragma unroll
      for (int u = 0; u < kRowsMaxChunks; ++u) {
        const int c = lane + 32 * u;
        if (c < p.d) o[u] += po[c] * w;
      }
    }
  }
  T* out = static_cast<T*>(p.out) + b * p.o_bs + h * p.o_hs + i * p.o_rs;
  const float inv = L > 0.0f ? 1.0f / L : 0.0f;
#pragma unroll
  for (int u = 0; u < kRowsMaxChunks; ++u) {
    const int c = lane + 32 * u;
    if (c < p.d) out[c] = from_f32<T>(o[u] * inv);
  }
  if (p.lse != nullptr && lane == 0) p.lse[row_id] = L > 0.0f ? (M + log2f(L)) * kLn2 : kNegInfF;
}

// One warp per (pair, query row): every key's weight, lanes over the keys (coalesced stores).
template <typename T, bool kVec>
__global__ void __launch_bounds__(32 * kRowsWarps)
    attention_rows_weights_kernel(const RowsWeightsParams p) {
  extern __shared__ float rows_smem[];
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int64_t rows = p.q_end - p.q_begin;
  const int64_t w = static_cast<int64_t>(blockIdx.x) * kRowsWarps + warp;
  if (w >= p.n_pairs * rows) return;
  const int64_t pi = w / rows;
  const int i = p.q_begin + static_cast<int>(w % rows);
  const int pair = p.pairs != nullptr ? p.pairs[pi] : static_cast<int>(pi);
  const int b = pair / p.H, h = pair % p.H;
  const T* q = static_cast<const T*>(p.q) + b * p.q_bs + h * p.q_hs + i * p.q_rs;
  const T* kb = static_cast<const T*>(p.k) + b * p.k_bs + h * p.k_hs;
  const uint8_t* pad_row = p.pad ? p.pad + static_cast<int64_t>(b) * p.Tk : nullptr;
  float* sq = rows_smem + warp * p.d;
  load_scaled_q(sq, q, p.d, p.scale_log2, lane);
  const float lse = p.lse[static_cast<int64_t>(pair) * p.Tq + i];
  const bool dead = lse == kNegInfF;
  const float lse2 = dead ? 0.0f : lse * kLog2e;
  int k_hi = p.Tk;
  if (p.causal) {
    const int64_t lim = static_cast<int64_t>(i) + p.causal_offset + 1;
    if (lim < k_hi) k_hi = static_cast<int>(lim < 0 ? 0 : lim);
  }
  float* orow = p.out + pi * p.pair_stride + static_cast<int64_t>(i - p.q_begin) * p.row_stride;
  for (int j = lane; j < p.Tk; j += 32) {
    float wj = 0.0f;
    if (!dead && j < k_hi && (pad_row == nullptr || pad_row[j] == 0))
      wj = ex2(row_dot<T, kVec>(sq, kb + j * p.k_rs, p.d) - lse2);
    orow[j] = wj;
  }
}

}  // namespace attnscope::cuda::detail
