// The element-wise and row-wise kernels at the W1/W2 shapes: softmax, layernorm, cross-entropy,
// embedding, Adam, activations and dropout. Their speed is bounded by memory, so they report
// bytes/s (each input and output counted once).
#include "kernels/cpu/activation.h"
#include "kernels/cpu/adam.h"
#include "kernels/cpu/cross_entropy.h"
#include "kernels/cpu/dropout.h"
#include "kernels/cpu/embedding.h"
#include "kernels/cpu/layernorm.h"
#include "kernels/cpu/softmax.h"
#include "nn/transformer.h"

#include "bench_util.h"

namespace attnscope::bench {
namespace {

constexpr double kF = sizeof(float);
// W2's target tokens per step (64 sentences × 32) and W1's score rows (B·H·N).
constexpr int64_t kTokens = kW.batch * kW.tgt_len, kScoreRows = kW.B * kW.H * kW.N;

// Rows × n: the W1 score rows (8·8·256 × 256) and a W2 model's 2048 tokens × d_model 256 rows.
void BM_SoftmaxForward(benchmark::State& state) {
  const int64_t rows = state.range(0), n = state.range(1);
  const auto x = random_floats(rows * n, 1, -4.0f, 4.0f);
  std::vector<float> y(x.size());
  for (auto _ : state) {
    cpu::softmax_forward(x.data(), nullptr, y.data(), rows, n);
    benchmark::DoNotOptimize(y.data());
  }
  set_bytes(state, 2 * kF * static_cast<double>(rows * n));
}
BENCHMARK(BM_SoftmaxForward)->Args({kScoreRows, kW.N})->ArgNames({"rows", "n"})->UseRealTime();

void BM_SoftmaxBackward(benchmark::State& state) {
  const int64_t rows = state.range(0), n = state.range(1);
  const auto y = random_floats(rows * n, 1, 0.0f, 1.0f), dy = random_floats(rows * n, 2);
  std::vector<float> dx(y.size());
  for (auto _ : state) {
    cpu::softmax_backward(y.data(), dy.data(), dx.data(), rows, n);
    benchmark::DoNotOptimize(dx.data());
  }
  set_bytes(state, 3 * kF * static_cast<double>(rows * n));
}
BENCHMARK(BM_SoftmaxBackward)->Args({kScoreRows, kW.N})->ArgNames({"rows", "n"})->UseRealTime();

void BM_LayerNormForward(benchmark::State& state) {
  const int64_t rows = state.range(0), n = state.range(1);
  const auto x = random_floats(rows * n, 1), g = random_floats(n, 2), b = random_floats(n, 3);
  std::vector<float> y(x.size()), mean(static_cast<size_t>(rows)), rstd(mean.size());
  for (auto _ : state) {
    cpu::layernorm_forward(x.data(), g.data(), b.data(), y.data(), mean.data(), rstd.data(), rows,
                           n, 1e-5f);
    benchmark::DoNotOptimize(y.data());
  }
  set_bytes(state, 2 * kF * static_cast<double>(rows * n));
}
BENCHMARK(BM_LayerNormForward)->Args({kTokens, kW.d_model})->ArgNames({"rows", "n"})->UseRealTime();

void BM_LayerNormBackward(benchmark::State& state) {
  const int64_t rows = state.range(0), n = state.range(1);
  const auto x = random_floats(rows * n, 1), g = random_floats(n, 2), b = random_floats(n, 3),
             dy = random_floats(rows * n, 4);
  std::vector<float> y(x.size()), mean(static_cast<size_t>(rows)), rstd(mean.size());
  std::vector<float> dx(x.size()), dg(static_cast<size_t>(n)), db(dg.size());
  cpu::layernorm_forward(x.data(), g.data(), b.data(), y.data(), mean.data(), rstd.data(), rows, n,
                         1e-5f);
  for (auto _ : state) {
    cpu::layernorm_backward(x.data(), g.data(), mean.data(), rstd.data(), dy.data(), dx.data(),
                            dg.data(), db.data(), rows, n);
    benchmark::DoNotOptimize(dx.data());
  }
  set_bytes(state, 3 * kF * static_cast<double>(rows * n));
}
BENCHMARK(BM_LayerNormBackward)
    ->Args({kTokens, kW.d_model})
    ->ArgNames({"rows", "n"})
    ->UseRealTime();

// W2's loss: 2048 target tokens over a vocabulary of 8000, label smoothing 0.1, with dlogits.
void BM_CrossEntropy(benchmark::State& state) {
  const int64_t N = state.range(0), V = state.range(1);
  const auto logits = random_floats(N * V, 1, -3.0f, 3.0f);
  auto targets = random_ids(N, V, 2);
  for (int32_t& t : targets) t = t == 0 ? 1 : t;  // no ignored tokens
  std::vector<float> dlogits(logits.size());
  const bool grad = state.range(2) != 0;
  for (auto _ : state) {
    auto r = cpu::cross_entropy(logits.data(), targets.data(), grad ? dlogits.data() : nullptr, N,
                                V, 0, 0.1f, 1.0f / static_cast<float>(N));
    benchmark::DoNotOptimize(r);
  }
  set_bytes(state, (grad ? 2 : 1) * kF * static_cast<double>(N * V));
}
BENCHMARK(BM_CrossEntropy)
    ->Args({kTokens, kW.vocab, 0})
    ->Args({kTokens, kW.vocab, 1})
    ->ArgNames({"tokens", "vocab", "grad"})
    ->UseRealTime();

void BM_EmbeddingForward(benchmark::State& state) {
  const int64_t n = state.range(0), dim = state.range(1), vocab = state.range(2);
  const auto table = random_floats(vocab * dim, 1);
  const auto ids = random_ids(n, vocab, 2);
  std::vector<float> out(static_cast<size_t>(n * dim));
  for (auto _ : state) {
    cpu::embedding_forward(ids.data(), table.data(), out.data(), n, dim, vocab, 16.0f);
    benchmark::DoNotOptimize(out.data());
  }
  set_bytes(state, 2 * kF * static_cast<double>(n * dim));
}
BENCHMARK(BM_EmbeddingForward)
    ->Args({kTokens, kW.d_model, kW.vocab})
    ->ArgNames({"tokens", "dim", "vocab"})
    ->UseRealTime();

void BM_EmbeddingBackward(benchmark::State& state) {
  const int64_t n = state.range(0), dim = state.range(1), vocab = state.range(2);
  const auto dout = random_floats(n * dim, 1);
  const auto ids = random_ids(n, vocab, 2);
  std::vector<float> dtable(static_cast<size_t>(vocab * dim));
  for (auto _ : state) {
    cpu::embedding_backward(ids.data(), dout.data(), dtable.data(), n, dim, 16.0f);
    benchmark::DoNotOptimize(dtable.data());
  }
  set_bytes(state, 2 * kF * static_cast<double>(n * dim));
}
BENCHMARK(BM_EmbeddingBackward)
    ->Args({kTokens, kW.d_model, kW.vocab})
    ->ArgNames({"tokens", "dim", "vocab"})
    ->UseRealTime();

// The W2 model's parameter count (about 11.6 M), from its config.
const int64_t kW2Params = [] {
  Transformer model(w2_config(kW));
  return model.num_params();
}();

// One Adam update of n parameters: an embedding table (8000 × 256) and the whole W2 model
// (as one buffer).
void BM_Adam(benchmark::State& state) {
  const int64_t n = state.range(0);
  auto p = random_floats(n, 1);
  const auto g = random_floats(n, 2);
  std::vector<float> m(static_cast<size_t>(n)), v(static_cast<size_t>(n));
  cpu::AdamConfig cfg;
  cfg.lr = 1e-4f;
  int64_t step = 0;
  for (auto _ : state) {
    cpu::adam_update(p.data(), g.data(), m.data(), v.data(), n, cfg, ++step);
    benchmark::DoNotOptimize(p.data());
  }
  set_bytes(state, 7 * kF * static_cast<double>(n));  // read p g m v, write p m v
}
BENCHMARK(BM_Adam)->Arg(kW.vocab* kW.d_model)->Arg(kW2Params)->ArgName("params")->UseRealTime();

// FFN activations of W2: 2048 tokens × d_ff 1024.
void BM_Activation(benchmark::State& state) {
  const int64_t n = state.range(0);
  const auto a = state.range(1) ? cpu::Activation::kGelu : cpu::Activation::kRelu;
  const auto x = random_floats(n, 1);
  std::vector<float> y(x.size());
  for (auto _ : state) {
    cpu::activation_forward(a, x.data(), y.data(), n);
    benchmark::DoNotOptimize(y.data());
  }
  set_bytes(state, 2 * kF * static_cast<double>(n));
}
BENCHMARK(BM_Activation)
    ->Args({kTokens * kW.d_ff, 0})
    ->Args({kTokens * kW.d_ff, 1})
    ->ArgNames({"n", "gelu"})
    ->UseRealTime();

// Dropout over the W1 weights [8, 8, 256, 256] and over one W2 activation [2048, 256].
void BM_DropoutForward(benchmark::State& state) {
  const int64_t n = state.range(0);
  const auto x = random_floats(n, 1);
  std::vector<float> y(x.size());
  for (auto _ : state) {
    cpu::dropout_forward(x.data(), y.data(), n, 0.1f, 42);
    benchmark::DoNotOptimize(y.data());
  }
  set_bytes(state, 2 * kF * static_cast<double>(n));
}
BENCHMARK(BM_DropoutForward)
    ->Arg(kScoreRows* kW.N)
    ->Arg(kTokens* kW.d_model)
    ->ArgName("n")
    ->UseRealTime();

}  // namespace
}  // namespace attnscope::bench
