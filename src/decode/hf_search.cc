// Hugging Face generate()'s rules for one sentence (decode/hf_rules.h): greedy (_sample without
// sampling) when the beam is 1, else the vectorised _beam_search of transformers 4.50+, with its
// float32 arithmetic kept (scores are sums in float, −1e9 marks what may not be chosen) so the
// same candidates win.
#include <algorithm>
#include <cmath>
#include <limits>

#include "core/error.h"
#include "decode/sentence_search.h"
#include "kernels/cpu/fast_exp.h"

namespace attnscope {

namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();
constexpr float kBlocked = -1.0e9f;  // what _beam_search adds to what may not be chosen

// row [V] = log_softmax(row), in place (LogitNormalization). A row of all −∞ stays −∞.
void log_softmax_in_place(float* row, int64_t V) {
  float m = row[0];
#pragma omp simd reduction(max : m)
  for (int64_t v = 0; v < V; ++v) m = std::max(m, row[v]);
  if (m == kNegInf) return;
  // Σ e^(x − m): float sums of blocks (so the loop vectorises), added up in double.
  double sum = 0;
  for (int64_t v0 = 0; v0 < V; v0 += 1024) {
    const int64_t v1 = std::min<int64_t>(V, v0 + 1024);
    float block = 0;
#pragma omp simd reduction(+ : block)
    for (int64_t v = v0; v < v1; ++v) block += cpu::fast_exp(row[v] - m);
    sum += static_cast<double>(block);
  }
  const float lse = m + static_cast<float>(std::log(sum));
  for (int64_t v = 0; v < V; ++v) row[v] -= lse;
}

// x / n^lp as PyTorch computes a float32 tensor divided by a Python float.
float length_penalised(float x, int64_t n, float lp) {
  return x / static_cast<float>(std::pow(static_cast<double>(n), static_cast<double>(lp)));
}

// The indices of the k largest of values, best first; equal values keep their order (the lower
// index first), which is how torch.topk's results are taken to be ordered here.
template <typename Score>
void top_k(const std::vector<Score>& values, size_t k, std::vector<size_t>& out) {
  out.resize(values.size());
  for (size_t i = 0; i < out.size(); ++i) out[i] = i;
  std::stable_sort(out.begin(), out.end(),
                   [&](size_t a, size_t b) { return values[a] > values[b]; });
  out.resize(std::min(k, out.size()));
}

class HfSearch : public SentenceSearch {
 public:
  HfSearch(const DecodeOptions& opt, const ModelInfo& info)
      : rules_(*opt.hf),
        eos_(info.eos_id),
        nb_(opt.beam),
        lp_(opt.length_penalty),
        running_(static_cast<size_t>(nb_)),
        running_score_(static_cast<size_t>(nb_), kBlocked),
        finished_(static_cast<size_t>(nb_)) {
    ATTN_CHECK(rules_.max_length >= 2, "max_length {} leaves no token to generate",
               rules_.max_length);
    running_score_[0] = 0.0f;  // only the first beam is live at the first step
  }

  // With renormalisation the processors end with a log-softmax: log_softmax(log_softmax(x) + bans)
  // is log_softmax(x + bans), one pass over the vocabulary instead of two (HF's greedy does
  // exactly this: its processors see the raw logits).
  bool wants_log_softmax() const override { return !rules_.renormalize; }

  void step(float* logp, int64_t V, int64_t t, SearchStep& out) override {
    const int64_t cur_len = t + 1;  // tokens in the sequence so far, the start token included
    processed_ = logp;              // processed in place: the rows are this sentence's copy
    for (int64_t k = 0; k < nb_; ++k) process(processed_ + k * V, V, cur_len);
    if (nb_ == 1)
      greedy_step(V, t, cur_len, out);
    else
      beam_step(V, t, cur_len, out);
  }

  std::vector<SearchEnding> results(int64_t nbest) override {
    std::vector<SearchEnding> out;
    for (const Slot& s : finished_) {
      if (static_cast<int64_t>(out.size()) == nbest) break;
      if (!s.is_finished) continue;  // never at the end unless the search was cut short
      out.push_back(s.ending);
    }
    return out;
  }

 private:
  struct Slot {
    SearchEnding ending;
    float score = kBlocked;
    bool is_finished = false;
  };

  // The logits processors on one row of log-probabilities: NoBadWords, ForcedEOS, then
  // LogitNormalization.
  void process(float* row, int64_t V, int64_t cur_len) const {
    for (int32_t id : rules_.banned) row[id] = kNegInf;
    if (rules_.forced_eos_id >= 0 && cur_len == rules_.max_length - 1) {
      std::fill(row, row + V, kNegInf);
      row[rules_.forced_eos_id] = 0.0f;
    }
    if (rules_.renormalize) log_softmax_in_place(row, V);
  }

  SearchEnding ending(const std::vector<int32_t>& prefix, int32_t token, float log_prob,
                      float score, int64_t t, int64_t row) const {
    SearchEnding e;
    e.hyp.tokens = prefix;
    e.hyp.finished = token == eos_;
    if (!e.hyp.finished) e.hyp.tokens.push_back(token);
    e.hyp.log_prob = log_prob;
    e.hyp.score = score;
    e.step = t;
    e.row = row;
    return e;
  }

  // _sample without sampling: the argmax (the first on ties) until eos or max_length.
  void greedy_step(int64_t V, int64_t t, int64_t cur_len, SearchStep& out) {
    const float* row = processed_;
    const auto tok = static_cast<int32_t>(std::max_element(row, row + V) - row);
    running_score_[0] += row[tok];
    const bool hit = tok == eos_ || cur_len + 1 >= rules_.max_length;
    out.from.assign(1, 0);
    out.feed.assign(1, tok);
    out.done = hit;
    if (hit) {
      Slot& s = finished_[0];
      s.ending = ending(running_[0], tok, running_score_[0], running_score_[0], t, 0);
      s.score = running_score_[0];
      s.is_finished = true;
      return;
    }
    running_[0].push_back(tok);
  }

