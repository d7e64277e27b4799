// attnscope bench: docs/benchmarks.md's CPU workloads (W1 attention, W1w attention with its
// weights, W2 a training step, W3 greedy and W3b beam-4 translation, W3m a Marian-shaped model's
// greedy and beam-4 translation) and, with --device cuda, the GPU translation workload W6, medians
// and minima over repetitions, as a table or one JSON object per line (the format
// scripts/bench-pytorch.py and scripts/bench-pytorch-cuda.py print for the peers).
#include <fmt/core.h>

#include <cctype>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "app/bench_workloads.h"
#include "app/commands.h"
#include "app/device_args.h"
#include "core/error.h"
#include "dist/communicator.h"
#include "dist/launch.h"

namespace attnscope::app {

namespace {

struct BenchArgs {
  std::vector<std::string> workloads;
  bool json = false;
  int repeat = 0;
  int warmup = 0;
  int threads = 0;
  bool small = false;
  bool capture = false;
  DeviceArgs device;
};

// Three decimals are more than the noise allows; the JSON stays readable.
double round3(double x) {
  return std::round(x * 1000.0) / 1000.0;
}

class Report {
 public:
  Report(const bench::Environment& env, bool json, bool small)
      : env_(env), json_(json), small_(small) {
    if (json_) return;
    fmt::print("attnscope bench{} — {} ({}, built for {}; attention kernel: {})\n",
               small_ ? " (--small shapes)" : "", env_.cpu_model, env_.isa, env_.build_isa,
               env_.attention_simd);
    fmt::print(
        "{} OpenMP threads, {} BLAS threads, {}, OMP_WAIT_POLICY={}, GOMP_SPINCOUNT={}, "
        "OPENBLAS_THREAD_TIMEOUT={}\n",
        env_.threads, env_.blas_threads, env_.blas,
        env_.omp_wait_policy.empty() ? "(unset)" : env_.omp_wait_policy,
        env_.gomp_spincount.empty() ? "(unset)" : env_.gomp_spincount,
        env_.blas_thread_timeout.empty() ? "(unset)" : env_.blas_thread_timeout);
    fmt::print("{:<5} {:<28} {:>13} {:>13}  {}\n", "", "", "median", "min", "");
  }

  void json_line(nlohmann::json j) const {
    j["impl"] = "attnscope";
    j["threads"] = env_.threads;
    j["blas_threads"] = env_.blas_threads;
    j["isa"] = env_.isa;
    j["build_isa"] = env_.build_isa;
    j["attention_simd"] = env_.attention_simd;
    j["omp_wait_policy"] = env_.omp_wait_policy;
    j["gomp_spincount"] = env_.gomp_spincount;
    j["blas_thread_timeout"] = env_.blas_thread_timeout;
    if (small_) j["small"] = true;
    if (step_weights_ != cpu::WeightFormat::kF32) {
      j["precision"] = cpu::weight_format_name(step_weights_);
      j["step_isa"] = cpu::quantized_linear_isa(step_weights_);
    }
    std::cout << j.dump() << std::endl;
  }

  void row(const char* workload, const std::string& what, const bench::Timing& t,
           const std::string& metric) const {
    fmt::print("{:<5} {:<28} {:>10.2f} ms {:>10.2f} ms  {}\n", workload, what, t.median_ms,
               t.min_ms, metric);
    std::fflush(stdout);
  }

  void w1(const bench::Sizes& s, const bench::W1Result& r) const {
    const char* mask = r.causal ? "causal" : "non-causal";
    if (!json_) {
      row("W1", fmt::format("{} fwd", mask), r.fwd, fmt::format("{:.1f} GFLOP/s", r.fwd_gflops));
      row("W1", fmt::format("{} fwd+bwd", mask), r.fwdbwd,
          fmt::format("{:.1f} GFLOP/s", r.fwdbwd_gflops));
      return;
    }
    json_line({{"workload", "W1"},
               {"causal", r.causal},
               {"B", s.B},
               {"H", s.H},
               {"N", s.N},
               {"d", s.d},
               {"fwd_ms", round3(r.fwd.median_ms)},
               {"fwd_min_ms", round3(r.fwd.min_ms)},
               {"fwdbwd_ms", round3(r.fwdbwd.median_ms)},
               {"fwdbwd_min_ms", round3(r.fwdbwd.min_ms)},
               {"gflops", round3(r.fwd_gflops)},
               {"fwdbwd_gflops", round3(r.fwdbwd_gflops)},
               {"fwd_keeps_weights", r.fwd_keeps_weights},
               {"repeat", r.fwd.repeat}});
  }

