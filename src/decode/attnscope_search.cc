// attnscope's own search rules for one sentence (decode/sentence_search.h).
#include <algorithm>
#include <cmath>
#include <limits>

#include "decode/sentence_search.h"
#include "kernels/cpu/row_max.h"

namespace attnscope {

namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

float penalised(float log_prob, size_t length, float alpha) {
  return alpha == 0.0f ? log_prob : log_prob / std::pow(static_cast<float>(length), alpha);
}

class AttnscopeSearch : public SentenceSearch {
 public:
  AttnscopeSearch(const DecodeOptions& opt, const ModelInfo& info, int64_t limit)
      : opt_(opt),
        info_(info),
        K_(opt.beam),
        limit_(limit),
        beams_(static_cast<size_t>(K_)),
        feed_(static_cast<size_t>(K_), info.decoder_start_id) {
    beams_[0].log_prob = 0.0f;  // one live beam to start
    cands_.reserve(static_cast<size_t>(2 * K_ + 1));
  }

  void step(float* logp, int64_t V, int64_t t, SearchStep& out) override {
    const std::vector<float> zero(static_cast<size_t>(K_), 0.0f);  // x − 0 is x: the same values
    scan(logp, zero.data(), V, /*skip_blocks=*/false);  // every token: the plain reference
    choose(t, out);
  }

  bool steps_from_logits() const override { return true; }
  void step_logits(const float* logits, const float* lse, int64_t V, int64_t t,
                   SearchStep& out) override {
    scan(logits, lse, V, /*skip_blocks=*/true);
    choose(t, out);
  }

  bool steps_from_ranked_rows() const override { return true; }
  void row_log_probs(float* out) const override {
    for (int64_t k = 0; k < K_; ++k) out[k] = beams_[k].log_prob;
  }
  void step_ranked(const float* values, const int32_t* ids, int64_t per_row, int64_t t,
                   SearchStep& out) override {
    // Each row's best first, as the full scan meets them: the same candidates in the same order.
    cands_.clear();
    for (int64_t k = 0; k < K_; ++k) {
      if (beams_[k].log_prob == kNegInf) continue;
      for (int64_t i = 0; i < per_row; ++i) {
        const int32_t v = ids[k * per_row + i];
        if (v < 0) break;
        consider(values[k * per_row + i], k, v);
      }
    }
    choose(t, out);
  }

  std::vector<SearchEnding> results(int64_t nbest) override {
    std::stable_sort(
        endings_.begin(), endings_.end(),
        [](const SearchEnding& x, const SearchEnding& y) { return x.hyp.score > y.hyp.score; });
    if (static_cast<int64_t>(endings_.size()) > nbest) endings_.resize(static_cast<size_t>(nbest));
    return std::move(endings_);
  }

 private:
  size_t cap() const { return static_cast<size_t>(2 * K_); }

  // Keeps the best 2·K continuations of rows [K, V] of logits, log p = logit − lse[k]. One pass
  // over the rows: a token is looked at twice only when it beats the worst kept. With skip_blocks,
  // once the list is full, a block of tokens whose largest logit cannot beat the worst kept is
  // passed over (log p rises with the logit, so none of the block can).
  void scan(const float* logits, const float* lse, int64_t V, bool skip_blocks) {
    constexpr int64_t kBlock = 64;
    cands_.clear();
    for (int64_t k = 0; k < K_; ++k) {
      const float base = beams_[k].log_prob;
      if (base == kNegInf) continue;
      const float* row = logits + k * V;
      const float c = lse[k];
      for (int64_t v0 = 0; v0 < V; v0 += kBlock) {
        const int64_t v1 = std::min(V, v0 + kBlock);
        if (skip_blocks && cands_.size() == cap() &&
            !(base + (cpu::row_max(row + v0, v1 - v0) - c) > cands_.back().log_prob))
          continue;
        for (int64_t v = v0; v < v1; ++v) {
          const float lp = base + (row[v] - c);
          if (cands_.size() == cap() && !(lp > cands_.back().log_prob)) continue;
          if (!opt_.stop_at_eos && v == info_.eos_id) continue;
          if (v == info_.pad_id || v == info_.bos_id) continue;
          consider(lp, k, static_cast<int32_t>(v));
        }
      }
    }
  }

  // Keeps the best 2·K continuations, best first (ties: the earlier row and token first).
  void consider(float lp, int64_t row, int32_t token) {
    if (cands_.size() == cap() && !(lp > cands_.back().log_prob)) return;
    const Candidate c{lp, row, token};
    auto at = std::upper_bound(
        cands_.begin(), cands_.end(), c,
        [](const Candidate& x, const Candidate& y) { return x.log_prob > y.log_prob; });
    cands_.insert(at, c);
    if (cands_.size() > cap()) cands_.pop_back();
  }

  // The next beams from the kept candidates: an eos (or any candidate at the last step) ends a
  // hypothesis, the others continue, best first.
  void choose(int64_t t, SearchStep& out) {
    out.from.assign(static_cast<size_t>(K_), 0);  // dead rows copy any row
    std::vector<Beam> next(static_cast<size_t>(K_));
    const bool last_step = t + 1 >= limit_;
    int64_t filled = 0;
    for (size_t i = 0; i < cands_.size() && filled < K_; ++i) {
      const Candidate& c = cands_[i];
      const bool eos = opt_.stop_at_eos && c.token == info_.eos_id;
      if (eos || last_step) {
        SearchEnding e;
        e.hyp.tokens = beams_[c.row].tokens;
        if (!eos) e.hyp.tokens.push_back(c.token);
        e.hyp.log_prob = c.log_prob;
        e.hyp.finished = eos;
        e.hyp.score = penalised(c.log_prob, e.hyp.tokens.size() + 1, opt_.length_penalty);
        e.step = t;
        e.row = c.row;
        endings_.push_back(std::move(e));
        if (last_step) ++filled;  // at the last step every candidate ends a hypothesis
        continue;
      }
      Beam& b = next[static_cast<size_t>(filled)];
      b.tokens = beams_[c.row].tokens;
      b.tokens.push_back(c.token);
      b.log_prob = c.log_prob;
      out.from[static_cast<size_t>(filled)] = c.row;
      feed_[static_cast<size_t>(filled)] = c.token;
      ++filled;
    }
    beams_ = std::move(next);
    out.feed = feed_;
    out.done = last_step || static_cast<int64_t>(endings_.size()) >= K_;
  }

  // One row of the beam: a live partial hypothesis.
  struct Beam {
    std::vector<int32_t> tokens;
    float log_prob = kNegInf;  // −∞: an empty slot
  };
  struct Candidate {
    float log_prob;
    int64_t row;
    int32_t token;
  };

  const DecodeOptions& opt_;
  ModelInfo info_;
  int64_t K_, limit_;
  std::vector<Beam> beams_;
  std::vector<int32_t> feed_;  // a row left unfilled keeps its last token
  std::vector<Candidate> cands_;
  std::vector<SearchEnding> endings_;
};

}  // namespace

std::unique_ptr<SentenceSearch> attnscope_search(const DecodeOptions& opt, const ModelInfo& info,
                                                 int64_t limit) {
  return std::make_unique<AttnscopeSearch>(opt, info, limit);
}

}  // namespace attnscope
