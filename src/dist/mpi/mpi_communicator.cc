// MPI behind the Communicator (see dist/communicator.h for what it promises).
//
// Three duplicates of MPI_COMM_WORLD: `main_` for the caller's collectives, `grad_` for the
// gradient sums of the communication thread, `beat_` for the heartbeats. Every collective is
// non-blocking (MPI_I…) and waited for by a loop of MPI_Test with a deadline, never by a blocking
// call that could wait forever. Open MPI makes no progress on a non-blocking collective unless
// some thread calls into MPI, so the communication thread polls the sums in flight (sleeping
// ~20 µs between polls) while the caller's thread computes: that is the overlap of communication
// with backward.
#include "dist/mpi/mpi_communicator.h"

#include <fmt/format.h>
#include <mpi.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <climits>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>

#include "core/error.h"

namespace attnscope {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

constexpr int kBeatTag = 7;
// MPI counts are ints: big buffers travel in pieces of at most this many elements.
constexpr int64_t kMaxChunk = int64_t{1} << 30;

// One heartbeat: how far the sender's own thread has come, and what it said it was doing.
struct Beat {
  int64_t collectives = 0;  // collectives the sender's caller thread has entered
  char activity[120] = {};
};

std::string mpi_error_text(int rc) {
  char text[MPI_MAX_ERROR_STRING] = {};
  int len = 0;
  if (MPI_Error_string(rc, text, &len) != MPI_SUCCESS) return fmt::format("MPI error {}", rc);
  return std::string(text, static_cast<size_t>(len));
}

class MpiCommunicator final : public Communicator {
 public:
  MpiCommunicator(const WorldOptions& options, const Launch& launch);
  ~MpiCommunicator() override;
  MpiCommunicator(const MpiCommunicator&) = delete;
  MpiCommunicator& operator=(const MpiCommunicator&) = delete;

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string describe(int rank) const override;

  void sum(std::span<double> values) override;
  void broadcast(std::string& bytes, int root) override;
  void broadcast(std::span<float> values, int root) override;
  std::vector<std::string> allgather(const std::string& mine) override;
  void barrier() override;

  void start_sum(std::span<float> values) override;
  void wait_sums() override;

  void set_activity(std::string_view what) override;
  [[noreturn]] void abort(const std::string& message) override;

 private:
  struct Neighbour {
    int rank = 0;
    Beat last;
    bool heard = false;
    Clock::time_point heard_at;
  };

  void check(int rc, std::string_view what);
  void wait(MPI_Request& request, std::string_view what);
  void enter_collective() { collectives_.fetch_add(1, std::memory_order_relaxed); }
  std::string neighbours_report();  // takes mu_
  void thread_main();

  WorldOptions opt_;
  int rank_ = 0, size_ = 1;
  MPI_Comm main_ = MPI_COMM_NULL, grad_ = MPI_COMM_NULL, beat_ = MPI_COMM_NULL;
  std::vector<std::string> names_;  // describe(r)
  std::atomic<int64_t> collectives_{0};
  std::atomic<bool> aborting_{false};

  std::mutex mu_;  // guards everything below
  std::condition_variable work_cv_, done_cv_;
  std::deque<std::span<float>> queued_;  // sums to start, in order
  int64_t unfinished_ = 0;               // sums started and not yet done
  bool stopping_ = false;
  std::string activity_ = "starting";
  std::vector<Neighbour> neighbours_;
  std::thread thread_;
};

MpiCommunicator::MpiCommunicator(const WorldOptions& options, const Launch& launch)
    : opt_(options) {
  int provided = 0;
  int rc = MPI_Init_thread(nullptr, nullptr, MPI_THREAD_MULTIPLE, &provided);
  if (rc != MPI_SUCCESS)
    fail("{} started this rank, but MPI_Init_thread failed: {}", launch.by, mpi_error_text(rc));
  // Errors come back to us as return codes (check()), instead of MPI ending the process with
  // its own message.
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &size_);
  names_.assign(static_cast<size_t>(size_), "");
  names_[static_cast<size_t>(rank_)] = fmt::format("rank {}", rank_);
  if (provided < MPI_THREAD_MULTIPLE)
    abort(
        fmt::format("this MPI library gives thread level {}, and attnscope needs "
                    "MPI_THREAD_MULTIPLE ({}): its gradient sums run on a thread of their own",
                    provided, MPI_THREAD_MULTIPLE));
  if (launch.size > 0 && launch.size != size_)
    abort(
        fmt::format("{} started {} ranks, but MPI sees {}: the launcher and the MPI library do "
                    "not match (under Slurm: srun --mpi=pmix, or the MPI that attnscope was "
                    "built with)",
                    launch.by, launch.size, size_));
  check(MPI_Comm_dup(MPI_COMM_WORLD, &main_), "MPI_Comm_dup");
  check(MPI_Comm_dup(MPI_COMM_WORLD, &grad_), "MPI_Comm_dup");
  check(MPI_Comm_dup(MPI_COMM_WORLD, &beat_), "MPI_Comm_dup");

