// The benchmark workloads of docs/benchmarks.md (W1, W1w, W2, W3, W3b, W3m) as attnscope runs them,
// shared by `attnscope bench` and its test; their shapes (Sizes) are also the shapes the kernel
// microbenchmarks of bench/ time, so each workload is defined here once. Each returns medians and
// minima over timed repetitions after warm-up runs; the machines are noisy, so only the ratio to a
// peer measured in the same run counts (scripts/bench-compare.sh). Inputs and weights are random
// and seeded.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "dist/communicator.h"
#include "kernels/cpu/quantized_linear.h"
#include "nn/device.h"
#include "nn/marian_config.h"
#include "nn/model_config.h"

namespace attnscope::bench {

struct Sizes {
  // W1 / W1w: attention [B, H, N, d]
  int64_t B = 8, H = 8, N = 256, d = 64;
  // W2 / W3 model (the "small" preset) and batches
  int64_t d_model = 256, heads = 4, layers = 3, d_ff = 1024, vocab = 8000;
  int64_t batch = 64, src_len = 32, tgt_len = 32;
  int64_t sentences = 256, decode_batch = 32, out_len = 32;
  // W6 (GPU translation): Transformer-base, beam search over batches of sentences
  int64_t gpu_d_model = 512, gpu_heads = 8, gpu_layers = 6, gpu_d_ff = 2048, gpu_vocab = 32000;
  int64_t gpu_sentences = 256, gpu_batch = 64, gpu_beam = 4, gpu_src_len = 32, gpu_out_len = 32;
  // W3m: a Marian (OPUS-MT) Transformer-base shape (58101 = opus-mt-ROMANCE-en's vocabulary)
  int64_t m_d_model = 512, m_heads = 8, m_layers = 6, m_d_ff = 2048, m_vocab = 58101;
  int64_t m_sentences = 64, m_src_len = 24, m_batch = 16, m_out_len = 24;
  // Tiny shapes for tests (`--small`): the same code paths in milliseconds.
  static Sizes small();
};

// The W2 model: post-norm, ReLU, separate source and target embeddings and an untied generator
// with bias (nn.Transformer + two nn.Embedding + nn.Linear), at s's sizes.
ModelConfig w2_config(const Sizes& s);
// The W6 model: the same architecture at the gpu_* sizes (Transformer-base by default).
ModelConfig w6_config(const Sizes& s);

struct RunOptions {
  int repeat = 0;  // timed repetitions; 0 = the workload's default
  int warmup = 0;  // untimed repetitions first; 0 = the workload's default
  uint64_t seed = 1234;
  // W3, W3b, W3m: the decode steps' weights (--precision on the CPU).
  cpu::WeightFormat step_weights = cpu::WeightFormat::kF32;
  // W3, W3b: also capture every attention map of the hypotheses (what `attnscope attention`
  // keeps), to measure what capturing costs.
  bool capture = false;
};

// Median and minimum of the timed repetitions, in milliseconds.
struct Timing {
  double median_ms = 0, min_ms = 0;
  int repeat = 0;
};
// Runs fn `warmup` times, then `repeat` (≥ 1) timed times.
Timing time_runs(int warmup, int repeat, const std::function<void()>& fn);

struct W1Result {
  bool causal = false;
  bool fwd_keeps_weights = false;  // W1 forward asks for the output only (probs = null)
  Timing fwd, fwdbwd;
  double fwd_gflops = 0, fwdbwd_gflops = 0;  // from the medians
};
// Forward (and forward+backward) attention. FLOPs: 4·B·H·N²·d forward, 3.5× that forward+backward,
// halved when causal (the convention of docs/benchmarks.md's W4 table: only the visible half
// counts).
W1Result run_w1(const Sizes& s, bool causal, const RunOptions& o);

struct W1wResult {
  bool causal = false;
  Timing fwd;              // forward writing every weight [B, H, N, N] for the caller
  Timing w1_fwd;           // W1 forward, measured alternately with it
  double ratio_to_w1 = 0;  // fwd / w1_fwd (medians)
};
W1wResult run_w1w(const Sizes& s, bool causal, const RunOptions& o);

struct W2Result {
  Timing step;
  int64_t tgt_tokens = 0;  // per step
  double tgt_tokens_per_s = 0;
  double loss = 0;              // of the last step (sanity: about ln V at random init)
  double peak_rss_mb = 0;       // the process's peak resident memory from just before building the
                                // model to the end (VmHWM after writing 5 to /proc/self/clear_refs)
  double base_rss_mb = 0;       // resident memory just before building the model
  bool peak_rss_reset = false;  // false: clear_refs was not writable, peak covers the whole run
  int64_t params = 0;
};
W2Result run_w2(const Sizes& s, const RunOptions& o);

struct W3Result {
  int64_t beam = 1;  // W3: 1 (greedy); W3b: 4
  bool capture = false;
  Timing run;          // all sentences
  int64_t tokens = 0;  // output tokens per run
  double tokens_per_s = 0;
};
// W3 (beam 1) and W3b (beam 4): sentences random sources of src_len tokens in batches of
// decode_batch, out_len output tokens each (pad, bos and eos never chosen, so no hypothesis ends
// early) — the work of scripts/bench-pytorch.py's W3, W3c and W3b.
W3Result run_w3(const Sizes& s, int64_t beam, const RunOptions& o);

struct W6Result {
  Timing run;          // all sentences
  int64_t tokens = 0;  // output tokens per run (the best hypotheses')
  double tokens_per_s = 0;
  std::string device;  // where it ran (ModelInfo::device)
};
// Beam search of gpu_sentences random sentences of gpu_src_len tokens in batches of gpu_batch,
// gpu_out_len output tokens each (no early stop), with a randomly initialised W6 model placed
// by `device` (a GPU, normally: on a CPU it takes minutes).
W6Result run_w6(const Sizes& s, const RunOptions& o, const DeviceOptions& device);
// The W3m model: Hugging Face Marian's network (SiLU, sinusoid halves, post-norm without final
// norms, one shared and tied table with final_logits_bias, the decoder starting from the pad id
// V − 1, eos 0) at s's m_ sizes, random weights.
MarianConfig w3m_config(const Sizes& s);

struct W3mResult {
  int64_t beam = 1;
  Timing run;          // all sentences
  int64_t tokens = 0;  // output tokens per run (of the best hypothesis of each sentence)
  double tokens_per_s = 0;
};
// Greedy (beam 1) or beam search of m_sentences random sources of m_src_len tokens in batches of
// m_batch, by Hugging Face's rules (log-softmax, banned tokens, renormalised, HF's beam
// bookkeeping) with eos and pad banned, so every hypothesis has exactly m_out_len tokens — the
// same work as the PyTorch peer's (scripts/bench-pytorch.py W3m).
W3mResult run_w3m(const Sizes& s, int64_t beam, const RunOptions& o);

struct W7Result {
  std::string model;  // "small" (W2's model) or "base" (W6's: Transformer-base, vocabulary 32000)
  int ranks = 0;
  int64_t params = 0, buckets = 0;
  double bytes = 0;  // gradient bytes each rank sends into the sum (params · 4)
  Timing sum;        // the sum of every gradient over the ranks, all buckets started at once
  // Bus bandwidth of the sum: a ring allreduce moves 2·(N−1)/N · bytes through each rank's link.
  double bus_gbit_s = 0;
  // W2's training step on every rank (its own random batch; the small model only): forward and
  // backward alone, then with the gradient sum overlapped with backward (the buckets start as
  // backward finishes them, as training does), and started only after backward; the *_wait_ms
  // are how long the step waited for the sums after backward (medians).
  bool steps = false;
  Timing step_alone, step_overlapped, step_after;
  double overlapped_wait_ms = 0, after_wait_ms = 0;
};
// The gradient sums of data-parallel training on the ranks of `comm` (≥ 2: `mpirun -np N
// attnscope bench W7`), for the small model and, unless small_only, the base one. Every rank
// runs it; the timings are rank 0's.
std::vector<W7Result> run_w7(const Sizes& s, const RunOptions& o, Communicator& comm);

// What the numbers ran on.
struct Environment {
  std::string cpu_model;       // /proc/cpuinfo "model name"
  std::string isa;             // best of avx512f / avx2 / sse4.2 the CPU supports
  std::string build_isa;       // what the compiler targeted (-march)
  std::string attention_simd;  // the instruction set the attention kernel dispatched to
  int threads = 0;             // OpenMP threads
  int blas_threads = 0;        // OpenBLAS threads
  std::string blas;            // OpenBLAS core and build
  std::string omp_wait_policy;
  std::string gomp_spincount;       // GOMP_SPINCOUNT (app/wait_policy.h), "" when unset
  std::string blas_thread_timeout;  // OPENBLAS_THREAD_TIMEOUT: idle workers spin 2^n cycles
};
// Sets OpenMP and OpenBLAS threads when threads > 0, then describes the environment.
Environment setup_environment(int threads);

// Resident memory of this process now and at its peak, in MiB (from /proc/self/status).
double current_rss_mb();
double peak_rss_mb();

}  // namespace attnscope::bench
