// The tensor-core attention (attention.h, path kFlash): FlashAttention-2's forward for bf16 and
// head dims 64 and 128, and the exact-weights kernel that recomputes the scores from the forward's
// log-sum-exp. Included by attention.cu only.
//
// Forward, one block per (128 query rows, head, batch), 8 warps, each warp owning 16 query rows:
//   Q [128, D] → shared memory → registers (A fragments) once;
//   for each tile of 64 keys (K and V double-buffered in shared memory by cp.async, the next tile
//   loading while this one is computed):
//     S [16, 64] = Q·Kᵀ (fp32, 8 m16n8 tiles per warp), scaled by scale·log2(e);
//     masked cells (beyond Tk, key padding, causal) set to −∞ only on tiles that can have any;
//     online softmax per row: m_new = max(m, rowmax S), α = 2^(m − m_new), P = 2^(S − m_new),
//     l = α·l + Σ P, O = α·O — with m_new = −∞ (nothing visible yet) giving P = 0 and α = 0;
//     O [16, D] += P·V, P packed to bf16 straight from the S registers (the C fragments of two
//     adjacent n-tiles are exactly the A fragment of one k16 step).
//   out = O / l (0 when l = 0), staged through shared memory for 16-byte stores;
//   lse = ln 2 · (m + log2 l) (−∞ when l = 0).
// Tiles no row of the block can see are never loaded: keys past the last causal position of the
// block's last row, and keys past the last unpadded key of the sequence. Blocks run from the last
// query block to the first, so under the causal mask the longest ones start first.
// Shared memory rows are padded by 16 bytes (pitch D + 8 elements): the 8 row addresses of each
// ldmatrix then fall in 8 different 16-byte bank groups (no conflicts).
#pragma once

#include <cuda_bf16.h>

#include <cstdint>
#include <limits>

#include "kernels/cuda/mma.cuh"