  void w1w(const bench::W1wResult& r) const {
    const char* mask = r.causal ? "causal" : "non-causal";
    if (!json_) {
      row("W1w", fmt::format("{} fwd + weights", mask), r.fwd,
          fmt::format("{:.2f}× W1 fwd ({:.2f} ms alongside)", r.ratio_to_w1, r.w1_fwd.median_ms));
      return;
    }
    json_line({{"workload", "W1w"},
               {"causal", r.causal},
               {"fwd_ms", round3(r.fwd.median_ms)},
               {"fwd_min_ms", round3(r.fwd.min_ms)},
               {"w1_fwd_ms", round3(r.w1_fwd.median_ms)},
               {"ratio_to_w1_fwd", round3(r.ratio_to_w1)},
               {"repeat", r.fwd.repeat}});
  }

  void w2(const bench::Sizes& s, const bench::W2Result& r) const {
    if (!json_) {
      row("W2", fmt::format("train step {}×{}→{}", s.batch, s.src_len, s.tgt_len), r.step,
          fmt::format("{:.0f} tgt tokens/s, peak RSS {:.0f} MiB", r.tgt_tokens_per_s,
                      r.peak_rss_mb));
      return;
    }
    json_line({{"workload", "W2"},
               {"tgt_tokens_per_s", round3(r.tgt_tokens_per_s)},
               {"step_ms", round3(r.step.median_ms)},
               {"step_min_ms", round3(r.step.min_ms)},
               {"tgt_tokens", r.tgt_tokens},
               {"peak_rss_mb", round3(r.peak_rss_mb)},
               {"base_rss_mb", round3(r.base_rss_mb)},
               {"peak_rss_reset", r.peak_rss_reset},
               {"params", r.params},
               {"loss", round3(r.loss)},
               {"repeat", r.step.repeat}});
  }

  void w3(const bench::Sizes& s, const bench::W3Result& r) const {
    const char* id = r.beam == 1 ? "W3" : "W3b";
    if (!json_) {
      row(id,
          fmt::format("{} {}×{}→{}, batch {}",
                      r.beam == 1 ? std::string("greedy") : fmt::format("beam {}", r.beam),
                      s.sentences, s.src_len, s.out_len, s.decode_batch),
          r.run,
          fmt::format("{:.0f} tokens/s{}", r.tokens_per_s,
                      r.capture ? ", every map captured" : ""));
      return;
    }
    json_line({{"workload", id},
               {"beam", r.beam},
               {"capture", r.capture},
               {"tokens_per_s", round3(r.tokens_per_s)},
               {"run_ms", round3(r.run.median_ms)},
               {"run_min_ms", round3(r.run.min_ms)},
               {"tokens", r.tokens},
               {"sentences", s.sentences},
               {"batch", s.decode_batch},
               {"repeat", r.run.repeat}});
  }

  void w7(const bench::W7Result& r) const {
    if (!json_) {
      row("W7", fmt::format("sum {} ({} ranks)", r.model, r.ranks), r.sum,
          fmt::format("{:.1f}M params, {:.1f} MB, {} buckets, bus {:.2f} Gbit/s",
                      static_cast<double>(r.params) / 1e6, r.bytes / 1e6, r.buckets, r.bus_gbit_s));
      if (r.steps) {
        row("W7", "step alone", r.step_alone, "forward + backward, no sums");
        row("W7", "step + sum overlapped", r.step_overlapped,
            fmt::format("waited {:.2f} ms after backward", r.overlapped_wait_ms));
        row("W7", "step + sum after backward", r.step_after,
            fmt::format("waited {:.2f} ms after backward", r.after_wait_ms));
      }
      return;
    }
    nlohmann::json j{{"workload", "W7"},
                     {"model", r.model},
                     {"ranks", r.ranks},
                     {"params", r.params},
                     {"bytes", r.bytes},
                     {"buckets", r.buckets},
                     {"sum_ms", round3(r.sum.median_ms)},
                     {"sum_min_ms", round3(r.sum.min_ms)},
                     {"bus_gbit_s", round3(r.bus_gbit_s)},
                     {"repeat", r.sum.repeat}};
    if (r.steps) {
      j["step_ms"] = round3(r.step_alone.median_ms);
      j["step_overlapped_ms"] = round3(r.step_overlapped.median_ms);
      j["step_after_ms"] = round3(r.step_after.median_ms);
      j["overlapped_wait_ms"] = round3(r.overlapped_wait_ms);
      j["after_wait_ms"] = round3(r.after_wait_ms);
    }
    json_line(j);
  }

