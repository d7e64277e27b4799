// docs/benchmarks.md's CPU workloads as attnscope runs them. Everything is built from seeded random
// numbers: the speed of a kernel or a training step does not depend on what the weights mean.
#include "app/bench_workloads.h"

#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <string_view>

#include "core/error.h"
#include "core/rng.h"
#include "core/tensor.h"
#include "decode/beam_search.h"
#include "kernels/cpu/attention.h"
#include "kernels/cpu/attention_tiles.h"
#include "nn/marian_model.h"
#include "nn/transformer.h"
#include "train/gradient_reducer.h"
#include "train/loss.h"
#include "train/optimizer.h"

namespace attnscope::bench {

namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

Timing summarise(std::vector<double> ms) {
  ATTN_CHECK(!ms.empty(), "bench: no timed repetitions");
  std::sort(ms.begin(), ms.end());
  const size_t n = ms.size();
  Timing t;
  t.median_ms = n % 2 ? ms[n / 2] : 0.5 * (ms[n / 2 - 1] + ms[n / 2]);
  t.min_ms = ms.front();
  t.repeat = static_cast<int>(n);
  return t;
}

int or_default(int v, int def) {
  return v > 0 ? v : def;
}

void fill_uniform(Tensor& t, Rng& rng, float lo, float hi) {
  for (int64_t i = 0; i < t.numel(); ++i) t[i] = rng.uniform(lo, hi);
}

// One attention problem of W1's shape: Q, K, V, the output and their gradients [B, H, N, d], the
// weights [B, H, N, N].
struct AttentionProblem {
  cpu::AttentionShape shape;
  Tensor q, k, v, out, dout, dq, dk, dv, probs;

  AttentionProblem(const Sizes& s, bool causal, uint64_t seed) {
    shape.B = s.B;
    shape.H = s.H;
    shape.Tq = shape.Tk = s.N;
    shape.d_k = shape.d_v = s.d;
    shape.scale = 1.0f / std::sqrt(static_cast<float>(s.d));
    shape.causal = causal;
    const Shape bhnd{s.B, s.H, s.N, s.d};
    Rng rng(seed);
    for (Tensor* t : {&q, &k, &v, &dout}) {
      *t = Tensor(bhnd);
      fill_uniform(*t, rng, -1.0f, 1.0f);
    }
    out = Tensor(bhnd);
    dq = Tensor(bhnd);
    dk = Tensor(bhnd);
    dv = Tensor(bhnd);
    probs = Tensor({s.B, s.H, s.N, s.N});
  }
  cpu::HeadView view(Tensor& t) const {
    return cpu::HeadView{t.data(), shape.H * shape.Tq * shape.d_k, shape.Tq * shape.d_k, shape.d_k};
  }
  // probs = nullptr asks for the output only.
  void forward(float* weights) {
    cpu::attention_forward(shape, view(q), view(k), view(v), view(out), weights);
  }
  // Backward accumulates into dq, dk, dv: they are not zeroed between repetitions (the work
  // is the same either way, and PyTorch's autograd.grad allocates fresh ones instead).
  void backward() {
    cpu::attention_backward(shape, view(q), view(k), view(v), probs.data(), view(dout), view(dq),
                            view(dk), view(dv));
  }
};

double gflop_per_s(double flops, double ms) {
  return ms > 0 ? flops / (ms * 1e-3) / 1e9 : 0;
}

double w1_forward_flops(const Sizes& s, bool causal) {
  const double f = 4.0 * static_cast<double>(s.B * s.H) * static_cast<double>(s.N * s.N) *
                   static_cast<double>(s.d);
  return causal ? f / 2 : f;
}

// rows × len ids drawn from the ordinary vocabulary (no pad/bos/eos/unk), so there is no
// padding; `first` (if ≥ 0) is put in front and `last` (if ≥ 0) at the end.
TokenBatch random_tokens(Rng& rng, int64_t rows, int64_t len, int64_t vocab, int32_t first,
                         int32_t last) {
  TokenBatch t;
  t.rows = rows;
  t.cols = len;
  t.ids.resize(static_cast<size_t>(rows * len));
  const int32_t lo = 4;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < len; ++c) {
      int32_t id = lo + static_cast<int32_t>(rng.below(static_cast<uint64_t>(vocab - lo)));
      if (c == 0 && first >= 0) id = first;
      if (c == len - 1 && last >= 0) id = last;
      t.ids[static_cast<size_t>(r * len + c)] = id;
    }
  return t;
}

