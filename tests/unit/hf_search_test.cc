// Hugging Face generate()'s beam rules (decode/hf_search.cc) on a scripted decoder whose
// log-probabilities are chosen by hand, for the rules the fixture models never reach: an eos
// among the 2·beams candidates but below the top beams ranks is not a finished hypothesis; a
// negative length penalty; the forced eos at max_length; the banned pad; early_stopping true.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <vector>

#include "core/error.h"
#include "decode/beam_search.h"
#include "decode/generation.h"

namespace attnscope {
namespace {

// A decoder without a network: step t's logits of a row are script(t, its last token).
class ScriptedModel : public Seq2SeqModel {
 public:
  using Script = std::function<std::vector<float>(int64_t t, int32_t last)>;
  ScriptedModel(int64_t V, Script script) : V_(V), script_(std::move(script)) {}

  ModelInfo info() const override {
    ModelInfo i;
    i.arch = "scripted";
    i.src_vocab = i.tgt_vocab = V_;
    i.max_len = 64;
    i.pad_id = static_cast<int32_t>(V_ - 1);
    i.decoder_start_id = i.bos_id = i.pad_id;
    i.eos_id = 0;
    return i;
  }
  const ArchConfig& config() const override { fail("no config"); }
  void init_weights(uint64_t) override {}
  void visit_params(const ParamVisitor&) override {}
  int64_t num_params() override { return 0; }
  void alloc_grads() override {}
  void zero_grads() override {}
  const Tensor& forward(const TokenBatch&, const TokenBatch&, const ForwardOptions&) override {
    fail("no forward");
  }
  void backward(const Tensor&) override {}
  const Tensor& attention(AttentionKind, int64_t) const override { fail("no attention"); }
  int64_t num_layers(AttentionKind) const override { return 0; }

  struct State : DecoderState {
    int64_t rows = 0, t = 0;
    void reorder(const std::vector<int64_t>& from) override {
      rows = static_cast<int64_t>(from.size());
    }
  };
  std::unique_ptr<DecoderState> start_decoding(const TokenBatch& src, int64_t expand,
                                               int64_t) override {
    auto s = std::make_unique<State>();
    s->rows = src.rows * expand;
    return s;
  }
  const Tensor& decode_step(DecoderState& state, const std::vector<int32_t>& tokens) override {
    auto& s = static_cast<State&>(state);
    logits_.resize({s.rows, V_});
    for (int64_t r = 0; r < s.rows; ++r) {
      const std::vector<float> row = script_(s.t, tokens[static_cast<size_t>(r)]);
      for (int64_t v = 0; v < V_; ++v) logits_[r * V_ + v] = row[static_cast<size_t>(v)];
    }
    ++s.t;
    return logits_;
  }