  char host[256] = {};
  gethostname(host, sizeof host - 1);
  const std::vector<std::string> where = allgather(fmt::format("pid {} on {}", getpid(), host));
  for (int r = 0; r < size_; ++r)
    names_[static_cast<size_t>(r)] = fmt::format("rank {} ({})", r, where[static_cast<size_t>(r)]);

  // The ring: each rank watches its left and right neighbours (one peer when there are two).
  for (const int peer : {(rank_ + size_ - 1) % size_, (rank_ + 1) % size_}) {
    if (peer == rank_) continue;
    if (!neighbours_.empty() && neighbours_.front().rank == peer) continue;
    neighbours_.push_back(Neighbour{peer, Beat{}, false, Clock::now()});
  }
  thread_ = std::thread([this] { thread_main(); });
}

MpiCommunicator::~MpiCommunicator() {
  // Every rank ends together: one that stopped its heartbeats while another still trains (rank 0
  // writing the last checkpoint) would look dead to it.
  set_activity("finishing");
  barrier();
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  work_cv_.notify_all();
  thread_.join();
  for (MPI_Comm* c : {&main_, &grad_, &beat_})
    if (*c != MPI_COMM_NULL) MPI_Comm_free(c);
  MPI_Finalize();
}

std::string MpiCommunicator::describe(int rank) const {
  if (rank < 0 || rank >= size_) return fmt::format("rank {}", rank);
  return names_[static_cast<size_t>(rank)];
}

void MpiCommunicator::abort(const std::string& message) {
  if (aborting_.exchange(true)) {
    // The other thread is already stopping the job; MPI_Abort there ends this one too.
    std::this_thread::sleep_for(std::chrono::seconds(30));
    std::_Exit(1);
  }
  fmt::print(stderr, "attnscope: error (rank {} of {}): {}\n", rank_, size_, message);
  std::fflush(stderr);
  MPI_Abort(MPI_COMM_WORLD, 1);
  std::_Exit(1);
}

void MpiCommunicator::check(int rc, std::string_view what) {
  if (rc == MPI_SUCCESS) return;
  abort(fmt::format("MPI failed in {}: {}. A rank has probably died or become unreachable. {}",
                    what, mpi_error_text(rc), neighbours_report()));
}

std::string MpiCommunicator::neighbours_report() {
  std::lock_guard lock(mu_);
  std::string out;
  const auto now = Clock::now();
  for (const Neighbour& n : neighbours_) {
    if (!out.empty()) out += "; ";
    if (n.heard)
      out += fmt::format("{} last said \"{}\" (its collective #{}) {:.1f} s ago", describe(n.rank),
                         n.last.activity, n.last.collectives, seconds_between(n.heard_at, now));
    else
      out += fmt::format("{} has sent no heartbeat yet", describe(n.rank));
  }
  return out.empty() ? out : "Neighbours: " + out + ".";
}

void MpiCommunicator::wait(MPI_Request& request, std::string_view what) {
  const auto start = Clock::now();
  for (int polls = 0;; ++polls) {
    int done = 0;
    check(MPI_Test(&request, &done, MPI_STATUS_IGNORE), what);
    if (done) return;
    const double waited = seconds_between(start, Clock::now());
    if (opt_.collective_timeout_s > 0 && waited > opt_.collective_timeout_s)
      abort(fmt::format(
          "waited {:.0f} s for the other ranks in {} (this rank's collective #{}), and at least "
          "one never arrived although every rank still answers: they are not running the same "
          "steps. {}",
          waited, what, collectives_.load(), neighbours_report()));
    // Poll fast at first (a collective between ranks that are in step ends in microseconds),
    // then let the core go.
    if (polls < 200)
      std::this_thread::yield();
    else
      std::this_thread::sleep_for(std::chrono::microseconds(polls < 2000 ? 20 : 200));
  }
}

void MpiCommunicator::sum(std::span<double> values) {
  enter_collective();
  ATTN_CHECK(static_cast<int64_t>(values.size()) <= kMaxChunk, "sum of {} values: too many",
             values.size());
  MPI_Request r;
  check(MPI_Iallreduce(MPI_IN_PLACE, values.data(), static_cast<int>(values.size()), MPI_DOUBLE,
                       MPI_SUM, main_, &r),
        "a sum over the ranks");
  wait(r, "a sum over the ranks");
}

