// One sentence's search over its K decoder rows, for beam_search (decode/beam_search.cc), which
// runs the model over the rows of every sentence still being translated, follows the
// backpointers and collects the attention. Two rules: attnscope's own and Hugging Face
// generate()'s (decode/hf_rules.h).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "core/error.h"
#include "decode/beam_search.h"

namespace attnscope {

// A hypothesis to return, and where it ended: its row (0 … K−1 within the sentence) at `step`.
struct SearchEnding {
  Hypothesis hyp;
  int64_t step = 0, row = 0;
};

// What one step decides for the next: row k continues row from[k] with token feed[k].
struct SearchStep {
  std::vector<int64_t> from;
  std::vector<int32_t> feed;
  bool done = false;  // the sentence is finished: its rows leave the batch
};

class SentenceSearch {
 public:
  virtual ~SentenceSearch() = default;
  // Whether step() wants its rows log-softmaxed first (else the logits as they are: a search
  // whose processors end with a log-softmax of their own).
  virtual bool wants_log_softmax() const { return true; }
  // rows [K, V]: this sentence's rows at step t (t = 0 fed the decoder start token), as
  // wants_log_softmax() says; a copy the search may change. Fills out.from, out.feed (K each)
  // and out.done.
  virtual void step(float* rows, int64_t V, int64_t t, SearchStep& out) = 0;
  // Stepping from the raw logits [K, V] and each row's log-sum-exp lse [K] (kernels/cpu/softmax.h):
  // log p = logit − lse, computed for the continuations the search looks at only, with the float
  // arithmetic of the log-softmax, so the result is step()'s on the log-softmaxed rows.
  virtual bool steps_from_logits() const { return false; }
  virtual void step_logits(const float* /*logits*/, const float* /*lse*/, int64_t /*V*/,
                           int64_t /*t*/, SearchStep& /*out*/) {
    fail("this search steps from log-softmaxed rows only");
  }

  // Ranking on the model's device (Seq2SeqModel::decode_step_topk): a search that can step from
  // each row's best continuations alone says so. row_log_probs writes each of its K rows'
  // log-probability so far (−∞ for an empty row), which the device adds before ranking;
  // step_ranked then gets, per row, `per_row` (value, id) pairs best first (id −1: none left),
  // value = row log-probability + log p, the banned tokens already left out.
  virtual bool steps_from_ranked_rows() const { return false; }
  virtual void row_log_probs(float* /*out*/) const { fail("this search ranks full rows only"); }
  virtual void step_ranked(const float* /*values*/, const int32_t* /*ids*/, int64_t /*per_row*/,
                           int64_t /*t*/, SearchStep& /*out*/) {
    fail("this search ranks full rows only");
  }
  // The hypotheses to return, best first, at most nbest.
  virtual std::vector<SearchEnding> results(int64_t nbest) = 0;
};

// attnscope's rules: K beams, the best 2·K continuations each step (never pad or bos), a
// hypothesis ends at eos or at step `limit`, scores are log P / length^α; done when K
// hypotheses ended.
std::unique_ptr<SentenceSearch> attnscope_search(const DecodeOptions& opt, const ModelInfo& info,
                                                 int64_t limit);
// Hugging Face's rules (opt.hf must be set): greedy when opt.beam is 1, else HF's beam search.
std::unique_ptr<SentenceSearch> hf_search(const DecodeOptions& opt, const ModelInfo& info);

}  // namespace attnscope