namespace attnscope::cuda::detail {

constexpr float kLog2e = 1.4426950408889634f;
constexpr float kLn2 = 0.6931471805599453f;
constexpr float kNegInfF = -std::numeric_limits<float>::infinity();

template <int D>
struct FlashTile {
  static_assert(D == 64 || D == 128, "the tensor-core attention supports head dims 64 and 128");
  static constexpr int kWarps = 8;
  static constexpr int kThreads = 32 * kWarps;
  static constexpr int kBM = 16 * kWarps;  // query rows per block
  static constexpr int kBN = 64;           // keys per tile
  static constexpr int kPitch = D + 8;     // shared-memory row pitch, elements
  static constexpr int kQElems = kBM * kPitch;
  static constexpr int kKVElems = kBN * kPitch;
  // Q | K[2] | V[2] | mask[2] (forward); Q | K[2] | mask[2] (weights)
  static constexpr int kSmemForward = (kQElems + 4 * kKVElems) * 2 + 2 * kBN;
  static constexpr int kSmemWeights = (kQElems + 2 * kKVElems) * 2 + 2 * kBN;
  static constexpr int kMinBlocks = D == 64 ? 2 : 1;  // for __launch_bounds__
};

struct FlashParams {
  const __nv_bfloat16* q;
  const __nv_bfloat16* k;
  const __nv_bfloat16* v;
  __nv_bfloat16* out;
  float* lse;  // [B, H, Tq] or null
  int64_t q_bs, q_hs, q_rs, k_bs, k_hs, k_rs, v_bs, v_hs, v_rs, o_bs, o_hs, o_rs;
  int H, Tq, Tk;
  int causal;
  int64_t causal_offset;
  const uint8_t* pad;  // [B, Tk] or null
  float scale_log2;    // scale · log2(e)
};

struct FlashWeightsParams {
  const __nv_bfloat16* q;
  const __nv_bfloat16* k;
  const float* lse;
  int64_t q_bs, q_hs, q_rs, k_bs, k_hs, k_rs;
  int H, Tq, Tk;
  int causal;
  int64_t causal_offset;
  const uint8_t* pad;
  float scale_log2;
  const int32_t* pairs;  // or null: pair p is p
  int pair_base;         // launches cover pairs [pair_base, pair_base + gridDim.y)
  int q_begin, q_end;
  float* out;
  int64_t pair_stride, row_stride;
  int vec2;  // out, pair_stride and row_stride allow 8-byte stores of two weights
};

// Rows [row0, row0 + ROWS) of a [T, D] matrix (row stride rs) → a shared tile [ROWS, D + 8];
// rows ≥ T are zero-filled (so V rows past Tk contribute 0 · 0, never garbage · 0).
template <int D, int ROWS, int THREADS>
__device__ __forceinline__ void load_rows_async(__nv_bfloat16* tile, const __nv_bfloat16* src,
                                                int64_t rs, int row0, int T, int tid) {
  constexpr int kChunks = D / 8;  // 16-byte chunks per row
  static_assert((ROWS * kChunks) % THREADS == 0, "tile chunks must divide among the threads");
#pragma unroll
  for (int it = 0; it < ROWS * kChunks / THREADS; ++it) {
    const int c = it * THREADS + tid;
    const int r = c / kChunks, col = (c % kChunks) * 8;
    const int row = row0 + r;
    const bool valid = row < T;
    const __nv_bfloat16* g = valid ? src + row * rs + col : src;
    cp_async_16(smem_addr(tile + r * (D + 8) + col), g, valid);
  }
}

// mask[j] = 1 for key j0 + j hidden from every query (past Tk or padding), else 0.
template <int BN>
__device__ __forceinline__ void load_key_mask(uint8_t* mask, const uint8_t* pad_row, int j0, int Tk,
                                              int tid) {
  if (tid < BN) {
    const int key = j0 + tid;
    mask[tid] = key >= Tk ? 1 : (pad_row != nullptr && pad_row[key] != 0 ? 1 : 0);
  }
}

// S [16 rows of this warp, 64 keys] = Q·Kᵀ: s[nt][·] is the m16n8 C fragment of keys 8nt..8nt+7.
template <int D>
__device__ __forceinline__ void score_tile(float (&s)[8][4], const uint32_t (&qf)[D / 16][4],
                                           const __nv_bfloat16* ktile, int lane) {
#pragma unroll
  for (int nt = 0; nt < 8; ++nt)
#pragma unroll
    for (int e = 0; e < 4; ++e) s[nt][e] = 0.0f;
#pragma unroll
  for (int kk = 0; kk < D / 16; ++kk) {
#pragma unroll
    for (int np = 0; np < 4; ++np) {
      // matrices: (keys 16np..+7, dims 16kk..+7), (same keys, dims +8), (keys +8, dims 16kk..),
      // (keys +8, dims +8) → b0, b1 of key tile 2np, then b0, b1 of key tile 2np + 1
      const int key = np * 16 + (lane & 7) + ((lane >> 4) << 3);
      const int dim = kk * 16 + (((lane >> 3) & 1) << 3);
      uint32_t b[4];
      ldmatrix_x4(b, smem_addr(ktile + key * (D + 8) + dim));
      mma_bf16(s[2 * np], qf[kk], b[0], b[1]);
      mma_bf16(s[2 * np + 1], qf[kk], b[2], b[3]);
    }
  }
}

// Scales S to log2 units and hides the masked cells: key j of the tile is masked when
// mask[j] != 0 or (causal) j0 + j > row + causal_offset. Rows: row_a for c0, c1; row_a + 8 for
// c2, c3.
__device__ __forceinline__ void scale_and_mask(float (&s)[8][4], float scale_log2, bool need_mask,
                                               const uint8_t* mask, int j0, int row_a, bool causal,
                                               int64_t causal_offset, int lane) {
#pragma unroll
  for (int nt = 0; nt < 8; ++nt) {
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      s[nt][e] *= scale_log2;
      if (need_mask) {
        const int j = nt * 8 + ((lane & 3) << 1) + (e & 1);
        const int64_t row = row_a + ((e >> 1) << 3);
        const bool hidden =
            mask[j] != 0 || (causal && static_cast<int64_t>(j0 + j) > row + causal_offset);
        if (hidden) s[nt][e] = kNegInfF;
      }
    }
  }
}