void MpiCommunicator::broadcast(std::string& bytes, int root) {
  enter_collective();
  int64_t n = static_cast<int64_t>(bytes.size());
  MPI_Request r;
  check(MPI_Ibcast(&n, 1, MPI_INT64_T, root, main_, &r), "a broadcast");
  wait(r, "a broadcast");
  bytes.resize(static_cast<size_t>(n));
  for (int64_t off = 0; off < n; off += kMaxChunk) {
    const int chunk = static_cast<int>(std::min(kMaxChunk, n - off));
    check(MPI_Ibcast(bytes.data() + off, chunk, MPI_BYTE, root, main_, &r), "a broadcast");
    wait(r, "a broadcast");
  }
}

void MpiCommunicator::broadcast(std::span<float> values, int root) {
  enter_collective();
  const auto n = static_cast<int64_t>(values.size());
  for (int64_t off = 0; off < n; off += kMaxChunk) {
    const int chunk = static_cast<int>(std::min(kMaxChunk, n - off));
    MPI_Request r;
    check(MPI_Ibcast(values.data() + off, chunk, MPI_FLOAT, root, main_, &r), "a broadcast");
    wait(r, "a broadcast");
  }
}

std::vector<std::string> MpiCommunicator::allgather(const std::string& mine) {
  enter_collective();
  const MPI_Comm comm = main_;
  int64_t len = static_cast<int64_t>(mine.size());
  std::vector<int64_t> lens(static_cast<size_t>(size_));
  MPI_Request r;
  check(MPI_Iallgather(&len, 1, MPI_INT64_T, lens.data(), 1, MPI_INT64_T, comm, &r), "a gather");
  wait(r, "a gather");
  std::vector<int> counts(static_cast<size_t>(size_)), displs(static_cast<size_t>(size_));
  int64_t total = 0;
  for (size_t i = 0; i < lens.size(); ++i) {
    ATTN_CHECK(lens[i] >= 0 && total + lens[i] <= INT_MAX,
               "a gather over the ranks of more than {} bytes", INT_MAX);
    counts[i] = static_cast<int>(lens[i]);
    displs[i] = static_cast<int>(total);
    total += lens[i];
  }
  std::string all(static_cast<size_t>(total), '\0');
  check(MPI_Iallgatherv(mine.data(), static_cast<int>(len), MPI_BYTE, all.data(), counts.data(),
                        displs.data(), MPI_BYTE, comm, &r),
        "a gather");
  wait(r, "a gather");
  std::vector<std::string> out;
  for (size_t i = 0; i < lens.size(); ++i)
    out.push_back(all.substr(static_cast<size_t>(displs[i]), static_cast<size_t>(counts[i])));
  return out;
}

void MpiCommunicator::barrier() {
  enter_collective();
  MPI_Request r;
  check(MPI_Ibarrier(main_, &r), "the barrier at the end");
  wait(r, "the barrier at the end");
}

void MpiCommunicator::start_sum(std::span<float> values) {
  ATTN_CHECK(static_cast<int64_t>(values.size()) <= INT_MAX, "a gradient bucket of {} floats",
             values.size());
  {
    std::lock_guard lock(mu_);
    queued_.push_back(values);
    ++unfinished_;
  }
  work_cv_.notify_one();
}

void MpiCommunicator::wait_sums() {
  std::unique_lock lock(mu_);
  const auto deadline =
      Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(
                         opt_.collective_timeout_s > 0 ? opt_.collective_timeout_s : 1e9));
  while (unfinished_ > 0) {
    if (done_cv_.wait_until(lock, deadline) == std::cv_status::timeout && unfinished_ > 0) {
      lock.unlock();
      abort(
          fmt::format("the gradient sum over the ranks has not completed after {:.0f} s "
                      "although every rank still answers: they are not running the same "
                      "steps. {}",
                      opt_.collective_timeout_s, neighbours_report()));
    }
  }
}

void MpiCommunicator::set_activity(std::string_view what) {
  std::lock_guard lock(mu_);
  activity_.assign(what.substr(0, sizeof(Beat::activity) - 1));
}

