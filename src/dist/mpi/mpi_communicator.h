// The Communicator over MPI (dist/communicator.h): MPI_COMM_WORLD's ranks, with
// MPI_THREAD_MULTIPLE (the caller's thread and the communication thread call MPI at once, each on
// its own duplicate of the world, so their collectives never interleave). Built only with MPI.
#pragma once

#include <memory>

#include "dist/communicator.h"
#include "dist/launch.h"

namespace attnscope {

// Initialises MPI (finalised when the communicator is destroyed, after a barrier: every rank
// ends together) and starts the communication thread.
std::unique_ptr<Communicator> make_mpi_communicator(const WorldOptions& options,
                                                    const Launch& launch);

}  // namespace attnscope