template <int D>
__global__ void __launch_bounds__(FlashTile<D>::kThreads, FlashTile<D>::kMinBlocks)
    flash_forward_kernel(const FlashParams p) {
  using Tile = FlashTile<D>;
  constexpr int kBM = Tile::kBM, kBN = Tile::kBN, kPitch = Tile::kPitch;
  extern __shared__ __align__(16) unsigned char smem[];
  __nv_bfloat16* sQ = reinterpret_cast<__nv_bfloat16*>(smem);
  __nv_bfloat16* sK = sQ + Tile::kQElems;
  __nv_bfloat16* sV = sK + 2 * Tile::kKVElems;
  uint8_t* sMask = reinterpret_cast<uint8_t*>(sV + 2 * Tile::kKVElems);
  __shared__ int s_last_key;

  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
  const int m_block = static_cast<int>(gridDim.x) - 1 - static_cast<int>(blockIdx.x);
  const int h = blockIdx.y, b = blockIdx.z;
  const int q0 = m_block * kBM;
  const __nv_bfloat16* qb = p.q + b * p.q_bs + h * p.q_hs;
  const __nv_bfloat16* kb = p.k + b * p.k_bs + h * p.k_hs;
  const __nv_bfloat16* vb = p.v + b * p.v_bs + h * p.v_hs;
  __nv_bfloat16* ob = p.out + b * p.o_bs + h * p.o_hs;
  const uint8_t* pad_row = p.pad ? p.pad + static_cast<int64_t>(b) * p.Tk : nullptr;

  // Keys [0, n_end) are the only ones any row of this block can see.
  int n_end = p.Tk;
  if (p.causal) {
    const int rows_end = min(q0 + kBM, p.Tq);
    const int64_t last = static_cast<int64_t>(rows_end) + p.causal_offset;  // exclusive
    n_end = static_cast<int>(last < 0 ? 0 : (last < p.Tk ? last : p.Tk));
  }
  if (pad_row != nullptr) {
    if (tid == 0) s_last_key = -1;
    __syncthreads();
    int local = -1;
    for (int j = tid; j < n_end; j += Tile::kThreads)
      if (pad_row[j] == 0) local = j;
    if (local >= 0) atomicMax(&s_last_key, local);
    __syncthreads();
    n_end = s_last_key + 1;
  }
  const int n_tiles = (n_end + kBN - 1) / kBN;

  if (n_tiles == 0) {  // no row of the block sees any key: zero output, lse −∞
    constexpr int kChunks = D / 8;
    for (int c = tid; c < kBM * kChunks; c += Tile::kThreads) {
      const int row = q0 + c / kChunks;
      if (row < p.Tq)
        *reinterpret_cast<uint4*>(ob + row * p.o_rs + (c % kChunks) * 8) = make_uint4(0, 0, 0, 0);
    }
    if (p.lse != nullptr)
      for (int r = tid; r < kBM; r += Tile::kThreads)
        if (q0 + r < p.Tq) p.lse[(static_cast<int64_t>(b) * p.H + h) * p.Tq + q0 + r] = kNegInfF;
    return;
  }

  load_rows_async<D, kBM, Tile::kThreads>(sQ, qb, p.q_rs, q0, p.Tq, tid);
  load_rows_async<D, kBN, Tile::kThreads>(sK, kb, p.k_rs, 0, p.Tk, tid);
  load_rows_async<D, kBN, Tile::kThreads>(sV, vb, p.v_rs, 0, p.Tk, tid);
  load_key_mask<kBN>(sMask, pad_row, 0, p.Tk, tid);
  cp_async_commit();

  const int row_a = q0 + warp * 16 + (lane >> 2);  // this thread's rows: row_a and row_a + 8
  uint32_t qf[D / 16][4];
  float o[D / 8][4];
#pragma unroll
  for (int dt = 0; dt < D / 8; ++dt)
#pragma unroll
    for (int e = 0; e < 4; ++e) o[dt][e] = 0.0f;
  float m[2] = {kNegInfF, kNegInfF};
  float l[2] = {0.0f, 0.0f};  // this thread's partial row sums (its 16 columns of each tile)

  for (int t = 0; t < n_tiles; ++t) {
    const int buf = t & 1;
    if (t + 1 < n_tiles) {  // prefetch the next tile into the other buffer
      const int nb = buf ^ 1;
      load_rows_async<D, kBN, Tile::kThreads>(sK + nb * Tile::kKVElems, kb, p.k_rs, (t + 1) * kBN,
                                              p.Tk, tid);
      load_rows_async<D, kBN, Tile::kThreads>(sV + nb * Tile::kKVElems, vb, p.v_rs, (t + 1) * kBN,
                                              p.Tk, tid);
      load_key_mask<kBN>(sMask + nb * kBN, pad_row, (t + 1) * kBN, p.Tk, tid);
      cp_async_commit();
      cp_async_wait<1>();
    } else {
      cp_async_wait<0>();
    }
    __syncthreads();
    if (t == 0) {
#pragma unroll
      for (int kk = 0; kk < D / 16; ++kk)
        ldmatrix_x4(qf[kk], smem_addr(sQ + (warp * 16 + (lane & 15)) * kPitch + kk * 16 +
                                      ((lane >> 4) << 3)));
    }
    const __nv_bfloat16* ktile = sK + buf * Tile::kKVElems;
    const __nv_bfloat16* vtile = sV + buf * Tile::kKVElems;
    const int j0 = t * kBN;

    float s[8][4];
    score_tile<D>(s, qf, ktile, lane);
    const bool need_mask = j0 + kBN > p.Tk || pad_row != nullptr ||
                           (p.causal && static_cast<int64_t>(j0) + kBN - 1 >
                                            static_cast<int64_t>(q0) + p.causal_offset);
    scale_and_mask(s, p.scale_log2, need_mask, sMask + buf * kBN, j0, row_a, p.causal != 0,
                   p.causal_offset, lane);

    // Online softmax, one row at a time (r = 0: c0, c1; r = 1: c2, c3).
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      float mx = kNegInfF;
#pragma unroll
      for (int nt = 0; nt < 8; ++nt) mx = fmaxf(mx, fmaxf(s[nt][2 * r], s[nt][2 * r + 1]));
      mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
      mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
      const float m_new = fmaxf(m[r], mx);
      const float m_use = m_new == kNegInfF ? 0.0f : m_new;  // keeps −∞ − −∞ out
      const float alpha = ex2(m[r] - m_use);                 // m = −∞ → 0
      m[r] = m_new;
      float sum = 0.0f;
#pragma unroll
      for (int nt = 0; nt < 8; ++nt) {
        s[nt][2 * r] = ex2(s[nt][2 * r] - m_use);  // −∞ → 0
        s[nt][2 * r + 1] = ex2(s[nt][2 * r + 1] - m_use);
        sum += s[nt][2 * r] + s[nt][2 * r + 1];
      }
      l[r] = l[r] * alpha + sum;
#pragma unroll
      for (int dt = 0; dt < D / 8; ++dt) {
        o[dt][2 * r] *= alpha;
        o[dt][2 * r + 1] *= alpha;
      }
    }

    // O += P·V over the tile's 4 k16 steps.
#pragma unroll
    for (int kk = 0; kk < 4; ++kk) {
      const uint32_t a[4] = {pack_bf16(s[2 * kk][0], s[2 * kk][1]),
                             pack_bf16(s[2 * kk][2], s[2 * kk][3]),
                             pack_bf16(s[2 * kk + 1][0], s[2 * kk + 1][1]),
                             pack_bf16(s[2 * kk + 1][2], s[2 * kk + 1][3])};
#pragma unroll
      for (int dp = 0; dp < D / 16; ++dp) {
        // matrices: (keys 16kk..+7, dims 16dp..+7), (keys +8, same dims), (keys 16kk.., dims +8),
        // (keys +8, dims +8), transposed → b0, b1 of dim tile 2dp, then of dim tile 2dp + 1
        const int key = kk * 16 + (lane & 7) + (((lane >> 3) & 1) << 3);
        const int dim = dp * 16 + ((lane >> 4) << 3);
        uint32_t bv[4];
        ldmatrix_x4_trans(bv, smem_addr(vtile + key * kPitch + dim));
        mma_bf16(o[2 * dp], a, bv[0], bv[1]);
        mma_bf16(o[2 * dp + 1], a, bv[2], bv[3]);
      }
    }
    __syncthreads();  // every warp is done with this buffer before the next prefetch refills it
  }

  // Row sums across the quad, then out = O / l through this warp's own rows of sQ.
  float inv[2];
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    l[r] += __shfl_xor_sync(0xffffffffu, l[r], 1);
    l[r] += __shfl_xor_sync(0xffffffffu, l[r], 2);
    inv[r] = l[r] > 0.0f ? 1.0f / l[r] : 0.0f;
  }
  __nv_bfloat16* stage = sQ + warp * 16 * kPitch;  // only this warp read these rows (t == 0)
  const int g = lane >> 2, c2 = (lane & 3) << 1;