  void w6(const bench::Sizes& s, const bench::W6Result& r) const {
    if (!json_) {
      fmt::print("W6 on {}\n", r.device);
      row("W6",
          fmt::format("beam {} {}×{}→{}, batch {}", s.gpu_beam, s.gpu_sentences, s.gpu_src_len,
                      s.gpu_out_len, s.gpu_batch),
          r.run, fmt::format("{:.0f} tokens/s", r.tokens_per_s));
      return;
    }
    json_line({{"workload", "W6"},
               {"device", r.device},
               {"tokens_per_s", round3(r.tokens_per_s)},
               {"run_ms", round3(r.run.median_ms)},
               {"run_min_ms", round3(r.run.min_ms)},
               {"tokens", r.tokens},
               {"sentences", s.gpu_sentences},
               {"src_len", s.gpu_src_len},
               {"out_len", s.gpu_out_len},
               {"batch", s.gpu_batch},
               {"beam", s.gpu_beam},
               {"d_model", s.gpu_d_model},
               {"layers", s.gpu_layers},
               {"vocab", s.gpu_vocab},
               {"repeat", r.run.repeat}});
  }

  void w3m(const bench::Sizes& s, const bench::W3mResult& r) const {
    if (!json_) {
      row("W3m",
          fmt::format("Marian {} {}×{}→{}, batch {}",
                      r.beam == 1 ? std::string("greedy") : fmt::format("beam {}", r.beam),
                      s.m_sentences, s.m_src_len, s.m_out_len, s.m_batch),
          r.run, fmt::format("{:.0f} tokens/s", r.tokens_per_s));
      return;
    }
    json_line({{"workload", "W3m"},
               {"beam", r.beam},
               {"tokens_per_s", round3(r.tokens_per_s)},
               {"run_ms", round3(r.run.median_ms)},
               {"run_min_ms", round3(r.run.min_ms)},
               {"tokens", r.tokens},
               {"sentences", s.m_sentences},
               {"batch", s.m_batch},
               {"vocab", s.m_vocab},
               {"repeat", r.run.repeat}});
  }

 private:
  bench::Environment env_;
  bool json_, small_;
  cpu::WeightFormat step_weights_ = cpu::WeightFormat::kF32;

