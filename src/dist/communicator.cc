#include "dist/communicator.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "core/error.h"
#include "dist/launch.h"
#if ATTNSCOPE_WITH_MPI
#include "dist/mpi/mpi_communicator.h"
#endif

namespace attnscope {

std::string LocalCommunicator::describe(int rank) const {
  return fmt::format("rank {} (pid {})", rank, getpid());
}

void LocalCommunicator::abort(const std::string& message) {
  fmt::print(stderr, "attnscope: error: {}\n", message);
  std::fflush(stderr);
  std::_Exit(1);
}

bool built_with_mpi() {
  return ATTNSCOPE_WITH_MPI != 0;
}

std::unique_ptr<Communicator> connect_world(const WorldOptions& options) {
  const Launch launch = detect_launch();
  if (!launch.by_mpi) {
    ATTN_CHECK(launch.slurm_tasks <= 1,
               "srun started {} tasks, but none was given an MPI process manager (no PMI or "
               "PMIx in the environment), so each would train alone: run `srun --mpi=pmix "
               "attnscope train …` (or --mpi=pmi2; `srun --mpi=list` shows what this cluster has)",
               launch.slurm_tasks);
    return std::make_unique<LocalCommunicator>();
  }
#if ATTNSCOPE_WITH_MPI
  return make_mpi_communicator(options, launch);
#else
  (void)options;
  ATTN_CHECK(launch.size == 1,
             "{} started this attnscope as one of {} ranks, but it was built without MPI, so "
             "each rank would train alone: build it with MPI (Debian: apt install "
             "libopenmpi-dev openmpi-bin, then cmake again; -DATTNSCOPE_MPI=ON is the default "
             "when MPI is found)",
             launch.by, launch.size > 0 ? fmt::format("{}", launch.size) : "several");
  return std::make_unique<LocalCommunicator>();
#endif
}

}  // namespace attnscope