 private:
  int64_t V_;
  Script script_;
  Tensor logits_;
};

// log p over tokens 0 … 4 (5 is the pad, banned): eos 0, then 1 … 4.
std::vector<float> log_probs(std::vector<double> p) {
  std::vector<float> out;
  for (double x : p) out.push_back(static_cast<float>(std::log(x)));
  out.push_back(0.0f);  // the pad's logit: removed by the ban, whatever it is
  return out;
}

DecodeOptions hf_options(int64_t beam, int64_t nbest, int64_t max_length, float lp) {
  DecodeOptions o;
  o.beam = beam;
  o.nbest = nbest;
  o.length_penalty = lp;
  HfRules& h = o.hf.emplace();
  h.max_length = max_length;
  h.forced_eos_id = 0;
  h.banned = {5};
  h.renormalize = true;
  return o;
}

const TokenBatch kSource{1, 2, {3, 0}};

TEST(HfBeamSearch, EosBelowTheTopBeamsRanksDoesNotFinish) {
  // Step 0: token 1 (0.40), token 2 (0.35), eos (0.20), … — eos ranks third of the 2·2
  // candidates. Step 1 reaches max_length 3: eos is forced. With length_penalty −1 (score =
  // Σ log p · length) the one-token "[eos]" (−1.609) would beat both two-token hypotheses
  // (−1.833, −2.100) if it could finish; Hugging Face keeps only eos from the top `beams` ranks.
  ScriptedModel model(6, [](int64_t t, int32_t) {
    return t == 0 ? log_probs({0.20, 0.40, 0.35, 0.04, 0.01})
                  : log_probs({0.2, 0.2, 0.2, 0.2, 0.2});
  });
  const auto hyps = beam_search(model, kSource, hf_options(2, 2, 3, -1.0f)).at(0);
  ASSERT_EQ(hyps.size(), 2u);
  EXPECT_EQ(hyps[0].tokens, std::vector<int32_t>{1});
  EXPECT_EQ(hyps[1].tokens, std::vector<int32_t>{2});
  EXPECT_TRUE(hyps[0].finished);  // the forced eos
  EXPECT_NEAR(hyps[0].score, std::log(0.40) * 2, 1e-5);
  EXPECT_NEAR(hyps[1].score, std::log(0.35) * 2, 1e-5);
  EXPECT_NEAR(hyps[0].log_prob, std::log(0.40), 1e-5);  // the forced eos adds log 1 = 0
}

TEST(HfBeamSearch, EosInTheTopBeamsRanksFinishesAndCompetesByPenalisedScore) {
  // Step 0: eos is the best candidate: "[eos]" finishes at length 1 (log 0.5 = −0.693). Step 1:
  // the two running beams' best continuations are eos (ranks 0 and 1): "[1 eos]" scores
  // (log 0.3 + log 0.9) / 2 = −0.654 and takes the first slot; "[2 eos]" (−1.060) loses to
  // "[eos]". Both slots are then finished: early_stopping true stops the search there.
  ScriptedModel model(6, [](int64_t t, int32_t last) {
    if (t == 0) return log_probs({0.50, 0.30, 0.15, 0.04, 0.01});
    if (last == 1) return log_probs({0.90, 0.04, 0.03, 0.02, 0.01});
    return log_probs({0.80, 0.05, 0.05, 0.05, 0.05});
  });
  DecodeOptions o = hf_options(2, 2, 10, 1.0f);
  o.hf->early_stopping = EarlyStopping::kTrue;
  const auto hyps = beam_search(model, kSource, o).at(0);
  ASSERT_EQ(hyps.size(), 2u);
  EXPECT_EQ(hyps[0].tokens, std::vector<int32_t>{1});
  EXPECT_NEAR(hyps[0].score, (std::log(0.30) + std::log(0.90)) / 2, 1e-5);
  EXPECT_TRUE(hyps[1].tokens.empty());
  EXPECT_TRUE(hyps[1].finished);
  EXPECT_NEAR(hyps[1].score, std::log(0.50), 1e-5);
}

TEST(HfGreedy, ArgmaxNeverThePadAndAForcedEosAtTheLimit) {
  // The pad's logit is the largest, but it is banned; token 3 wins every step until the forced
  // eos at max_length 4 (3 new tokens).
  ScriptedModel model(6, [](int64_t, int32_t) {
    std::vector<float> row = log_probs({0.05, 0.1, 0.15, 0.6, 0.1});
    row[5] = 10.0f;
    return row;
  });
  const auto hyps = beam_search(model, kSource, hf_options(1, 1, 4, 1.0f)).at(0);
  ASSERT_EQ(hyps.size(), 1u);
  EXPECT_EQ(hyps[0].tokens, (std::vector<int32_t>{3, 3}));
  EXPECT_TRUE(hyps[0].finished);
  EXPECT_NEAR(hyps[0].log_prob, 2 * std::log(0.6), 1e-5);  // + log 1 for the forced eos
  EXPECT_EQ(hyps[0].score, hyps[0].log_prob);
}

}  // namespace
}  // namespace attnscope
