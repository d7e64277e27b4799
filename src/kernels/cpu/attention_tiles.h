// The tiled forward (the flash-attention scheme on the CPU) and backward of one attention head, in
// SIMD code compiled for several instruction sets (SSE4, AVX2, AVX-512, …) and chosen at run time
// for the CPU it runs on (Highway's dynamic dispatch). cpu::attention_forward and
// cpu::attention_backward run them for every (b, h).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kernels/cpu/attention.h"

namespace attnscope::cpu {

// One (b, h) pair's inputs: its rows of Q [Tq, d_k], K [Tk, d_k] and V [Tk, d_v], each with its
// row stride.
struct HeadInputs {
  const AttentionShape* shape = nullptr;
  int64_t b = 0, h = 0;
  const float* q = nullptr;
  int64_t ldq = 0;
  const float* k = nullptr;
  int64_t ldk = 0;
  const float* v = nullptr;
  int64_t ldv = 0;
};

// The forward of one pair: out [Tq, d_v] with its row stride, and the weights P [Tq, Tk] (row
// stride Tk), or null when only out is wanted.
struct HeadTask : HeadInputs {
  float* out = nullptr;
  int64_t ldo = 0;
  float* probs = nullptr;
};

// out = softmax(scale · Q·Kᵀ + mask) · V for one head, in blocks of query rows against tiles of
// keys with an online softmax: each row keeps its running maximum m and sum l, the tile's
// exponentials are added into the output scaled by e^(m_old − m_new), and the output is divided by
// l at the end. Masks are applied inside the tile; tiles every query of the block cannot see
// (above the causal diagonal, or all padding) are skipped. When probs is given, each tile's scores
// are written there as they are made, and normalised at the end of the block with the row's
// log-sum-exp (m + ln l): exp(s − lse) — the weights are a by-product, not a second path.
// Dropout (shape.dropout > 0) drops weights inside the tile; probs holds the weights before it.
// Allocates only per-thread scratch that grows once.
void attention_head_forward(const HeadTask& task);

// One (b, h) pair of the backward: its saved weights P [Tq, Tk] (row stride Tk), dOut [Tq, d_v],
// and the gradients to accumulate into, dQ [Tq, d_k], dK [Tk, d_k], dV [Tk, d_v], each with its
// row stride.
struct HeadGradTask : HeadInputs {
  const float* probs = nullptr;
  const float* dout = nullptr;
  int64_t lddo = 0;
  float* dq = nullptr;
  int64_t lddq = 0;
  float* dk = nullptr;
  int64_t lddk = 0;
  float* dv = nullptr;
  int64_t lddv = 0;
};

// dV += P'ᵀ·dOut, dP = dOut·Vᵀ (through dropout's mask), dS = P ⊙ (dP − Σ_j dP ⊙ P),
// dQ += scale·dS·K, dK += scale·dSᵀ·Q, in blocks of query rows that skip the keys above the
// causal diagonal; the same SIMD kernels and dispatch as the forward.
void attention_head_backward(const HeadGradTask& task);

// One head of a decode step (cpu::attention_step_forward): `rows` query rows that read the same
// keys and values, all of which fit one tile. K comes transposed, as the decoder's caches keep it,
// so nothing is packed per step: S [rows, Tk] = scale · Q·Kᵀ (columns ≥ Tk and padding keys
// masked), P = softmax(S) per row, out = P·V. probs (row stride ldp) gets P, or is null.
struct StepHeadTask {
  const float* q = nullptr;  // [rows, d_k], row stride ldq
  int64_t ldq = 0, rows = 0;
  // Kᵀ in blocks of kStepKeyBlock keys: (i, j) at kt[(j / kStepKeyBlock)·kt_block +
  // i·kStepKeyBlock + j % kStepKeyBlock]; the block of key Tk − 1 is read whole
  const float* kt = nullptr;
  int64_t kt_block = 0;
  const float* v = nullptr;  // V [Tk, d_v], row stride ldv
  int64_t ldv = 0;
  const uint8_t* key_padding = nullptr;  // [Tk], nonzero = masked, or null
  int64_t Tk = 0, d_k = 0, d_v = 0;
  float scale = 1.0f;
  float* out = nullptr;  // [rows, d_v], row stride ldo
  int64_t ldo = 0;
  float* probs = nullptr;  // [rows, Tk], row stride ldp, or null
  int64_t ldp = 0;
};
void attention_step_head_forward(const StepHeadTask& task);

// The instruction sets attention_head_forward was compiled for that this CPU can run, best first
// (Highway's names: "AVX3_DL", "AVX3", "AVX2", "SSE4", "EMU128", …).
std::vector<std::string> attention_simd_targets();
// The instruction set attention_head_forward runs with now.
std::string attention_simd_target();
// Tests: run every later call with the named target ("" restores the best). False if this CPU
// cannot run it or it was not compiled.
bool force_attention_simd_target(const std::string& name);

}  // namespace attnscope::cpu
