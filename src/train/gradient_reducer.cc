#include "train/gradient_reducer.h"

#include <algorithm>
#include <chrono>
#include <cstring>

#include "core/error.h"

namespace attnscope {

GradientReducer::GradientReducer(Communicator& comm, Seq2SeqModel& model, int64_t bucket_bytes)
    : comm_(comm) {
  ATTN_CHECK(bucket_bytes >= 1, "gradient buckets of {} bytes", bucket_bytes);
  std::vector<Param*> params;
  model.visit_params([&](Param& p) { params.push_back(&p); });
  std::reverse(params.begin(), params.end());
  int64_t bytes = 0;
  for (size_t i = 0; i < params.size(); ++i) {
    Param* p = params[i];
    ATTN_CHECK(p->has_grad(), "gradient sums: \"{}\" has no gradient (alloc_grads first)", p->name);
    if (buckets_.empty() || bytes >= bucket_bytes) {
      buckets_.emplace_back();
      bytes = 0;
    }
    buckets_.back().params.push_back(p);
    bytes += p->grad.numel() * static_cast<int64_t>(sizeof(float));
    slot_of_[p] = Slot{buckets_.size() - 1, i};
  }
  reported_.assign(params.size(), 0);
  for (Bucket& b : buckets_) {
    int64_t n = 0;
    for (const Param* p : b.params) n += p->grad.numel();
    b.data.resize(static_cast<size_t>(n));
  }
  hook_ = [this](Param& p) { on_final(p); };
}

void GradientReducer::start(Bucket& b) {
  float* out = b.data.data();
  for (const Param* p : b.params) {
    std::memcpy(out, p->grad.data(), static_cast<size_t>(p->grad.numel()) * sizeof(float));
    out += p->grad.numel();
  }
  b.started = true;
  comm_.start_sum(b.data);
}

void GradientReducer::on_final(Param& p) {
  const auto it = slot_of_.find(&p);
  ATTN_CHECK(it != slot_of_.end(),
             "gradient sums: the model reported \"{}\", which it did not visit when the buckets "
             "were made",
             p.name);
  char& reported = reported_[it->second.index];
  ATTN_CHECK(!reported, "gradient sums: the model reported \"{}\" final twice in one backward",
             p.name);
  reported = 1;
  ++buckets_[it->second.bucket].final_count;
  // Buckets start in order, so every rank starts the same sums in the same order.
  while (next_ < buckets_.size() && buckets_[next_].final_count == buckets_[next_].params.size()) {
    start(buckets_[next_]);
    ++next_;
  }
}

void GradientReducer::finish() {
  for (; next_ < buckets_.size(); ++next_) start(buckets_[next_]);
  const auto t0 = std::chrono::steady_clock::now();
  comm_.wait_sums();
  last_wait_s_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  for (Bucket& b : buckets_) {
    const float* in = b.data.data();
    for (Param* p : b.params) {
      std::memcpy(p->grad.data(), in, static_cast<size_t>(p->grad.numel()) * sizeof(float));
      in += p->grad.numel();
    }
    b.final_count = 0;
    b.started = false;
  }
  std::fill(reported_.begin(), reported_.end(), 0);
  next_ = 0;
}

}  // namespace attnscope