// The value of a "Key:   1234 kB" line of /proc/self/status, in MiB; 0 when absent.
double status_mb(std::string_view key) {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.starts_with(key) && line.size() > key.size() && line[key.size()] == ':')
      return std::strtod(line.c_str() + key.size() + 1, nullptr) / 1024.0;
  return 0;
}

// Resets the peak resident set size to the current one (Linux ≥ 4.0).
bool reset_peak_rss() {
  std::ofstream f("/proc/self/clear_refs");
  if (!f) return false;
  f << "5";
  f.flush();
  return static_cast<bool>(f);
}

std::string cpu_model_name() {
  std::ifstream f("/proc/cpuinfo");
  std::string line;
  while (std::getline(f, line))
    if (line.starts_with("model name")) {
      const size_t colon = line.find(':');
      if (colon != std::string::npos) return line.substr(line.find_first_not_of(' ', colon + 1));
    }
  return "unknown";
}

}  // namespace

ModelConfig w2_config(const Sizes& s) {
  ModelConfig c;
  c.d_model = s.d_model;
  c.heads = s.heads;
  c.encoder_layers = c.decoder_layers = s.layers;
  c.d_ff = s.d_ff;
  c.src_vocab = c.tgt_vocab = s.vocab;
  c.dropout = 0.1f;
  c.max_len = std::max<int64_t>({256, s.src_len, s.tgt_len + 1, s.out_len + 1});
  c.share_embeddings = false;
  c.tie_output = false;
  c.validate();
  return c;
}

ModelConfig w6_config(const Sizes& s) {
  ModelConfig c;
  c.d_model = s.gpu_d_model;
  c.heads = s.gpu_heads;
  c.encoder_layers = c.decoder_layers = s.gpu_layers;
  c.d_ff = s.gpu_d_ff;
  c.src_vocab = c.tgt_vocab = s.gpu_vocab;
  c.max_len = std::max<int64_t>({256, s.gpu_src_len, s.gpu_out_len + 1});
  c.share_embeddings = false;
  c.tie_output = false;
  c.validate();
  return c;
}

Sizes Sizes::small() {
  Sizes s;
  s.B = 1;
  s.H = 2;
  s.N = 16;
  s.d = 8;
  s.d_model = 32;
  s.heads = 2;
  s.layers = 1;
  s.d_ff = 64;
  s.vocab = 64;
  s.batch = 4;
  s.src_len = 8;
  s.tgt_len = 8;
  s.sentences = 6;
  s.decode_batch = 4;
  s.out_len = 4;
  s.gpu_d_model = 64;
  s.gpu_heads = 4;
  s.gpu_layers = 1;
  s.gpu_d_ff = 128;
  s.gpu_vocab = 100;
  s.gpu_sentences = 6;
  s.gpu_batch = 4;
  s.gpu_beam = 2;
  s.gpu_src_len = 8;
  s.gpu_out_len = 5;
  s.m_d_model = 32;
  s.m_heads = 2;
  s.m_layers = 1;
  s.m_d_ff = 64;
  s.m_vocab = 101;
  s.m_sentences = 6;
  s.m_src_len = 8;
  s.m_batch = 4;
  s.m_out_len = 4;
  return s;
}

MarianConfig w3m_config(const Sizes& s) {
  MarianConfig c;
  c.d_model = s.m_d_model;
  c.heads = s.m_heads;
  c.encoder_layers = c.decoder_layers = s.m_layers;
  c.d_ff = s.m_d_ff;
  c.src_vocab = c.tgt_vocab = s.m_vocab;
  c.max_len = 512;  // OPUS-MT's max_position_embeddings
  c.activation = cpu::Activation::kSilu;
  c.positions = Positions::kSinusoidHalves;
  c.padding_mask = PaddingMask::kSourceTail;
  c.norm = NormPlacement::kPost;
  c.final_norms = false;
  c.share_embeddings = true;
  c.tie_output = true;
  c.generator_bias = true;
  c.embed_scale = true;
  c.dropout = 0.0f;
  c.eos_id = 0;
  c.unk_id = 1;
  c.pad_id = c.bos_id = c.decoder_start_id = static_cast<int32_t>(s.m_vocab - 1);
  GenerationConfig& g = c.generation;
  g.num_beams = 4;
  g.max_length = s.m_out_len + 1;
  g.eos_token_id = c.eos_id;
  g.decoder_start_token_id = c.decoder_start_id;
  g.forced_eos_token_id = c.eos_id;
  g.bad_token_ids = {c.pad_id};
  g.renormalize_logits = true;
  c.validate();
  return c;
}