  void beam_step(int64_t V, int64_t t, int64_t cur_len, SearchStep& out) {
    const auto nb = static_cast<size_t>(nb_), keep = 2 * nb;
    // The top 2·nb of log p + running score over every (beam, token), best first.
    cands_.clear();
    for (int64_t k = 0; k < nb_; ++k) {
      const float* row = processed_ + k * V;
      for (int64_t v = 0; v < V; ++v) {
        const float s = row[v] + running_score_[k];
        if (cands_.size() == keep && !(s > cands_.back().score)) continue;
        const Candidate c{s, k, static_cast<int32_t>(v)};
        cands_.insert(std::upper_bound(
                          cands_.begin(), cands_.end(), c,
                          [](const Candidate& x, const Candidate& y) { return x.score > y.score; }),
                      c);
        if (cands_.size() > keep) cands_.pop_back();
      }
    }
    // A candidate hits a stopping criterion with eos or by reaching max_length.
    const bool at_max = cur_len + 1 >= rules_.max_length;
    std::vector<bool> hits(cands_.size());
    bool all_hit = true;
    for (size_t i = 0; i < cands_.size(); ++i) {
      hits[i] = cands_[i].token == eos_ || at_max;
      all_hit = all_hit && hits[i];
    }

    // Finished: candidates in the top nb ranks that hit, length-penalised, competing with the
    // finished ones for the nb slots.
    bool all_slots = true;
    for (const Slot& s : finished_) all_slots = all_slots && s.is_finished;
    const bool full = all_slots && rules_.early_stopping == EarlyStopping::kTrue;
    std::vector<float> merged(nb + cands_.size());
    for (size_t i = 0; i < nb; ++i) merged[i] = finished_[i].score;
    for (size_t i = 0; i < cands_.size(); ++i) {
      float s = length_penalised(cands_[i].score, cur_len, lp_);  // n = cur_len + 1 − 1
      if (full) s += kBlocked;  // in _update_finished_beams' order
      if (!(hits[i] && i < nb)) s += kBlocked;
      if (!unsatisfied_) s += kBlocked;
      merged[nb + i] = s;
    }
    top_k(merged, nb, order_);
    std::vector<Slot> finished(nb);
    for (size_t r = 0; r < nb; ++r) {
      const size_t i = order_[r];
      if (i < nb) {
        finished[r] = finished_[i];
        continue;
      }
      const Candidate& c = cands_[i - nb];
      Slot& s = finished[r];
      s.score = merged[i];
      s.is_finished = hits[i - nb] && i - nb < nb;
      s.ending = ending(running_[c.row], c.token, c.score, s.score, t, c.row);
    }
    finished_ = std::move(finished);

    // Running: the best nb candidates that did not hit (−1e9 added to those that did).
    std::vector<float> run(cands_.size());
    for (size_t i = 0; i < cands_.size(); ++i)
      run[i] = cands_[i].score + (hits[i] ? kBlocked : 0.0f);
    top_k(run, nb, order_);
    std::vector<std::vector<int32_t>> running(nb);
    out.from.assign(nb, 0);
    out.feed.assign(nb, 0);
    for (size_t r = 0; r < nb && r < order_.size(); ++r) {
      const Candidate& c = cands_[order_[r]];
      running[r] = running_[c.row];
      running[r].push_back(c.token);
      running_score_[r] = run[order_[r]];
      out.from[r] = c.row;
      out.feed[r] = c.token;
    }
    running_ = std::move(running);

    // Whether the search can still improve (_check_early_stop_heuristic; sticky once false).
    const int64_t best_len = rules_.early_stopping == EarlyStopping::kNever && lp_ > 0.0f
                                 ? rules_.max_length - 1
                                 : cur_len;  // cur_len + 1 − 1
    const float best_possible = length_penalised(running_score_[0], best_len, lp_);
    float worst = std::numeric_limits<float>::infinity();
    for (const Slot& s : finished_) worst = std::min(worst, s.score);
    bool any = false;
    bool all_finished = true;
    for (const Slot& s : finished_) {
      any = any || best_possible > (s.is_finished ? worst : kBlocked);
      all_finished = all_finished && s.is_finished;
    }
    unsatisfied_ = unsatisfied_ && any;
    const bool open = !(all_finished && rules_.early_stopping == EarlyStopping::kTrue);
    out.done = !(unsatisfied_ && open && !all_hit);
  }

  struct Candidate {
    float score;  // Σ processed log p along the beam
    int64_t row;
    int32_t token;
  };

  const HfRules& rules_;
  int32_t eos_;
  int64_t nb_;
  float lp_;
  std::vector<std::vector<int32_t>> running_;  // tokens of each running beam (start excluded)
  std::vector<float> running_score_;
  std::vector<Slot> finished_;  // nb slots, best first
  bool unsatisfied_ = true;
  float* processed_ = nullptr;  // [nb, V] of the current step
  std::vector<Candidate> cands_;
  std::vector<size_t> order_;
};

}  // namespace

std::unique_ptr<SentenceSearch> hf_search(const DecodeOptions& opt, const ModelInfo& info) {
  ATTN_CHECK(opt.hf.has_value(), "hf_search: the options carry no Hugging Face rules");
  return std::make_unique<HfSearch>(opt, info);
}

}  // namespace attnscope
