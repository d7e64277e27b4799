// Log-softmax and the fused per-row top-k (log_softmax.h). One block of 256 threads per row.
#include <climits>
#include <limits>

#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/device_common.cuh"
#include "kernels/cuda/log_softmax.h"

namespace attnscope::cuda {

namespace {

using detail::to_f32;

constexpr int kThreads = 256;
constexpr int kWarps = kThreads / 32;
constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// Running (max, Σ e^(x − max)) of a set of logits; combining two is associative.
struct LogSumExp {
  float m = kNegInf, s = 0.0f;
  __device__ void add(float x) {
    if (x == kNegInf) return;  // contributes e^−∞ = 0 (and −∞ − −∞ would be NaN)
    if (x > m) {
      s = s * expf(m - x) + 1.0f;  // m = −∞ gives e^−∞ = 0
      m = x;
    } else {
      s += expf(x - m);
    }
  }
  __device__ void merge(float m2, float s2) {
    const float mm = fmaxf(m, m2);
    if (mm == kNegInf) return;
    s = (m == kNegInf ? 0.0f : s * expf(m - mm)) + (m2 == kNegInf ? 0.0f : s2 * expf(m2 - mm));
    m = mm;
  }
};

// The block's combined (max, sum) → logsumexp, in every thread.
__device__ float block_logsumexp(LogSumExp v, float* sm, float* ss) {
  for (int o = 16; o > 0; o >>= 1) {
    const float m2 = __shfl_xor_sync(0xffffffffu, v.m, o);
    const float s2 = __shfl_xor_sync(0xffffffffu, v.s, o);
    v.merge(m2, s2);
  }
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  if (lane == 0) {
    sm[warp] = v.m;
    ss[warp] = v.s;
  }
  __syncthreads();
  LogSumExp all;
  for (int w = 0; w < kWarps; ++w) all.merge(sm[w], ss[w]);
  return all.m == kNegInf ? kNegInf : all.m + logf(all.s);
}

template <typename T>
__global__ void __launch_bounds__(kThreads)
    log_softmax_kernel(const T* logits, int64_t V, float* out) {
  __shared__ float sm[kWarps], ss[kWarps];
  const T* x = logits + blockIdx.x * V;
  float* y = out + blockIdx.x * V;
  LogSumExp acc;
  for (int64_t v = threadIdx.x; v < V; v += kThreads) acc.add(to_f32(x[v]));
  const float lse = block_logsumexp(acc, sm, ss);
  for (int64_t v = threadIdx.x; v < V; v += kThreads)
    y[v] = lse == kNegInf ? kNegInf : to_f32(x[v]) - lse;
}

// a ranks before b: the larger value, then the smaller id.
__device__ __forceinline__ bool better(float va, int ia, float vb, int ib) {
  return va > vb || (va == vb && ia < ib);
}

template <typename T, int K>
__global__ void __launch_bounds__(kThreads) topk_kernel(TopKArgs a) {
  __shared__ float sm[kWarps], ss[kWarps];
  __shared__ float win_v[kWarps];
  __shared__ int win_i[kWarps];
  __shared__ float final_v;
  __shared__ int final_i;
  const int64_t row = blockIdx.x;
  const T* x = static_cast<const T*>(a.logits) + row * a.V;

  // Each thread: the online logsumexp of its logits and its own K best (sorted, best first).
  LogSumExp acc;
  float val[K];
  int idx[K];
#pragma unroll
  for (int i = 0; i < K; ++i) {
    val[i] = kNegInf;
    idx[i] = INT_MAX;
  }
  for (int64_t v = threadIdx.x; v < a.V; v += kThreads) {
    const float f = to_f32(x[v]);
    acc.add(f);
    const int id = static_cast<int>(v);
    if (!(f > val[K - 1])) continue;  // ids rise along a thread: an equal value ranks after
    if (id == a.banned[0] || id == a.banned[1] || id == a.banned[2] || id == a.banned[3]) continue;
    val[K - 1] = f;
    idx[K - 1] = id;
#pragma unroll
    for (int i = K - 1; i > 0; --i) {
      if (better(val[i], idx[i], val[i - 1], idx[i - 1])) {
        const float tv = val[i];
        val[i] = val[i - 1];
        val[i - 1] = tv;
        const int ti = idx[i];
        idx[i] = idx[i - 1];
        idx[i - 1] = ti;
      }
    }
  }
  const float lse = block_logsumexp(acc, sm, ss);
  const float offset = a.offset ? a.offset[row] : 0.0f;

  // k rounds: the block's best head of list wins and leaves its thread's list.
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  for (int r = 0; r < a.k; ++r) {
    float bv = val[0];
    int bi = idx[0];
    for (int o = 16; o > 0; o >>= 1) {
      const float ov = __shfl_xor_sync(0xffffffffu, bv, o);
      const int oi = __shfl_xor_sync(0xffffffffu, bi, o);
      if (better(ov, oi, bv, bi)) {
        bv = ov;
        bi = oi;
      }
    }
    if (lane == 0) {
      win_v[warp] = bv;
      win_i[warp] = bi;
    }
    __syncthreads();
    if (threadIdx.x == 0) {
      float fv = win_v[0];
      int fi = win_i[0];
      for (int w = 1; w < kWarps; ++w)
        if (better(win_v[w], win_i[w], fv, fi)) {
          fv = win_v[w];
          fi = win_i[w];
        }
      final_v = fv;
      final_i = fi;
      const bool empty = fi == INT_MAX;
      a.values[row * a.k + r] = empty || lse == kNegInf ? kNegInf : offset + (fv - lse);
      a.ids[row * a.k + r] = empty ? -1 : fi;
    }
    __syncthreads();
    if (final_i != INT_MAX && idx[0] == final_i) {  // ids are unique: one thread pops
#pragma unroll
      for (int i = 0; i + 1 < K; ++i) {
        val[i] = val[i + 1];
        idx[i] = idx[i + 1];
      }
      val[K - 1] = kNegInf;
      idx[K - 1] = INT_MAX;
    }
    // win_v/win_i/final_* are rewritten next round only after the barrier above was passed by
    // every thread, and read before the next round's first barrier: no further sync needed.
  }
}

template <typename T>
void launch_topk(const TopKArgs& a, cudaStream_t stream) {
  const auto blocks = static_cast<unsigned>(a.rows);
  if (a.k <= 4)
    topk_kernel<T, 4><<<blocks, kThreads, 0, stream>>>(a);
  else if (a.k <= 8)
    topk_kernel<T, 8><<<blocks, kThreads, 0, stream>>>(a);
  else if (a.k <= 16)
    topk_kernel<T, 16><<<blocks, kThreads, 0, stream>>>(a);
  else
    topk_kernel<T, 32><<<blocks, kThreads, 0, stream>>>(a);
  ATTN_CUDA_CHECK_LAUNCH("topk_kernel");
}

}  // namespace

void log_softmax(DType type, const void* logits, int64_t rows, int64_t V, float* out,
                 cudaStream_t stream) {
  ATTN_CUDA_REQUIRE(rows >= 0 && V >= 0,
                    "log_softmax: negative shape [" << rows << ", " << V << "]");
  ATTN_CUDA_REQUIRE(rows <= INT32_MAX, "log_softmax: too many rows " << rows);
  if (rows == 0 || V == 0) return;
  ATTN_CUDA_REQUIRE(logits && out, "log_softmax: a null pointer");
  const auto blocks = static_cast<unsigned>(rows);
  if (type == DType::kF32)
    log_softmax_kernel<<<blocks, kThreads, 0, stream>>>(static_cast<const float*>(logits), V, out);
  else
    log_softmax_kernel<<<blocks, kThreads, 0, stream>>>(static_cast<const __nv_bfloat16*>(logits),
                                                        V, out);
  ATTN_CUDA_CHECK_LAUNCH("log_softmax_kernel");
}

void log_softmax_topk(const TopKArgs& a, cudaStream_t stream) {
  ATTN_CUDA_REQUIRE(a.rows >= 0 && a.V >= 0,
                    "log_softmax_topk: negative shape [" << a.rows << ", " << a.V << "]");
  ATTN_CUDA_REQUIRE(a.k >= 1 && a.k <= kMaxTopK,
                    "log_softmax_topk: k = " << a.k << " is outside [1, " << kMaxTopK << "]");
  ATTN_CUDA_REQUIRE(a.V < INT32_MAX, "log_softmax_topk: vocabulary " << a.V << " too large");
  ATTN_CUDA_REQUIRE(a.rows <= INT32_MAX, "log_softmax_topk: too many rows " << a.rows);
  if (a.rows == 0) return;
  ATTN_CUDA_REQUIRE(a.logits && a.values && a.ids, "log_softmax_topk: a null pointer");
  if (a.type == DType::kF32)
    launch_topk<float>(a, stream);
  else
    launch_topk<__nv_bfloat16>(a, stream);
}

}  // namespace attnscope::cuda