void MpiCommunicator::thread_main() {
  const size_t n = neighbours_.size();
  std::vector<Beat> in(n), out(n);
  std::vector<MPI_Request> recv(n, MPI_REQUEST_NULL), send(n, MPI_REQUEST_NULL);
  for (size_t i = 0; i < n; ++i)
    check(MPI_Irecv(&in[i], sizeof(Beat), MPI_BYTE, neighbours_[i].rank, kBeatTag, beat_, &recv[i]),
          "a heartbeat");
  const double timeout = opt_.rank_timeout_s;
  // A few beats per timeout, at most one a second.
  const double interval = timeout > 0 ? std::clamp(timeout / 8, 0.05, 1.0) : 1.0;
  const auto beat_every =
      std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(interval));
  auto next_beat = Clock::now();
  {
    std::lock_guard lock(mu_);
    for (Neighbour& nb : neighbours_) nb.heard_at = Clock::now();
  }
  std::vector<MPI_Request> active;
  std::vector<int> indices;
  for (;;) {
    std::deque<std::span<float>> to_start;
    bool stopping;
    {
      std::lock_guard lock(mu_);
      to_start.swap(queued_);
      stopping = stopping_;
    }
    for (const std::span<float> s : to_start) {
      active.push_back(MPI_REQUEST_NULL);
      check(MPI_Iallreduce(MPI_IN_PLACE, s.data(), static_cast<int>(s.size()), MPI_FLOAT, MPI_SUM,
                           grad_, &active.back()),
            "the gradient sum");
    }
    if (!active.empty()) {
      indices.resize(active.size());
      int finished = 0;
      check(MPI_Testsome(static_cast<int>(active.size()), active.data(), &finished, indices.data(),
                         MPI_STATUSES_IGNORE),
            "the gradient sum");
      if (finished > 0 && finished != MPI_UNDEFINED) {
        std::erase(active, MPI_REQUEST_NULL);
        {
          std::lock_guard lock(mu_);
          unfinished_ -= finished;
        }
        done_cv_.notify_all();
      }
    }
    if (stopping && active.empty()) break;

    const auto now = Clock::now();
    if (now >= next_beat) {
      std::lock_guard lock(mu_);
      for (size_t i = 0; i < n; ++i) {
        if (send[i] != MPI_REQUEST_NULL) continue;  // the last one is still on its way
        out[i].collectives = collectives_.load(std::memory_order_relaxed);
        std::snprintf(out[i].activity, sizeof out[i].activity, "%s", activity_.c_str());
        check(MPI_Isend(&out[i], sizeof(Beat), MPI_BYTE, neighbours_[i].rank, kBeatTag, beat_,
                        &send[i]),
              "a heartbeat");
      }
      next_beat = now + beat_every;
    }
    for (size_t i = 0; i < n; ++i) {
      int done = 0;
      if (send[i] != MPI_REQUEST_NULL)
        check(MPI_Test(&send[i], &done, MPI_STATUS_IGNORE), "a heartbeat");
      for (;;) {  // every beat that has arrived
        check(MPI_Test(&recv[i], &done, MPI_STATUS_IGNORE), "a heartbeat");
        if (!done) break;
        {
          std::lock_guard lock(mu_);
          neighbours_[i].last = in[i];
          neighbours_[i].heard = true;
          neighbours_[i].heard_at = now;
        }
        check(MPI_Irecv(&in[i], sizeof(Beat), MPI_BYTE, neighbours_[i].rank, kBeatTag, beat_,
                        &recv[i]),
              "a heartbeat");
      }
    }
    if (!stopping && timeout > 0) {
      std::string dead;
      {
        std::lock_guard lock(mu_);
        for (const Neighbour& nb : neighbours_) {
          const double silent = seconds_between(nb.heard_at, now);
          if (silent <= timeout) continue;
          dead = fmt::format(
              "{} has sent no heartbeat for {:.1f} s (--rank-timeout {:g}){}: it has died, hangs "
              "or cannot be reached. Stopping every rank; the last checkpoint is whole (resume "
              "with --resume)",
              describe(nb.rank), silent, timeout,
              nb.heard ? fmt::format("; it last said \"{}\"", nb.last.activity) : "");
          break;
        }
      }
      if (!dead.empty()) abort(dead);
    }
    if (!active.empty()) {
      std::this_thread::sleep_for(std::chrono::microseconds(20));
    } else {
      std::unique_lock lock(mu_);
      work_cv_.wait_for(lock,
                        std::min(beat_every / 4, Clock::duration(std::chrono::milliseconds(50))),
                        [&] { return !queued_.empty() || stopping_; });
    }
  }
  // Every rank has passed the final barrier: no beat is needed any more.
  for (size_t i = 0; i < n; ++i) {
    if (recv[i] != MPI_REQUEST_NULL) {
      MPI_Cancel(&recv[i]);
      MPI_Wait(&recv[i], MPI_STATUS_IGNORE);
    }
    if (send[i] != MPI_REQUEST_NULL) MPI_Wait(&send[i], MPI_STATUS_IGNORE);
  }
}

}  // namespace

std::unique_ptr<Communicator> make_mpi_communicator(const WorldOptions& options,
                                                    const Launch& launch) {
  return std::make_unique<MpiCommunicator>(options, launch);
}

}  // namespace attnscope