Timing time_runs(int warmup, int repeat, const std::function<void()>& fn) {
  ATTN_CHECK(repeat >= 1, "bench: --repeat must be at least 1, got {}", repeat);
  for (int i = 0; i < warmup; ++i) fn();
  std::vector<double> ms;
  ms.reserve(static_cast<size_t>(repeat));
  for (int i = 0; i < repeat; ++i) {
    const auto t0 = Clock::now();
    fn();
    ms.push_back(ms_since(t0));
  }
  return summarise(std::move(ms));
}

W1Result run_w1(const Sizes& s, bool causal, const RunOptions& o) {
  const int warmup = or_default(o.warmup, 3), repeat = or_default(o.repeat, 20);
  AttentionProblem p(s, causal, o.seed);
  W1Result r;
  r.causal = causal;
  r.fwd = time_runs(warmup, repeat, [&] { p.forward(nullptr); });  // the output only
  r.fwdbwd = time_runs(warmup, repeat, [&] {
    p.forward(p.probs.data());  // backward reads the weights
    p.backward();
  });
  const double flops = w1_forward_flops(s, causal);
  r.fwd_gflops = gflop_per_s(flops, r.fwd.median_ms);
  r.fwdbwd_gflops = gflop_per_s(3.5 * flops, r.fwdbwd.median_ms);
  return r;
}

W1wResult run_w1w(const Sizes& s, bool causal, const RunOptions& o) {
  const int warmup = or_default(o.warmup, 3), repeat = or_default(o.repeat, 20);
  AttentionProblem p(s, causal, o.seed);
  W1wResult r;
  r.causal = causal;
  // Alternate the two so that a noisy neighbour slows both alike.
  std::vector<double> with, without;
  for (int i = 0; i < warmup; ++i) {
    p.forward(p.probs.data());
    p.forward(nullptr);
  }
  for (int i = 0; i < repeat; ++i) {
    auto t0 = Clock::now();
    p.forward(p.probs.data());
    with.push_back(ms_since(t0));
    t0 = Clock::now();
    p.forward(nullptr);
    without.push_back(ms_since(t0));
  }
  r.fwd = summarise(std::move(with));
  r.w1_fwd = summarise(std::move(without));
  r.ratio_to_w1 = r.w1_fwd.median_ms > 0 ? r.fwd.median_ms / r.w1_fwd.median_ms : 0;
  return r;
}

