#include "runtime.h"

#include <cblas.h>
#include <omp.h>

#include <atomic>

#include "app/bench_workloads.h"

namespace attnscope::python {

namespace {
std::atomic<int> g_threads{0};  // set_num_threads; 0: as the environment says
// What the environment says (OMP_NUM_THREADS, OPENBLAS_NUM_THREADS, or the cores), read when the
// module loads.
const int g_default_threads = omp_get_max_threads();
const int g_default_blas_threads = openblas_get_num_threads();
}  // namespace

void apply_thread_setting() {
  const int set = g_threads.load();
  const int n = set > 0 ? set : g_default_threads;
  const int blas = set > 0 ? set : g_default_blas_threads;
  if (omp_get_max_threads() != n) omp_set_num_threads(n);
  if (openblas_get_num_threads() != blas) openblas_set_num_threads(blas);
}

void register_runtime(py::module_& m) {
  m.def(
      "set_num_threads",
      [](int n) {
        if (n < 0 || n > 1024)
          throw py::value_error(
              "set_num_threads: n must lie in [0, 1024] (0: as the environment says)");
        g_threads.store(n);
        apply_thread_setting();
      },
      py::arg("n"),
      "Threads for the engine's OpenMP loops and OpenBLAS (0: as OMP_NUM_THREADS or the cores "
      "say). Applies to every later call, from any Python thread.");
  m.def(
      "_environment",
      [] {
        apply_thread_setting();
        const bench::Environment e = bench::setup_environment(0);
        py::dict d;
        d["cpu"] = e.cpu_model;
        d["isa"] = e.isa;
        d["build_isa"] = e.build_isa;
        d["attention_simd"] = e.attention_simd;
        d["threads"] = e.threads;
        d["blas_threads"] = e.blas_threads;
        d["blas"] = e.blas;
        d["omp_wait_policy"] = e.omp_wait_policy;
        d["openblas_thread_timeout"] = e.blas_thread_timeout;
        return d;
      },
      "The engine's view of the machine and its threads (attnscope.runtime_info() adds what the "
      "import could set).");
}

}  // namespace attnscope::python
