// How this process was started: alone, or as one of several ranks by an MPI launcher (mpirun,
// mpiexec, srun), read from the environment the launcher sets. Only whether to join MPI is
// decided from it; the ranks themselves come from MPI (MPI_Comm_rank / MPI_Comm_size).
#pragma once

#include <cstdint>
#include <string>

namespace attnscope {

struct Launch {
  bool by_mpi = false;      // a launcher's variables are set: join MPI
  std::string by;           // which launcher, for messages ("mpirun (Open MPI)")
  int64_t size = 0;         // ranks the launcher announced; 0: it does not say
  int64_t slurm_tasks = 0;  // srun's task count of this step (SLURM_STEP_NUM_TASKS), 0: none
};

Launch detect_launch();

}  // namespace attnscope
