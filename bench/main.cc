// attnscope_bench: Google Benchmark microbenchmarks of every CPU kernel. Like the CLI, it runs
// with OMP_WAIT_POLICY=passive unless the environment chose a policy (libgomp reads it at load,
// so set it and start again once), so the kernels are timed as `attnscope` runs them.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstdlib>

int main(int argc, char** argv) {
  if (std::getenv("OMP_WAIT_POLICY") == nullptr) {
    setenv("OMP_WAIT_POLICY", "passive", 1);
    execv("/proc/self/exe", argv);
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
