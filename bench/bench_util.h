// Shared pieces of the kernel microbenchmarks: the workload shapes, seeded random buffers and the
// counters every benchmark reports (FLOP/s where the FLOPs are well defined, bytes/s otherwise).
#pragma once

#include <benchmark/benchmark.h>

#include <cstdint>
#include <vector>

#include "app/bench_workloads.h"
#include "core/rng.h"

namespace attnscope::bench {

// The shapes of `attnscope bench`'s workloads W1, W2 and W3, defined once in
// app/bench_workloads.h: the microbenchmarks time each kernel at the shapes those workloads run.
inline constexpr Sizes kW{};

inline std::vector<float> random_floats(int64_t n, uint64_t seed, float lo = -1.0f,
                                        float hi = 1.0f) {
  Rng rng(seed);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = rng.uniform(lo, hi);
  return v;
}

inline std::vector<int32_t> random_ids(int64_t n, int64_t vocab, uint64_t seed) {
  Rng rng(seed);
  std::vector<int32_t> v(static_cast<size_t>(n));
  for (int32_t& x : v) x = static_cast<int32_t>(rng.below(static_cast<uint64_t>(vocab)));
  return v;
}

// FLOPs of one iteration → a FLOP/s column ("FLOPS", shown with k/M/G suffixes).
inline void set_flops(benchmark::State& state, double flops_per_iteration) {
  state.counters["FLOPS"] =
      benchmark::Counter(flops_per_iteration, benchmark::Counter::kIsIterationInvariantRate,
                         benchmark::Counter::kIs1000);
}

// Bytes one iteration reads and writes at least once → bytes_per_second.
inline void set_bytes(benchmark::State& state, double bytes_per_iteration) {
  state.SetBytesProcessed(static_cast<int64_t>(bytes_per_iteration) * state.iterations());
}

}  // namespace attnscope::bench
