// Scaled dot-product attention forward and backward: the W1 shape (B=8, H=8, N=256, d=64,
// non-causal and causal) and one W3 decode step (32 rows, 4 heads, one query over 32 keys), both
// from kW (app/bench_workloads.h).
#include "kernels/cpu/attention.h"

#include <cmath>

#include "bench_util.h"

namespace attnscope::bench {
namespace {

struct Problem {
  cpu::AttentionShape s;
  std::vector<float> q, k, v, out, dout, dq, dk, dv, probs;
  Problem(int64_t B, int64_t H, int64_t Tq, int64_t Tk, int64_t d, bool causal) {
    s.B = B;
    s.H = H;
    s.Tq = Tq;
    s.Tk = Tk;
    s.d_k = s.d_v = d;
    s.scale = 1.0f / std::sqrt(static_cast<float>(d));
    s.causal = causal;
    s.causal_offset = Tk - Tq;
    q = random_floats(B * H * Tq * d, 1);
    k = random_floats(B * H * Tk * d, 2);
    v = random_floats(B * H * Tk * d, 3);
    dout = random_floats(B * H * Tq * d, 4);
    out.resize(q.size());
    dq.resize(q.size());
    dk.resize(k.size());
    dv.resize(v.size());
    probs.resize(static_cast<size_t>(B * H * Tq * Tk));
  }
  // [B, H, T, d] contiguous
  cpu::HeadView view(std::vector<float>& t, int64_t T) const {
    return cpu::HeadView{t.data(), s.H * T * s.d_k, T * s.d_k, s.d_k};
  }
  void forward() {
    cpu::attention_forward(s, view(q, s.Tq), view(k, s.Tk), view(v, s.Tk), view(out, s.Tq),
                           probs.data());
  }
  void backward() {
    cpu::attention_backward(s, view(q, s.Tq), view(k, s.Tk), view(v, s.Tk), probs.data(),
                            view(dout, s.Tq), view(dq, s.Tq), view(dk, s.Tk), view(dv, s.Tk));
  }
  // 4·B·H·Tq·Tk·d, halved when causal (only the visible half counts).
  double forward_flops() const {
    const double f =
        4.0 * static_cast<double>(s.B * s.H * s.Tq * s.Tk) * static_cast<double>(s.d_k);
    return s.causal && s.Tq == s.Tk ? f / 2 : f;
  }
};

void BM_AttentionForward(benchmark::State& state) {
  Problem p(kW.B, kW.H, kW.N, kW.N, kW.d, state.range(0) != 0);
  for (auto _ : state) {
    p.forward();
    benchmark::DoNotOptimize(p.out.data());
  }
  set_flops(state, p.forward_flops());
}
BENCHMARK(BM_AttentionForward)
    ->ArgName("causal")
    ->Arg(0)
    ->Arg(1)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

// Backward alone (the weights come from one forward before the loop); W1's forward+backward
// FLOPs are 3.5× forward, so backward alone counts 2.5×.
void BM_AttentionBackward(benchmark::State& state) {
  Problem p(kW.B, kW.H, kW.N, kW.N, kW.d, state.range(0) != 0);
  p.forward();
  for (auto _ : state) {
    p.backward();
    benchmark::DoNotOptimize(p.dq.data());
  }
  set_flops(state, 2.5 * p.forward_flops());
}
BENCHMARK(BM_AttentionBackward)
    ->ArgName("causal")
    ->Arg(0)
    ->Arg(1)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

// The last step of W3's decoder self-attention: 32 rows × 4 heads, one query, 32 cached keys,
// d 64.
void BM_AttentionDecodeStep(benchmark::State& state) {
  Problem p(kW.decode_batch, kW.heads, 1, kW.out_len, kW.d_model / kW.heads, true);
  for (auto _ : state) {
    p.forward();
    benchmark::DoNotOptimize(p.out.data());
  }
  set_flops(state, p.forward_flops());
}
BENCHMARK(BM_AttentionDecodeStep)->UseRealTime();

}  // namespace
}  // namespace attnscope::bench
