// cblas_sgemm through cpu::gemm: square products (1024³ is the practical CPU ceiling that
// docs/performance.md quotes) and nn.Linear forward/backward at the W2 model's shapes.
#include "kernels/cpu/gemm.h"
#include "kernels/cpu/packed_linear.h"

#include "bench_util.h"

namespace attnscope::bench {
namespace {

void BM_Sgemm(benchmark::State& state) {
  const int64_t n = state.range(0);
  const auto a = random_floats(n * n, 1), b = random_floats(n * n, 2);
  std::vector<float> c(static_cast<size_t>(n * n));
  for (auto _ : state) {
    cpu::gemm(false, false, n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f, c.data(), n);
    benchmark::DoNotOptimize(c.data());
  }
  set_flops(state, 2.0 * static_cast<double>(n * n) * static_cast<double>(n));
}
BENCHMARK(BM_Sgemm)->Arg(256)->Arg(512)->Arg(1024)->UseRealTime()->Unit(benchmark::kMillisecond);

// Linear layers of the W2 model over its 64 × 32 = 2048 target tokens: {rows, in, out}.
void linear_shapes(benchmark::internal::Benchmark* b) {
  const int64_t tokens = kW.batch * kW.tgt_len, D = kW.d_model;
  b->ArgNames({"rows", "in", "out"});
  b->Args({tokens, D, 3 * D});              // packed Q|K|V in_proj
  b->Args({tokens, D, D});                  // out_proj
  b->Args({tokens, D, kW.d_ff});            // FFN linear1
  b->Args({tokens, kW.d_ff, D});            // FFN linear2
  b->Args({tokens, D, kW.vocab});           // generator
  b->Args({kW.decode_batch, D, kW.vocab});  // generator in a W3 decode step (one position)
}

void BM_LinearForward(benchmark::State& state) {
  const int64_t rows = state.range(0), in = state.range(1), out = state.range(2);
  const auto x = random_floats(rows * in, 1), w = random_floats(out * in, 2),
             bias = random_floats(out, 3);
  std::vector<float> y(static_cast<size_t>(rows * out));
  for (auto _ : state) {
    cpu::linear_forward(x.data(), w.data(), bias.data(), y.data(), rows, in, out);
    benchmark::DoNotOptimize(y.data());
  }
  set_flops(state, 2.0 * static_cast<double>(rows * in) * static_cast<double>(out));
}
BENCHMARK(BM_LinearForward)->Apply(linear_shapes)->UseRealTime();

void BM_LinearBackward(benchmark::State& state) {
  const int64_t rows = state.range(0), in = state.range(1), out = state.range(2);
  const auto x = random_floats(rows * in, 1), w = random_floats(out * in, 2),
             dy = random_floats(rows * out, 3);
  std::vector<float> dx(static_cast<size_t>(rows * in)), dw(static_cast<size_t>(out * in)),
      db(static_cast<size_t>(out));
  for (auto _ : state) {
    cpu::linear_backward(x.data(), w.data(), dy.data(), dx.data(), dw.data(), db.data(), rows, in,
                         out);
    benchmark::DoNotOptimize(dw.data());
  }
  set_flops(state, 4.0 * static_cast<double>(rows * in) * static_cast<double>(out));
}
BENCHMARK(BM_LinearBackward)->Apply(linear_shapes)->UseRealTime();

// A decode step's products (one position per row: W3's 32 rows, W3b's 128) over weights packed
// once (kernels/cpu/packed_linear.h), and an encoder's (2,048 rows: decoding runs the encoder
// through the packed weights too), beside cblas_sgemm on the same shapes (BM_LinearForward).
void decode_shapes(benchmark::internal::Benchmark* b) {
  const int64_t D = kW.d_model;
  b->ArgNames({"rows", "in", "out"});
  for (int64_t rows : {kW.decode_batch, 4 * kW.decode_batch, int64_t{2048}}) {
    b->Args({rows, D, D});         // a projection
    b->Args({rows, D, kW.d_ff});   // FFN linear1
    b->Args({rows, kW.d_ff, D});   // FFN linear2
    b->Args({rows, D, kW.vocab});  // generator
  }
}

void BM_DecodePacked(benchmark::State& state) {
  const int64_t rows = state.range(0), in = state.range(1), out = state.range(2);
  const auto x = random_floats(rows * in, 1), w = random_floats(out * in, 2),
             bias = random_floats(out, 3);
  cpu::PackedWeight packed;
  cpu::pack_weight(w.data(), out, in, packed);
  std::vector<float> y(static_cast<size_t>(rows * out));
  for (auto _ : state) {
    cpu::packed_linear_forward(x.data(), packed, bias.data(), y.data(), rows);
    benchmark::DoNotOptimize(y.data());
  }
  set_flops(state, 2.0 * static_cast<double>(rows * in) * static_cast<double>(out));
}
BENCHMARK(BM_DecodePacked)->Apply(decode_shapes)->UseRealTime();

// cblas_sgemm on the same shapes, for comparison.
BENCHMARK(BM_LinearForward)->Apply(decode_shapes)->UseRealTime();

}  // namespace
}  // namespace attnscope::bench