W2Result run_w2(const Sizes& s, const RunOptions& o) {
  const int warmup = or_default(o.warmup, 2), repeat = or_default(o.repeat, 5);
  W2Result r;
  r.peak_rss_reset = reset_peak_rss();
  r.base_rss_mb = current_rss_mb();
  {
    const ModelConfig cfg = w2_config(s);
    Transformer model(cfg);
    model.init_weights(o.seed);
    model.alloc_grads();
    r.params = model.num_params();
    cpu::AdamConfig adam_cfg;  // β 0.9/0.98, ε 1e-9
    AdamOptimizer adam(adam_cfg);
    Rng rng(o.seed + 1);
    // src: tokens then eos; tgt_in: bos then tokens; tgt_out: the same tokens then eos.
    const TokenBatch src = random_tokens(rng, s.batch, s.src_len, s.vocab, -1, cfg.eos_id);
    TokenBatch tgt_out = random_tokens(rng, s.batch, s.tgt_len, s.vocab, -1, cfg.eos_id);
    TokenBatch tgt_in = tgt_out;
    for (int64_t b = 0; b < s.batch; ++b) {
      for (int64_t t = s.tgt_len - 1; t > 0; --t)
        tgt_in.ids[static_cast<size_t>(b * s.tgt_len + t)] =
            tgt_out.ids[static_cast<size_t>(b * s.tgt_len + t - 1)];
      tgt_in.ids[static_cast<size_t>(b * s.tgt_len)] = cfg.bos_id;
    }
    r.tgt_tokens = s.batch * s.tgt_len;
    Tensor d_logits;
    uint64_t step = 0;
    const float label_smoothing = 0.1f, lr = 1e-4f;
    // One training step as the trainer takes it (without clipping and the schedule, which
    // PyTorch's peer does not run either): zero grads, forward with dropout, label-smoothed
    // loss, backward, Adam.
    r.step = time_runs(warmup, repeat, [&] {
      ++step;
      model.zero_grads();
      const Tensor& logits =
          model.forward(src, tgt_in, ForwardOptions{true, counter_hash(o.seed, step)});
      const LossValue loss = sequence_loss(logits, tgt_out, cfg.pad_id, label_smoothing, &d_logits);
      model.backward(d_logits);
      adam.step(model, lr);
      r.loss = loss.mean;
    });
    r.peak_rss_mb = peak_rss_mb();
  }
  r.tgt_tokens_per_s = static_cast<double>(r.tgt_tokens) / (r.step.median_ms * 1e-3);
  return r;
}

