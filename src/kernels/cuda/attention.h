// Scaled dot-product attention on the device, with the CPU kernel's semantics
// (cpu/attention.h): out = softmax(scale · Q·Kᵀ + mask) · V per (batch, head); the causal mask
// hides key j from query i when j > i + causal_offset (causal_offset = Tk − Tq when a KV cache
// holds earlier positions); key_padding[b, j] != 0 hides key j for every query of sequence b; a
// query that sees no key gets a zero output, a log-sum-exp of −∞ and zero weights, never NaN.
//
// attention_forward writes out and, when asked, each row's log-sum-exp
// lse[b, h, i] = ln Σ_j exp(scale · q_i·k_j) over the visible keys. Two paths:
//  - kFlash: tensor cores (mma.sync m16n8k16, bf16 inputs, fp32 softmax and accumulation), for
//    bf16 and d ∈ {64, 128}, every view 16-byte aligned (attention_flash.cuh);
//  - kRows: one warp per query row and key chunk in fp32 arithmetic, any d ≤ 256, fp32 or bf16,
//    with split-K ("flash decoding") when there are few rows, so a decoder step's Tq = 1 against
//    a long cache still fills the GPU (attention_rows.cuh). The fp32 model path runs here.
// kAuto takes kFlash when it applies and Tq ≥ kFlashMinRows, else kRows.
//
// attention_weights writes the EXACT weights P[b, h, i, j] = exp(scale · q_i·k_j − lse[b, h, i])
// (fp32; masked cells exactly 0) for a chosen set of (b, h) pairs and a range of query rows only,
// recomputing the scores from Q, K and the forward's lse — the capture spec's heads and rows cost
// in proportion to what is asked, and the forward without a capture runs at full speed. Each path
// recomputes the scores with the same arithmetic as its forward, so rows sum to 1 to rounding.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/cuda/device_allocator.h"
#include "kernels/cuda/dtype.h"

namespace attnscope::cuda {

// Element (b, h, t, c) of a [B, H, T, d] tensor lives at
// data + b·batch_stride + h·head_stride + t·row_stride + c (strides in elements).
struct DeviceHeads {
  void* data = nullptr;
  int64_t batch_stride = 0, head_stride = 0, row_stride = 0;
};

// A contiguous [B, H, T, d] tensor.
inline DeviceHeads head_major(void* base, int64_t H, int64_t T, int64_t d) {
  return DeviceHeads{base, H * T * d, T * d, d};
}
// Heads interleaved in the last axis of a [B, T, width] buffer, from column `col` (the packed
// [B, T, 3·D] projection read in place: col 0 for Q, D for K, 2·D for V).
inline DeviceHeads interleaved_heads(void* base, DType type, int64_t T, int64_t width,
                                     int64_t d_head, int64_t col = 0) {
  return DeviceHeads{static_cast<char*>(base) + col * static_cast<int64_t>(dtype_size(type)),
                     T * width, d_head, width};
}

struct DeviceAttentionShape {
  int64_t B = 0, H = 0, Tq = 0, Tk = 0, d = 0;  // d = d_k = d_v
  DType type = DType::kBF16;                    // q, k, v and out
  float scale = 1.0f;
  bool causal = false;
  int64_t causal_offset = 0;
  const uint8_t* key_padding = nullptr;  // [B, Tk] on the device, nonzero = masked, or null
};

enum class AttentionPath { kAuto, kFlash, kRows };
constexpr int64_t kFlashMinRows = 16;

struct AttentionForwardArgs {
  DeviceAttentionShape shape;
  DeviceHeads q, k, v, out;
  float* lse = nullptr;  // [B, H, Tq] or null
  AttentionPath path = AttentionPath::kAuto;
};

// Checks the arguments (attnscope::Error naming the problem) and queues the kernels on stream.
// The split-K partial results come from `alloc` (returned at once, stream-ordered).
void attention_forward(const AttentionForwardArgs& a, DeviceAllocator& alloc, cudaStream_t stream);

struct AttentionWeightsArgs {
  DeviceAttentionShape shape;
  DeviceHeads q, k;
  const float* lse = nullptr;  // [B, H, Tq] from attention_forward on the same inputs
  // The pairs: pairs[p] = b·H + h (a device array of n_pairs), or null for every pair in order
  // (n_pairs = B·H).
  const int32_t* pairs = nullptr;
  int64_t n_pairs = 0;
  int64_t q_begin = 0, q_end = 0;  // query rows [q_begin, q_end)
  // Weight (p, i, j) goes to out[p·pair_stride + (i − q_begin)·row_stride + j], j < Tk.
  float* out = nullptr;
  int64_t pair_stride = 0, row_stride = 0;
  AttentionPath path = AttentionPath::kAuto;
};

void attention_weights(const AttentionWeightsArgs& a, cudaStream_t stream);

// The path kAuto takes for these arguments (kFlash or kRows).
AttentionPath attention_path(const AttentionForwardArgs& a);

}  // namespace attnscope::cuda
