// Hugging Face Marian directories (OPUS-MT layout) against the golden files of
// tools/make_marian_fixtures.py, for every fixture variant (shared vocabulary + swish + tied;
// separate vocabularies + gelu + untied lm_head; no embedding scale + relu + F16 weights with the
// position tables in the file): tokenization (pieces and ids, the edge cases, decoding), the
// teacher-forced logits and every attention map (one sentence and a padded batch), and greedy and
// beam generation (ids exactly, scores, n-best, max_new_tokens, length penalty with early
// stopping, and the maps captured through the beam).
//
// Tolerances: the twin computes in float32 with PyTorch's kernels and summation orders; logits
// after 2+2 layers agree to a few 1e-6 relative to their scale, so 1e-4 of the scale leaves room
// for other BLAS builds while any wrong rule (positions, masks, scaling, norms) moves them by
// 1e-2 or more. Maps: 1e-5 absolute; scores (sums of ~10 log-probabilities): 1e-4 of their size.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "core/error.h"
#include "decode/beam_search.h"
#include "decode/generation.h"
#include "decode/translate.h"
#include "io/marian_dir.h"
#include "io/model_dir.h"
#include "marian_golden.h"
#include "nn/marian_model.h"

namespace attnscope {
namespace {

using test::marian_golden;
using test::marian_model;
using test::max_abs_diff;
using json = nlohmann::json;

class MarianFixture : public ::testing::TestWithParam<std::string> {
 protected:
  const test::MarianGolden& golden() const { return marian_golden(GetParam()); }
  static std::vector<int32_t> with_eos(std::vector<int32_t> ids, int32_t eos) {
    ids.push_back(eos);
    return ids;
  }
};

std::string variant_name(const ::testing::TestParamInfo<std::string>& p) {
  std::string s = p.param;
  s.erase(std::remove(s.begin(), s.end(), '_'), s.end());
  return s;
}

// ---- tokenization -----------------------------------------------------------------------

TEST_P(MarianFixture, TokenizesEverySentenceAsMarianTokenizer) {
  const MarianTokenizers tok = load_marian_tokenizer_pair(marian_model(GetParam()));
  const int32_t eos = golden().json["eos_token_id"];
  for (const json& c : golden().json["cases"]) {
    const std::string src = c["source"], tgt = c["target"];
    EXPECT_EQ(tok.src->tokenize(src), c["source_pieces"].get<std::vector<std::string>>()) << src;
    EXPECT_EQ(with_eos(tok.src->encode(src), eos), test::json_ids(c["source_ids"])) << src;
    EXPECT_EQ(tok.tgt->tokenize(tgt), c["target_pieces"].get<std::vector<std::string>>()) << tgt;
    EXPECT_EQ(with_eos(tok.tgt->encode(tgt), eos), test::json_ids(c["labels"])) << tgt;
  }
  for (const json& c : golden().json["tokenizer_cases"]) {
    const std::string text = c["text"];
    EXPECT_EQ(tok.src->tokenize(text), c["pieces"].get<std::vector<std::string>>()) << text;
    EXPECT_EQ(with_eos(tok.src->encode(text), eos), test::json_ids(c["ids"])) << text;
  }
}

TEST_P(MarianFixture, DecodesAsMarianTokenizer) {
  const TokenizerPair tok = load_tokenizers(marian_model(GetParam()));
  for (const json& c : golden().json["decode_cases"])
    EXPECT_EQ(tok.tgt->decode(test::json_ids(c["ids"])), c["text"].get<std::string>())
        << c["ids"].dump();
  for (const json& c : golden().json["cases"])
    for (const auto& [run, entry] : c["runs"].items())
      for (const json& h : entry["hypotheses"]) {
        EXPECT_EQ(tok.tgt->decode(test::json_ids(h["ids"])), h["text"].get<std::string>())
            << run << " " << h["ids"].dump();
        const auto pieces = h["pieces"].get<std::vector<std::string>>();
        EXPECT_EQ(tok.tgt->pieces(test::json_ids(h["ids"])), pieces);
      }
}

// ---- the forward pass -------------------------------------------------------------------

TEST_P(MarianFixture, TeacherForcedLogitsAndEncoderMapsMatch) {
  auto model = load_model(marian_model(GetParam()));
  for (const json& c : golden().json["cases"]) {
    const std::string pre = "case." + std::to_string(c["index"].get<int>()) + ".";
    const auto src_ids = golden().ids(pre + "source_ids");
    const auto tgt_ids = golden().ids(pre + "tf.decoder_input_ids");
    const TokenBatch src{1, static_cast<int64_t>(src_ids.size()), src_ids};
    const TokenBatch tgt{1, static_cast<int64_t>(tgt_ids.size()), tgt_ids};
    const Tensor& logits = model->forward(src, tgt, {});
    const Tensor& want = golden().tensor(pre + "tf.logits");
    ASSERT_EQ(logits.numel(), want.numel()) << pre;
    double scale = 1;
    for (int64_t i = 0; i < want.numel(); ++i) scale = std::max(scale, double(std::fabs(want[i])));
    EXPECT_LE(max_abs_diff(logits.data(), want), 1e-4 * scale) << pre << "logits";
    for (int64_t l = 0; l < model->num_layers(AttentionKind::kEncoderSelf); ++l) {
      const Tensor& m = model->attention(AttentionKind::kEncoderSelf, l);  // [1, H, Ts, Ts]
      const Tensor& g = golden().tensor(pre + "attn.encoder_self." + std::to_string(l));
      ASSERT_EQ(m.numel(), g.numel());
      EXPECT_LE(max_abs_diff(m.data(), g), 1e-5) << pre << "encoder layer " << l;
    }
  }
}

TEST_P(MarianFixture, PaddedBatchMatchesEveryLogitAndMap) {
  // Right-padded sources (masked keys) and right-padded decoder inputs (pad ids, not masked).
  auto model = load_model(marian_model(GetParam()));
  const Tensor& s = golden().tensor("batch.source_ids");
  const Tensor& t = golden().tensor("batch.decoder_input_ids");
  const TokenBatch src{s.dim(0), s.dim(1), golden().ids("batch.source_ids")};
  const TokenBatch tgt{t.dim(0), t.dim(1), golden().ids("batch.decoder_input_ids")};
  const Tensor& logits = model->forward(src, tgt, {});
  const Tensor& want = golden().tensor("batch.logits");
  ASSERT_EQ(logits.shape(), want.shape());
  double scale = 1;
  for (int64_t i = 0; i < want.numel(); ++i) scale = std::max(scale, double(std::fabs(want[i])));
  EXPECT_LE(max_abs_diff(logits.data(), want), 1e-4 * scale);
  int checked = 0;
  for (AttentionKind kind : kAllAttentionKinds)
    for (int64_t l = 0; l < model->num_layers(kind); ++l) {
      const Tensor& m = model->attention(kind, l);
      const Tensor& g = golden().tensor("batch.attn." + std::string(attention_kind_name(kind)) +
                                        "." + std::to_string(l));
      ASSERT_EQ(m.shape(), g.shape()) << attention_kind_name(kind) << " " << l;
      EXPECT_LE(max_abs_diff(m.data(), g), 1e-5) << attention_kind_name(kind) << " " << l;
      ++checked;
    }
  EXPECT_GE(checked, 3);
}

// ---- generation -------------------------------------------------------------------------

// The options of a golden run: its overrides as the user's flags would give them.
DecodeOptions options_of(const ModelInfo& info, const json& overrides) {
  DecodeRequest r;
  if (overrides.contains("num_beams")) r.beam = overrides["num_beams"].get<int64_t>();
  if (overrides.contains("num_return_sequences"))
    r.nbest = overrides["num_return_sequences"].get<int64_t>();
  if (overrides.contains("length_penalty"))
    r.length_penalty = overrides["length_penalty"].get<float>();
  if (overrides.contains("max_new_tokens"))
    r.max_new_tokens = overrides["max_new_tokens"].get<int64_t>();
  DecodeOptions o = decode_options_for(info, r);
  if (overrides.contains("early_stopping") && o.hf)
    o.hf->early_stopping =
        overrides["early_stopping"].get<bool>() ? EarlyStopping::kTrue : EarlyStopping::kFalse;
  return o;
}

TEST_P(MarianFixture, GreedyAndBeamSearchReproduceGenerate) {
  auto model = load_model(marian_model(GetParam()));
  const ModelInfo info = model->info();
  int runs = 0;
  for (const json& c : golden().json["cases"]) {
    const std::string pre = "case." + std::to_string(c["index"].get<int>()) + ".";
    const auto src_ids = golden().ids(pre + "source_ids");
    const TokenBatch src{1, static_cast<int64_t>(src_ids.size()), src_ids};
    for (const auto& [run, entry] : c["runs"].items()) {
      const std::string where = pre + run;
      DecodeOptions opt = options_of(info, entry["overrides"]);
      const json& eff = entry["effective"];
      ASSERT_TRUE(opt.hf.has_value());
      EXPECT_EQ(opt.beam, eff["num_beams"].get<int64_t>()) << where;
      EXPECT_EQ(opt.hf->max_length, eff["max_length"].get<int64_t>()) << where;
      EXPECT_EQ(opt.nbest, eff["num_return_sequences"].get<int64_t>()) << where;
      opt.capture.emplace();
      const auto hyps = beam_search(*model, src, opt).at(0);
      const json& want = entry["hypotheses"];
      ASSERT_EQ(hyps.size(), want.size()) << where;
      const Tensor& scores = golden().tensor(pre + run + ".scores");
      for (size_t r = 0; r < hyps.size(); ++r) {
        // HF's ids: [decoder start, y1 … yn] with yn = </s> (natural or forced).
        std::vector<int32_t> ids = {info.decoder_start_id};
        ids.insert(ids.end(), hyps[r].tokens.begin(), hyps[r].tokens.end());
        if (hyps[r].finished) ids.push_back(info.eos_id);
        EXPECT_EQ(ids, golden().ids(pre + run + ".ids." + std::to_string(r))) << where << " " << r;
        // Greedy: Σ log p (HF's greedy has no score of its own); beam: length-penalised.
        const float got = run == "greedy" ? hyps[r].log_prob : hyps[r].score;
        const float expect = scores[static_cast<int64_t>(r)];
        EXPECT_NEAR(got, expect, 1e-4 * std::max(1.0f, std::fabs(expect))) << where << " " << r;
      }
      // The maps of the best hypothesis, captured through the beam, equal the golden ones.
      for (int64_t l = 0; l < model->num_layers(AttentionKind::kCross); ++l) {
        const std::string name = pre + run + ".attn.cross." + std::to_string(l);
        if (!golden().has(name)) continue;
        const HypothesisAttention& a = hyps[0].attention;
        const Tensor& gc = golden().tensor(name);
        ASSERT_EQ(a.cross.at(l).shape(), gc.shape()) << name;
        EXPECT_LE(max_abs_diff(a.cross[l].data(), gc), 1e-5) << name;
        const Tensor& gs = golden().tensor(pre + run + ".attn.decoder_self." + std::to_string(l));
        ASSERT_EQ(a.decoder_self.at(l).shape(), gs.shape()) << name;
        EXPECT_LE(max_abs_diff(a.decoder_self[l].data(), gs), 1e-5) << name;
      }
      ++runs;
    }
  }
  EXPECT_GE(runs, 8);
}

TEST_P(MarianFixture, TranslatedTextsMatchAndABatchEqualsEachSentenceAlone) {
  auto model = load_model(marian_model(GetParam()));
  const TokenizerPair tok = load_tokenizers(marian_model(GetParam()));
  std::vector<std::string> sources;
  std::vector<std::string> want;
  for (const json& c : golden().json["cases"]) {
    if (c["runs"]["beam"]["overrides"].contains("max_new_tokens")) continue;
    sources.push_back(c["source"]);
    want.push_back(c["runs"]["beam"]["hypotheses"][0]["text"]);
  }
  TranslateOptions opt;
  opt.decode = decode_options_for(model->info(), {});  // the generation config's beam search
  opt.batch_sentences = 16;
  const auto batched = translate_sentences(*model, *tok.src, *tok.tgt, sources, opt);
  ASSERT_EQ(batched.size(), sources.size());
  for (size_t i = 0; i < sources.size(); ++i) {
    EXPECT_EQ(batched[i].text, want[i]) << sources[i];
    const auto alone = translate_sentences(*model, *tok.src, *tok.tgt, {sources[i]}, opt);
    EXPECT_EQ(alone[0].hypotheses[0].tokens, batched[i].hypotheses[0].tokens) << sources[i];
    EXPECT_NEAR(alone[0].hypotheses[0].score, batched[i].hypotheses[0].score, 1e-5);
  }
}

INSTANTIATE_TEST_SUITE_P(Variants, MarianFixture, ::testing::ValuesIn(test::marian_variants()),
                         variant_name);

// ---- what the model says about itself ------------------------------------------------------

TEST(MarianModel, InfoNamesTheArchitectureAndTheGenerationConfig) {
  auto model = load_model(marian_model("shared_swish"));
  const ModelInfo i = model->info();
  EXPECT_EQ(i.arch, "marian");
  EXPECT_EQ(model->config().arch(), "marian");
  EXPECT_EQ(i.pad_id, 178);
  EXPECT_EQ(i.eos_id, 0);
  EXPECT_EQ(i.decoder_start_id, 178);  // the pad id, a real token for the decoder
  EXPECT_EQ(i.max_len, 128);
  ASSERT_TRUE(i.generation.has_value());
  EXPECT_EQ(i.generation->num_beams, 4);
  EXPECT_EQ(i.generation->max_length, 12);
  EXPECT_EQ(i.generation->forced_eos_token_id, 0);
  EXPECT_EQ(i.generation->bad_token_ids, std::vector<int32_t>{178});
  EXPECT_TRUE(i.generation->renormalize_logits);
  EXPECT_TRUE(i.value_vectors);
  // The F16 variant carries its position tables: they become parameters, read from the file.
  auto f16 = load_model(marian_model("noscale_relu_f16"));
  bool tables = false;
  f16->visit_params([&](Param& p) { tables = tables || p.name == "tgt_positions.weight"; });
  EXPECT_TRUE(tables);
}

TEST(MarianModel, DecodeSettingsFollowTheGenerationConfigUnlessGiven) {
  auto model = load_model(marian_model("noscale_relu_f16"));
  const ModelInfo info = model->info();
  DecodeOptions d = decode_options_for(info, {});
  EXPECT_EQ(d.beam, 6);
  EXPECT_EQ(d.nbest, 1);
  ASSERT_TRUE(d.hf.has_value());
  EXPECT_EQ(d.hf->max_length, 12);
  DecodeRequest r;
  r.beam = 2;
  r.max_new_tokens = 3;
  r.length_penalty = 0.5f;
  d = decode_options_for(info, r);
  EXPECT_EQ(d.beam, 2);
  EXPECT_EQ(d.hf->max_length, 4);  // max_length counts the decoder start token
  EXPECT_EQ(d.length_penalty, 0.5f);
  const auto message = [&](const DecodeRequest& bad) {
    try {
      decode_options_for(info, bad);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  DecodeRequest zero;
  zero.max_new_tokens = 0;
  EXPECT_NE(message(zero).find("max_new_tokens must be between 1 and"), std::string::npos);
  DecodeRequest too_long;
  too_long.max_new_tokens = 97;  // the model has 96 positions
  EXPECT_NE(message(too_long).find("96 decoder positions"), std::string::npos);
  DecodeRequest ratio;
  ratio.max_len_ratio = 2.0f;
  EXPECT_NE(message(ratio).find("--max-new-tokens"), std::string::npos);
  DecodeRequest nbest;
  nbest.beam = 2;
  nbest.nbest = 3;
  EXPECT_NE(message(nbest).find("nbest must be between 1 and the beam size (2)"),
            std::string::npos);
  // max_new_tokens caps every hypothesis: n new tokens, the last a forced </s>.
  const TokenizerPair tok = load_tokenizers(marian_model("noscale_relu_f16"));
  TranslateOptions opt;
  r = {};
  r.max_new_tokens = 2;
  opt.decode = decode_options_for(info, r);
  const auto t =
      translate_sentences(*model, *tok.src, *tok.tgt, {"A minha irmã mora em Lisboa."}, opt);
  EXPECT_LE(t[0].hypotheses[0].tokens.size() + (t[0].hypotheses[0].finished ? 1 : 0), 2u);
  EXPECT_TRUE(t[0].hypotheses[0].finished);  // forced_eos_token_id
}

}  // namespace
}  // namespace attnscope