namespace {

// Like time_runs, with every rank starting each repetition together.
Timing time_together(Communicator& comm, int warmup, int repeat, const std::function<void()>& fn) {
  for (int i = 0; i < warmup; ++i) {
    comm.barrier();
    fn();
  }
  std::vector<double> ms;
  for (int i = 0; i < repeat; ++i) {
    comm.barrier();
    const auto t0 = Clock::now();
    fn();
    ms.push_back(ms_since(t0));
  }
  return summarise(std::move(ms));
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n == 0 ? 0 : n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

}  // namespace

std::vector<W7Result> run_w7(const Sizes& s, const RunOptions& o, Communicator& comm) {
  ATTN_CHECK(comm.size() >= 2,
             "bench: W7 sums gradients over ranks: start it with several, e.g. `mpirun -np 2 "
             "attnscope bench W7`");
  const int warmup = or_default(o.warmup, 2), repeat = or_default(o.repeat, 10);
  std::vector<W7Result> results;
  for (const std::string name : {"small", "base"}) {
    const ModelConfig cfg = name == "small" ? w2_config(s) : w6_config(s);
    Transformer model(cfg);
    model.init_weights(o.seed);
    model.alloc_grads();
    GradientReducer reducer(comm, model);
    W7Result r;
    r.model = name;
    r.ranks = comm.size();
    r.params = model.num_params();
    r.buckets = reducer.num_buckets();
    r.bytes = 4.0 * static_cast<double>(r.params);
    // The gradients stay as they are; summing them again and again changes nothing measured.
    r.sum = time_together(comm, warmup, repeat, [&] { reducer.finish(); });
    r.bus_gbit_s = 2.0 * (r.ranks - 1) / r.ranks * r.bytes * 8 / (r.sum.median_ms * 1e-3) / 1e9;
    if (name == "small") {
      r.steps = true;
      Rng rng(o.seed + 1 + static_cast<uint64_t>(comm.rank()));
      const TokenBatch src = random_tokens(rng, s.batch, s.src_len, s.vocab, -1, cfg.eos_id);
      const TokenBatch tgt = random_tokens(rng, s.batch, s.tgt_len, s.vocab, cfg.bos_id, -1);
      Tensor d_logits;
      uint64_t step = 0;
      const auto forward = [&] {
        ++step;
        model.zero_grads();
        const Tensor& logits =
            model.forward(src, tgt, ForwardOptions{true, counter_hash(o.seed, step)});
        sequence_loss(logits, tgt, cfg.pad_id, 0.1f, &d_logits);
      };
      const int step_warmup = or_default(o.warmup, 1), step_repeat = or_default(o.repeat, 5);
      r.step_alone = time_together(comm, step_warmup, step_repeat, [&] {
        forward();
        model.backward(d_logits);
      });
      std::vector<double> waits;
      r.step_overlapped = time_together(comm, step_warmup, step_repeat, [&] {
        forward();
        model.backward_reporting(d_logits, reducer.grad_final());
        reducer.finish();
        waits.push_back(reducer.last_wait_s() * 1e3);
      });
      r.overlapped_wait_ms = median(waits);
      waits.clear();
      r.step_after = time_together(comm, step_warmup, step_repeat, [&] {
        forward();
        model.backward(d_logits);
        reducer.finish();
        waits.push_back(reducer.last_wait_s() * 1e3);
      });
      r.after_wait_ms = median(waits);
    }
    results.push_back(r);
  }
  return results;
}

W3Result run_w3(const Sizes& s, int64_t beam, const RunOptions& o) {
  const int warmup = or_default(o.warmup, 1), repeat = or_default(o.repeat, 3);
  const ModelConfig cfg = w2_config(s);
  Transformer model(cfg);
  model.init_weights(o.seed);
  model.set_step_weights(o.step_weights);
  Rng rng(o.seed + 2);
  // Sentences of src_len tokens, the last one eos, in batches of decode_batch.
  std::vector<TokenBatch> batches;
  for (int64_t done = 0; done < s.sentences; done += s.decode_batch)
    batches.push_back(random_tokens(rng, std::min(s.decode_batch, s.sentences - done), s.src_len,
                                    s.vocab, -1, cfg.eos_id));
  DecodeOptions opt;  // exactly out_len tokens per sentence: no stop at eos
  opt.beam = beam;
  opt.length_penalty = 0.0f;  // the best hypothesis: the highest Σ log p, as the peer's
  opt.stop_at_eos = false;
  if (o.capture) opt.capture.emplace();  // every map of every kind, layer and head
  opt.max_len_ratio = 0.0f;
  opt.max_len_extra = s.out_len;
  W3Result r;
  r.beam = beam;
  r.capture = o.capture;
  int64_t tokens = 0;
  // Warm-up: the first batch (the caches and buffers grow once).
  for (int i = 0; i < warmup; ++i) beam_search(model, batches.front(), opt);
  r.run = time_runs(0, repeat, [&] {
    tokens = 0;
    for (const TokenBatch& b : batches)
      for (const auto& hyps : beam_search(model, b, opt))
        tokens += static_cast<int64_t>(hyps.front().tokens.size());
  });
  ATTN_CHECK(tokens == s.sentences * s.out_len,
             "bench W3 (beam {}): decoded {} tokens, expected {} sentences × {} tokens", beam,
             tokens, s.sentences, s.out_len);
  r.tokens = tokens;
  r.tokens_per_s = static_cast<double>(tokens) / (r.run.median_ms * 1e-3);
  return r;
}

W6Result run_w6(const Sizes& s, const RunOptions& o, const DeviceOptions& device) {
  const int warmup = or_default(o.warmup, 1), repeat = or_default(o.repeat, 3);
  const ModelConfig cfg = w6_config(s);
  auto host = std::make_unique<Transformer>(cfg);
  host->init_weights(o.seed);
  std::unique_ptr<Seq2SeqModel> model = to_device(std::move(host), device);
  Rng rng(o.seed + 3);
  std::vector<TokenBatch> batches;
  for (int64_t done = 0; done < s.gpu_sentences; done += s.gpu_batch)
    batches.push_back(random_tokens(rng, std::min(s.gpu_batch, s.gpu_sentences - done),
                                    s.gpu_src_len, s.gpu_vocab, -1, cfg.eos_id));
  DecodeOptions opt;  // exactly gpu_out_len tokens per sentence: no stop at eos
  opt.beam = s.gpu_beam;
  opt.stop_at_eos = false;
  opt.max_len_ratio = 0.0f;
  opt.max_len_extra = s.gpu_out_len;
  W6Result r;
  r.device = model->info().device;
  int64_t tokens = 0;
  for (int i = 0; i < warmup; ++i) beam_search(*model, batches.front(), opt);
  r.run = time_runs(0, repeat, [&] {
    tokens = 0;
    for (const TokenBatch& b : batches)
      for (const auto& hyps : beam_search(*model, b, opt))
        tokens += static_cast<int64_t>(hyps.front().tokens.size());
  });
  ATTN_CHECK(tokens == s.gpu_sentences * s.gpu_out_len,
             "bench W6: decoded {} tokens, expected {} sentences × {} tokens", tokens,
             s.gpu_sentences, s.gpu_out_len);
  r.tokens = tokens;
  r.tokens_per_s = static_cast<double>(tokens) / (r.run.median_ms * 1e-3);
  return r;
}

W3mResult run_w3m(const Sizes& s, int64_t beam, const RunOptions& o) {
  const int warmup = or_default(o.warmup, 1), repeat = or_default(o.repeat, 3);
  const MarianConfig cfg = w3m_config(s);
  MarianModel model(cfg);
  model.init_weights(o.seed);
  model.set_step_weights(o.step_weights);
  Rng rng(o.seed + 3);
  // Sources of m_src_len tokens ending in eos (never the pad id), in batches of m_batch.
  std::vector<TokenBatch> batches;
  for (int64_t done = 0; done < s.m_sentences; done += s.m_batch)
    batches.push_back(random_tokens(rng, std::min(s.m_batch, s.m_sentences - done), s.m_src_len,
                                    s.m_vocab - 1, -1, cfg.eos_id));
  // Hugging Face's rules with eos banned too (and no forced eos): every hypothesis runs to
  // max_length, m_out_len new tokens, as the peer's.
  DecodeOptions opt;
  opt.beam = beam;
  opt.nbest = 1;
  HfRules& h = opt.hf.emplace();
  h.max_length = s.m_out_len + 1;
  h.banned = {cfg.pad_id, cfg.eos_id};
  h.renormalize = true;
  W3mResult r;
  r.beam = beam;
  int64_t tokens = 0;
  for (int i = 0; i < warmup; ++i) beam_search(model, batches.front(), opt);
  r.run = time_runs(0, repeat, [&] {
    tokens = 0;
    for (const TokenBatch& b : batches)
      for (const auto& hyps : beam_search(model, b, opt))
        tokens += static_cast<int64_t>(hyps.front().tokens.size());
  });
  ATTN_CHECK(tokens == s.m_sentences * s.m_out_len,
             "bench W3m: decoded {} tokens, expected {} sentences × {} tokens", tokens,
             s.m_sentences, s.m_out_len);
  r.tokens = tokens;
  r.tokens_per_s = static_cast<double>(tokens) / (r.run.median_ms * 1e-3);
  return r;
}

Environment setup_environment(int threads) {
  if (threads > 0) {
    omp_set_num_threads(threads);
    openblas_set_num_threads(threads);
  }
  Environment e;
  e.cpu_model = cpu_model_name();
  __builtin_cpu_init();
  e.isa = __builtin_cpu_supports("avx512f")  ? "AVX-512"
          : __builtin_cpu_supports("avx2")   ? "AVX2"
          : __builtin_cpu_supports("sse4.2") ? "SSE4.2"
                                             : "baseline";
#if defined(__AVX512F__)
  e.build_isa = "AVX-512";
#elif defined(__AVX2__)
  e.build_isa = "AVX2";
#elif defined(__SSE4_2__)
  e.build_isa = "SSE4.2";
#else
  e.build_isa = "baseline";
#endif
  e.attention_simd = cpu::attention_simd_target();
  e.threads = omp_get_max_threads();
  e.blas_threads = openblas_get_num_threads();
  e.blas = std::string("OpenBLAS ") + openblas_get_corename() + " (" + openblas_get_config() + ")";
  while (!e.blas.empty() && e.blas.back() == ' ') e.blas.pop_back();
  const char* policy = std::getenv("OMP_WAIT_POLICY");
  e.omp_wait_policy = policy ? policy : "";
  const char* spin = std::getenv("GOMP_SPINCOUNT");
  e.gomp_spincount = spin ? spin : "";
  const char* timeout = std::getenv("OPENBLAS_THREAD_TIMEOUT");
  e.blas_thread_timeout = timeout ? timeout : "";
  return e;
}

double current_rss_mb() {
  return status_mb("VmRSS");
}
double peak_rss_mb() {
  return status_mb("VmHWM");
}

}  // namespace attnscope::bench