 public:
  void set_step_weights(cpu::WeightFormat f) {
    step_weights_ = f;
    if (!json_ && f != cpu::WeightFormat::kF32)
      fmt::print("decode steps: {} weights ({})\n", cpu::weight_format_name(f),
                 cpu::quantized_linear_isa(f));
  }
};

// Workload names are matched without regard to case ("w1w" is W1w).
bool wants(const std::vector<std::string>& list, const std::string& id) {
  if (list.empty()) return true;
  const auto lower = [](std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
  };
  for (const std::string& w : list)
    if (lower(w) == lower(id)) return true;
  return false;
}

void run_bench(const BenchArgs& a) {
  const DeviceOptions device = device_options(a.device);  // before any work
  const bool gpu = device.device == Device::kCuda;
  for (const std::string& w : a.workloads) {
    const bool gpu_workload = wants({w}, "W6");
    ATTN_CHECK(!gpu || gpu_workload,
               "bench: {} is a CPU workload; --device cuda runs W6 (GPU translation)", w);
    ATTN_CHECK(gpu || !gpu_workload, "bench: {} runs on the GPU: add --device cuda", w);
  }
  const bool reduced = !gpu && device.precision && *device.precision != Precision::kF32;
  if (reduced) {
    ATTN_CHECK(!a.workloads.empty(),
               "bench --precision {} on the CPU applies to decoding: name W3, W3b or W3m",
               precision_name(*device.precision));
    for (const std::string& w : a.workloads)
      ATTN_CHECK(wants({w}, "W3") || wants({w}, "W3b") || wants({w}, "W3m"),
                 "bench --precision {} on the CPU applies to decoding (W3, W3b, W3m), not {}",
                 precision_name(*device.precision), w);
  }
  // W7 runs on ranks (`mpirun -np N attnscope bench W7`), and alone on them.
  std::unique_ptr<Communicator> ranks;
  if (wants(a.workloads, "W7") && !a.workloads.empty()) {
    for (const std::string& w : a.workloads)
      ATTN_CHECK(wants({w}, "W7"), "bench: run W7 on its own (it runs on every rank), not with {}",
                 w);
    ranks = connect_world(WorldOptions{});
  } else {
    const Launch launch = detect_launch();
    ATTN_CHECK(!launch.by_mpi || launch.size == 1,
               "bench: {} started it on several ranks, and only W7 runs on ranks (the others "
               "would time each rank's copy against the others)",
               launch.by);
  }
  const bench::Environment env = bench::setup_environment(a.threads);
  const bench::Sizes sizes = a.small ? bench::Sizes::small() : bench::Sizes{};
  bench::RunOptions opt;
  opt.repeat = a.repeat;
  opt.warmup = a.warmup;
  if (ranks) {
    const std::vector<bench::W7Result> results =
        bench::run_w7(a.small ? bench::Sizes::small() : bench::Sizes{}, opt, *ranks);
    if (ranks->rank() != 0) return;
    const Report report(env, a.json, a.small);
    for (const bench::W7Result& r : results) report.w7(r);
    return;
  }
  opt.capture = a.capture;
  if (reduced) opt.step_weights = step_weight_format(*device.precision);
  Report report(env, a.json, a.small);
  report.set_step_weights(opt.step_weights);
  if (gpu) {
    report.w6(sizes, bench::run_w6(sizes, opt, device));
    return;
  }
  if (wants(a.workloads, "W1"))
    for (bool causal : {false, true}) report.w1(sizes, bench::run_w1(sizes, causal, opt));
  if (wants(a.workloads, "W1w"))
    for (bool causal : {false, true}) report.w1w(bench::run_w1w(sizes, causal, opt));
  if (wants(a.workloads, "W2")) report.w2(sizes, bench::run_w2(sizes, opt));
  if (wants(a.workloads, "W3")) report.w3(sizes, bench::run_w3(sizes, 1, opt));
  if (wants(a.workloads, "W3b")) report.w3(sizes, bench::run_w3(sizes, 4, opt));
  if (wants(a.workloads, "W3m"))
    for (int64_t beam : {1, 4}) report.w3m(sizes, bench::run_w3m(sizes, beam, opt));
}

}  // namespace

void register_bench(CLI::App& app) {
  auto args = std::make_shared<BenchArgs>();
  CLI::App* cmd = app.add_subcommand(
      "bench",
      "Run the benchmark workloads of docs/benchmarks.md (all unless named):\n"
      "  W1   attention B=8 H=8 N=256 d=64, non-causal and causal, forward and forward+backward\n"
      "  W1w  W1 forward with every weight returned, and its ratio to W1 forward\n"
      "  W2   one training step of the small model (batch 64 × 32 → 32 tokens, Adam)\n"
      "  W3   greedy translation of 256 sentences × 32 tokens, batch 32, 32 output tokens\n"
      "  W3b  W3 with beam 4\n"
      "  W3m  a Marian (OPUS-MT) base-shape model, d 512, 6+6 layers, vocabulary 58101, SiLU:\n"
      "       greedy and beam-4 translation (Hugging Face's rules) of 64 sentences × 24 tokens,\n"
      "       batch 16, 24 output tokens\n"
      "  W6   (--device cuda) beam-4 translation with Transformer-base (vocabulary 32000) of 256\n"
      "       sentences × 32 tokens, batch 64, 32 output tokens, on the GPU\n"
      "  W7   (named only, on ranks: mpirun -np N attnscope bench W7) the gradient sum over the\n"
      "       ranks for the W2 and W6 models, and W2's step with it overlapped or after backward\n"
      "Medians (and minima) of repeated runs after warm-up; compare with a peer measured in the\n"
      "same run (scripts/bench-compare.sh), not with figures from another day.");
  cmd->add_option("workloads", args->workloads,
                  "Workloads to run: W1 W1w W2 W3 W3b W3m (default: all), W6 with --device cuda, "
                  "W7 on ranks")
      ->check(CLI::IsMember({"W1", "W1w", "W2", "W3", "W3b", "W3m", "W6", "W7"}, CLI::ignore_case));
  cmd->add_flag("--json", args->json, "One JSON object per line and workload");
  cmd->add_flag("--capture", args->capture,
                "W3, W3b: also capture every attention map of the output (as `attnscope "
                "attention` does), to measure its cost");
  cmd->add_option("--repeat", args->repeat,
                  "Timed repetitions (default: W1 20, W2 5, W3, W3b, W3m and W6 3 full runs)")
      ->check(CLI::Range(1, 100000));
  cmd->add_option("--warmup", args->warmup,
                  "Untimed repetitions first (default: W1 3, W2 2, W3 and W6 1 batch)")
      ->check(CLI::Range(1, 100000));
  cmd->add_option("--threads", args->threads,
                  "OpenMP and OpenBLAS threads (default: as the environment says)")
      ->check(CLI::Range(1, 1024));
  // Tiny shapes, for the tests: the same code paths in milliseconds.
  cmd->add_flag("--small", args->small, "Tiny shapes (tests)")->group("");
  add_device_options(cmd, args->device);
  cmd->callback([args] { run_bench(*args); });
}

}  // namespace attnscope::app
