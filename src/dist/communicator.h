// The processes that train one model together (data parallelism): how many there are, which one
// this is, and the few collective operations training needs. `mpirun -np N attnscope train …` (or
// `srun`) starts N ranks; connect_world() finds them through MPI (dist/mpi/), and a process
// started alone is a world of one (LocalCommunicator), for which every operation is trivial.
//
// Every rank must call the collectives in the same order with the same sizes (the SPMD rule of
// MPI). Two threads use a communicator: the caller's (sum, broadcast, gather, barrier) and its
// own communication thread, which runs the gradient sums started with start_sum while the
// caller goes on computing, and the heartbeats.
//
// Faults: a rank that dies or stops answering must not leave the others waiting forever. Each
// rank's communication thread sends a heartbeat to its two neighbours in a ring every second; a
// neighbour silent for WorldOptions::rank_timeout_s is declared dead and the whole job is stopped
// (abort) with a message naming it and what it last said it was doing (set_activity). A
// collective that waits longer than collective_timeout_s (every rank alive, but one never
// arrives: a deadlock) stops the job too. MPI's own errors are returned to us, not fatal inside
// MPI, and become the same kind of message.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace attnscope {

struct WorldOptions {
  double rank_timeout_s = 120;         // a neighbour silent this long is dead (0: never)
  double collective_timeout_s = 1800;  // longest wait for one collective (0: forever)
};

class Communicator {
 public:
  virtual ~Communicator() = default;

  virtual int rank() const = 0;
  virtual int size() const = 0;
  // How messages name a rank: "rank 1 (pid 4242 on node7)".
  virtual std::string describe(int rank) const = 0;

  // --- Collectives of the caller's thread (each waits with collective_timeout_s).
  // Element-wise sum over the ranks, in place; the same result on every rank.
  virtual void sum(std::span<double> values) = 0;
  // Rank `root`'s bytes everywhere (the others' sizes need not match on entry).
  virtual void broadcast(std::string& bytes, int root) = 0;
  // Rank `root`'s values everywhere (the same size on every rank).
  virtual void broadcast(std::span<float> values, int root) = 0;
  // Every rank's string, indexed by rank.
  virtual std::vector<std::string> allgather(const std::string& mine) = 0;
  virtual void barrier() = 0;

  // --- Gradient sums on the communication thread. start_sum returns at once; the sum over the
  // ranks replaces `values` (the same result on every rank) by the time wait_sums() returns,
  // which waits for every sum started. Until then the caller must not touch `values`.
  virtual void start_sum(std::span<float> values) = 0;
  virtual void wait_sums() = 0;

  // What this rank is doing ("step 41"), for the others' messages if it stops answering.
  virtual void set_activity(std::string_view what) = 0;
  // Stops every rank: prints "attnscope: error (rank r of N): message" and ends the job
  // (MPI_Abort). A world of one just exits.
  [[noreturn]] virtual void abort(const std::string& message) = 0;
};

// This process alone: size 1, every collective is the identity.
class LocalCommunicator final : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  std::string describe(int rank) const override;
  void sum(std::span<double>) override {}
  void broadcast(std::string&, int) override {}
  void broadcast(std::span<float>, int) override {}
  std::vector<std::string> allgather(const std::string& mine) override { return {mine}; }
  void barrier() override {}
  void start_sum(std::span<float>) override {}
  void wait_sums() override {}
  void set_activity(std::string_view) override {}
  [[noreturn]] void abort(const std::string& message) override;
};

// Whether this attnscope was built with MPI (-DATTNSCOPE_MPI=ON and MPI found).
bool built_with_mpi();
// The ranks this process was started with: through MPI when a launcher started it (mpirun,
// mpiexec, srun with an MPI plugin: their environment says so; the ranks themselves come from
// MPI), else a LocalCommunicator. A build without MPI started as one of several ranks is an
// error (each would train alone), as is an MPI launch that MPI cannot join.
std::unique_ptr<Communicator> connect_world(const WorldOptions& options);

}  // namespace attnscope