#pragma unroll
  for (int dt = 0; dt < D / 8; ++dt) {
    *reinterpret_cast<uint32_t*>(stage + g * kPitch + dt * 8 + c2) =
        pack_bf16(o[dt][0] * inv[0], o[dt][1] * inv[0]);
    *reinterpret_cast<uint32_t*>(stage + (g + 8) * kPitch + dt * 8 + c2) =
        pack_bf16(o[dt][2] * inv[1], o[dt][3] * inv[1]);
  }
  __syncwarp();
  constexpr int kChunks = D / 8;
#pragma unroll
  for (int it = 0; it < 16 * kChunks / 32; ++it) {
    const int c = it * 32 + lane;
    const int r = c / kChunks, col = (c % kChunks) * 8;
    const int row = q0 + warp * 16 + r;
    if (row < p.Tq)
      *reinterpret_cast<uint4*>(ob + row * p.o_rs + col) =
          *reinterpret_cast<const uint4*>(stage + r * kPitch + col);
  }
  if (p.lse != nullptr && (lane & 3) == 0) {
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      const int row = row_a + 8 * r;
      if (row < p.Tq)
        p.lse[(static_cast<int64_t>(b) * p.H + h) * p.Tq + row] =
            l[r] > 0.0f ? (m[r] + log2f(l[r])) * kLn2 : kNegInfF;
    }
  }
}

