// One self-attention layer against one recurrent layer as the sequence grows: the first of the
// three reasons of docs/why-self-attention.md, measured. Both map x [B, n, d] → y [B, n, d]
// with d = 256 (the small preset's width), B = 8:
//
//   SelfAttentionLayer  multi-head attention (4 heads; Q, K, V and W_O projections), O(n²·d + n·d²)
//                       work, every position computed at once
//   LstmLayer           one LSTM direction, O(n·d²) work in n steps that must run one after
//                       the other (step t needs h⟨t−1⟩)
//
// items_per_second counts tokens (B·n), so the columns read as tokens per second directly.
// Run with OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 and with 2 to see which one the second core
// helps.
#include "bench_util.h"
#include "nn/lstm.h"
#include "nn/multi_head_attention.h"

namespace attnscope::bench {
namespace {

constexpr int64_t kBatch = 8, kWidth = 256, kHeads = 4;

void fill(Param& p, uint64_t seed) {
  const auto v = random_floats(p.value.numel(), seed, -0.06f, 0.06f);
  std::copy(v.begin(), v.end(), p.value.data());
}

void BM_SelfAttentionLayer(benchmark::State& state) {
  const int64_t n = state.range(0);
  MultiHeadAttention mha("self_attn", kWidth, kHeads, /*scale_scores=*/true);
  uint64_t seed = 1;
  mha.visit_params([&seed](Param& p) { fill(p, seed++); });
  const auto x = random_floats(kBatch * n * kWidth, 100);
  std::vector<float> y(x.size());
  AttentionCall c;
  c.B = kBatch;
  c.Tq = c.Tk = n;
  MultiHeadAttention::Activations a;
  for (auto _ : state) {
    mha.forward_self(x.data(), y.data(), c, a);
    benchmark::DoNotOptimize(y.data());
  }
  state.SetItemsProcessed(state.iterations() * kBatch * n);
  const auto dn = static_cast<double>(n), d = static_cast<double>(kWidth);
  set_flops(state, static_cast<double>(kBatch) * (4.0 * dn * dn * d + 8.0 * dn * d * d));
}
BENCHMARK(BM_SelfAttentionLayer)
    ->RangeMultiplier(2)
    ->Range(16, 1024)
    ->ArgName("n")
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

void BM_LstmLayer(benchmark::State& state) {
  const int64_t n = state.range(0);
  BasicLstm<float> lstm("lstm", "_l0", kWidth, kWidth);
  uint64_t seed = 1;
  lstm.visit_params([&seed](Param& p) { fill(p, seed++); });
  const auto x = random_floats(kBatch * n * kWidth, 100);
  std::vector<float> y(x.size());
  BasicLstm<float>::Activations a;
  for (auto _ : state) {
    lstm.forward(x.data(), nullptr, kBatch, n, y.data(), kWidth, nullptr, nullptr, a);
    benchmark::DoNotOptimize(y.data());
  }
  state.SetItemsProcessed(state.iterations() * kBatch * n);
  // x·W_ihᵀ and h·W_hhᵀ: 2 · (4d · d) multiply-adds per token each.
  const auto d = static_cast<double>(kWidth);
  set_flops(state, static_cast<double>(kBatch * n) * 16.0 * d * d);
}
BENCHMARK(BM_LstmLayer)
    ->RangeMultiplier(2)
    ->Range(16, 1024)
    ->ArgName("n")
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace attnscope::bench
