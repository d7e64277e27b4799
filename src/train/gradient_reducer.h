// Sums every rank's gradients (data-parallel training) while backward is still running.
//
// The parameters are cut into buckets of about bucket_bytes, in reverse visit order (the order
// backward finishes them: generator, decoder from the top, …, embeddings). backward_reporting
// calls grad_final() for each parameter whose gradient is final; when that completes a bucket —
// and every bucket before it has started, so that all ranks start their sums in the same order —
// the bucket's gradients are copied into its buffer and its sum over the ranks starts on the
// communicator's thread (MPI_Iallreduce) while backward computes the layers below. finish()
// starts what is left, waits, and copies the sums back into the gradients. A model that reports
// nothing still gets exact sums, only without the overlap.
#pragma once

#include <cstdint>
#include <unordered_map>
#include <vector>

#include "dist/communicator.h"
#include "nn/seq2seq_model.h"

namespace attnscope {

class GradientReducer {
 public:
  static constexpr int64_t kDefaultBucketBytes = int64_t{4} << 20;

  GradientReducer(Communicator& comm, Seq2SeqModel& model,
                  int64_t bucket_bytes = kDefaultBucketBytes);
  GradientReducer(const GradientReducer&) = delete;
  GradientReducer& operator=(const GradientReducer&) = delete;

  // For Seq2SeqModel::backward_reporting on the last micro-batch of an update.
  const ParamVisitor& grad_final() const { return hook_; }
  // Every p.grad becomes the sum of the ranks' p.grad (the same floats on every rank).
  void finish();

  int64_t num_buckets() const { return static_cast<int64_t>(buckets_.size()); }
  // How long the last finish() waited for sums: the communication backward did not hide.
  double last_wait_s() const { return last_wait_s_; }

 private:
  struct Bucket {
    std::vector<Param*> params;
    std::vector<float> data;  // the params' gradients, one after another
    size_t final_count = 0;   // params reported final in this backward
    bool started = false;
  };
  void on_final(Param& p);
  void start(Bucket& b);

  Communicator& comm_;
  std::vector<Bucket> buckets_;
  struct Slot {
    size_t bucket = 0, index = 0;  // index: the parameter's place in reverse visit order
  };
  std::unordered_map<const Param*, Slot> slot_of_;
  std::vector<char> reported_;  // [parameters] in this backward (one report each)
  size_t next_ = 0;             // the first bucket not started
  ParamVisitor hook_;
  double last_wait_s_ = 0;
};

}  // namespace attnscope