// The weights of pairs [pair_base, pair_base + gridDim.y), rows [q_begin, q_end): one block per
// 128 rows of one pair, the same Q·Kᵀ tiles as the forward (the same fragments and order, so the
// same fp32 scores), P = 2^(S·scale·log2 e − lse·log2 e) stored straight from the C fragments;
// the keys no row of the block can see (causal) are written as zeros without being computed.
template <int D>
__global__ void __launch_bounds__(FlashTile<D>::kThreads, FlashTile<D>::kMinBlocks)
    flash_weights_kernel(const FlashWeightsParams p) {
  using Tile = FlashTile<D>;
  constexpr int kBM = Tile::kBM, kBN = Tile::kBN, kPitch = Tile::kPitch;
  extern __shared__ __align__(16) unsigned char smem[];
  __nv_bfloat16* sQ = reinterpret_cast<__nv_bfloat16*>(smem);
  __nv_bfloat16* sK = sQ + Tile::kQElems;
  uint8_t* sMask = reinterpret_cast<uint8_t*>(sK + 2 * Tile::kKVElems);

  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
  const int pi = p.pair_base + static_cast<int>(blockIdx.y);
  const int pair = p.pairs != nullptr ? p.pairs[pi] : pi;
  const int b = pair / p.H, h = pair % p.H;
  const int r0 = p.q_begin + static_cast<int>(blockIdx.x) * kBM;
  const int rows_end = min(p.q_end, r0 + kBM);
  const __nv_bfloat16* qb = p.q + b * p.q_bs + h * p.q_hs;
  const __nv_bfloat16* kb = p.k + b * p.k_bs + h * p.k_hs;
  const uint8_t* pad_row = p.pad ? p.pad + static_cast<int64_t>(b) * p.Tk : nullptr;
  float* out_pair = p.out + pi * p.pair_stride;

  int n_vis = p.Tk;  // keys [0, n_vis) are visible to some row of the block
  if (p.causal) {
    const int64_t last = static_cast<int64_t>(rows_end) + p.causal_offset;  // exclusive
    n_vis = static_cast<int>(last < 0 ? 0 : (last < p.Tk ? last : p.Tk));
  }
  const int n_tiles = (n_vis + kBN - 1) / kBN;

  const int row_a = r0 + warp * 16 + (lane >> 2);
  float lse2[2];
  bool dead[2];
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    const int row = row_a + 8 * r;
    const float v = row < rows_end ? p.lse[static_cast<int64_t>(pair) * p.Tq + row] : kNegInfF;
    dead[r] = v == kNegInfF;
    lse2[r] = dead[r] ? 0.0f : v * kLog2e;
  }

  if (n_tiles > 0) {
    load_rows_async<D, kBM, Tile::kThreads>(sQ, qb, p.q_rs, r0, rows_end, tid);
    load_rows_async<D, kBN, Tile::kThreads>(sK, kb, p.k_rs, 0, p.Tk, tid);
    load_key_mask<kBN>(sMask, pad_row, 0, p.Tk, tid);
    cp_async_commit();
  }
  uint32_t qf[D / 16][4];
  const int c2 = (lane & 3) << 1;
  for (int t = 0; t < n_tiles; ++t) {
    const int buf = t & 1;
    if (t + 1 < n_tiles) {
      const int nb = buf ^ 1;
      load_rows_async<D, kBN, Tile::kThreads>(sK + nb * Tile::kKVElems, kb, p.k_rs, (t + 1) * kBN,
                                              p.Tk, tid);
      load_key_mask<kBN>(sMask + nb * kBN, pad_row, (t + 1) * kBN, p.Tk, tid);
      cp_async_commit();
      cp_async_wait<1>();
    } else {
      cp_async_wait<0>();
    }
    __syncthreads();
    if (t == 0) {
#pragma unroll
      for (int kk = 0; kk < D / 16; ++kk)
        ldmatrix_x4(qf[kk], smem_addr(sQ + (warp * 16 + (lane & 15)) * kPitch + kk * 16 +
                                      ((lane >> 4) << 3)));
    }
    const int j0 = t * kBN;
    float s[8][4];
    score_tile<D>(s, qf, sK + buf * Tile::kKVElems, lane);
    scale_and_mask(s, p.scale_log2, true, sMask + buf * kBN, j0, row_a, p.causal != 0,
                   p.causal_offset, lane);
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      const int row = row_a + 8 * r;
      if (row >= rows_end) continue;
      float* orow = out_pair + static_cast<int64_t>(row - p.q_begin) * p.row_stride;
#pragma unroll
      for (int nt = 0; nt < 8; ++nt) {
        const float w0 = dead[r] ? 0.0f : ex2(s[nt][2 * r] - lse2[r]);
        const float w1 = dead[r] ? 0.0f : ex2(s[nt][2 * r + 1] - lse2[r]);
        const int col = j0 + nt * 8 + c2;
        if (p.vec2 && col + 1 < p.Tk) {
          *reinterpret_cast<float2*>(orow + col) = make_float2(w0, w1);
        } else {
          if (col < p.Tk) orow[col] = w0;
          if (col + 1 < p.Tk) orow[col + 1] = w1;
        }
      }
    }
    __syncthreads();  // the next prefetch may refill this buffer
  }
  // Keys past every row's causal horizon: zeros.
  const int z0 = n_tiles * kBN;
  if (z0 < p.Tk) {
    for (int r = warp; r < rows_end - r0; r += Tile::kWarps) {
      float* orow = out_pair + static_cast<int64_t>(r0 + r - p.q_begin) * p.row_stride;
      for (int c = z0 + lane; c < p.Tk; c += 32) orow[c] = 0.0f;
    }
  }
}

}  // namespace attnscope::cuda::detail
