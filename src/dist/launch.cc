#include "dist/launch.h"

#include <cstdlib>
#include <string>

namespace attnscope {

namespace {

// A variable's value as a count; 0 when unset or not a number.
int64_t env_count(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return 0;
  char* end = nullptr;
  const long long n = std::strtoll(v, &end, 10);
  return *end == '\0' && n > 0 ? n : 0;
}

bool env_set(const char* name) {
  return std::getenv(name) != nullptr;
}

}  // namespace

Launch detect_launch() {
  Launch l;
  l.slurm_tasks = env_count("SLURM_STEP_NUM_TASKS");
  if (env_set("OMPI_COMM_WORLD_SIZE")) {  // Open MPI's mpirun / mpiexec
    l.by_mpi = true;
    l.by = "mpirun (Open MPI)";
    l.size = env_count("OMPI_COMM_WORLD_SIZE");
  } else if (env_set("PMIX_RANK")) {  // srun --mpi=pmix, prterun (Open MPI 5)
    l.by_mpi = true;
    l.by = l.slurm_tasks > 0 ? "srun (PMIx)" : "a PMIx launcher";
    l.size = l.slurm_tasks;
  } else if (env_set("PMI_RANK") || env_set("PMI_SIZE")) {  // srun --mpi=pmi2, MPICH's mpiexec
    l.by_mpi = true;
    l.by = l.slurm_tasks > 0 ? "srun (PMI)" : "mpiexec (PMI)";
    l.size = env_count("PMI_SIZE") > 0 ? env_count("PMI_SIZE") : l.slurm_tasks;
  }
  return l;
}

}  // namespace attnscope
