// Attention capture on the committed trained model (tests/data/tiny_dates_model): several date
// sentences of different lengths decoded in one padded batch with beam 1 and beam 4 (n-best 4).
// Every hypothesis's decoder self- and cross-attention, per layer and head, equals the maps of a
// teacher-forced pass over that hypothesis ([bos] + its tokens as decoder input), so the maps
// really follow the beam's backpointers to the output; the encoder maps equal the forced pass's;
// rows sum to 1, the decoder self-attention is exactly 0 above the diagonal, padded source keys
// get exactly 0, and a sentence's maps do not depend on its batch-mates. Capture specs (layers,
// heads, mean/max/last) equal the slices and reductions of the full capture. The greedy output
// is checked to be right on a few dates, which guards the fixture: the model is trained.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "decode/beam_search.h"
#include "decode/translate.h"
#include "io/config_json.h"
#include "io/model_dir.h"
#include "nn/transformer.h"

namespace attnscope {
namespace {

const std::string kModel = std::string(ATTNSCOPE_TEST_DATA) + "/tiny_dates_model";

// Loaded once, as a Transformer (the tests read its config): the tests only read the weights
// (forward and decoding overwrite activations).
Transformer& model() {
  static std::unique_ptr<Transformer> m = [] {
    auto t = std::make_unique<Transformer>(read_config_as<ModelConfig>(kModel + "/config.json"));
    load_weights(*t, kModel + "/model.safetensors");
    return t;
  }();
  return *m;
}
const TokenizerPair& tokenizers() {
  static TokenizerPair t = load_tokenizers(kModel);
  return t;
}

// Dates of clearly different lengths (in pieces), so the batch pads all but the longest.
const std::vector<std::string> kSentences = {
    "25 de dezembro de 1969",    "terça-feira, 12 de outubro de 1993",
    "October 9, 1993",           "1993/10/12",
    "Tuesday, October 12, 1993",
};

std::vector<int32_t> source_ids(const std::string& s) {
  const ModelConfig& c = model().config();
  return encode_source(*tokenizers().src, s, c.max_len, c.eos_id);
}

std::vector<std::vector<int32_t>> all_source_ids() {
  std::vector<std::vector<int32_t>> ids;
  for (const auto& s : kSentences) ids.push_back(source_ids(s));
  return ids;
}

// Rows padded with pad_id to the longest, in the given order (not sorted by length).
TokenBatch padded_batch(const std::vector<std::vector<int32_t>>& rows) {
  TokenBatch b;
  b.rows = static_cast<int64_t>(rows.size());
  for (const auto& r : rows) b.cols = std::max<int64_t>(b.cols, static_cast<int64_t>(r.size()));
  b.ids.assign(static_cast<size_t>(b.rows * b.cols), model().config().pad_id);
  for (size_t i = 0; i < rows.size(); ++i)
    std::copy(rows[i].begin(), rows[i].end(), b.ids.begin() + static_cast<int64_t>(i) * b.cols);
  return b;
}

// The tokens the decoder was fed for a hypothesis: bos and its outputs (the last output of a
// hypothesis cut at the length limit was never fed back).
std::vector<int32_t> fed_tokens(const Hypothesis& h) {
  std::vector<int32_t> fed = {model().config().bos_id};
  fed.insert(fed.end(), h.tokens.begin(), h.tokens.end());
  if (!h.finished) fed.pop_back();
  return fed;
}

// [H, rows, cols] = t[b, :, :rows, :cols] of a map t [B, H, Tq, Tk].
Tensor slice(const Tensor& t, int64_t b, int64_t rows, int64_t cols) {
  const int64_t H = t.dim(1), Tq = t.dim(2), Tk = t.dim(3);
  Tensor out({H, rows, cols});
  for (int64_t h = 0; h < H; ++h)
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t j = 0; j < cols; ++j)
        out[(h * rows + i) * cols + j] = t[((b * H + h) * Tq + i) * Tk + j];
  return out;
}

// Every map of a teacher-forced pass, per layer, as [H, Tq, Tk] of batch row b.
struct ForcedMaps {
  std::vector<Tensor> encoder_self, decoder_self, cross;
};

ForcedMaps forced_maps(const TokenBatch& src, const TokenBatch& tgt, int64_t b, int64_t n,
                       int64_t T) {
  Transformer& m = model();
  m.forward(src, tgt, {});
  ForcedMaps f;
  for (int64_t l = 0; l < m.num_layers(AttentionKind::kEncoderSelf); ++l)
    f.encoder_self.push_back(slice(m.attention(AttentionKind::kEncoderSelf, l), b, n, n));
  for (int64_t l = 0; l < m.num_layers(AttentionKind::kDecoderSelf); ++l) {
    f.decoder_self.push_back(slice(m.attention(AttentionKind::kDecoderSelf, l), b, T, T));
    f.cross.push_back(slice(m.attention(AttentionKind::kCross, l), b, T, n));
  }
  return f;
}

// The forced pass of one sentence alone over one hypothesis.
ForcedMaps forced_maps_alone(const std::vector<int32_t>& src_ids, const Hypothesis& h) {
  const std::vector<int32_t> fed = fed_tokens(h);
  const TokenBatch src{1, static_cast<int64_t>(src_ids.size()), src_ids};
  const TokenBatch tgt{1, static_cast<int64_t>(fed.size()), fed};
  return forced_maps(src, tgt, 0, src.cols, tgt.cols);
}

::testing::AssertionResult near(const Tensor& got, const Tensor& want, double tol) {
  if (got.shape() != want.shape())
    return ::testing::AssertionFailure()
           << "shape " << got.shape_str() << ", expected " << want.shape_str();
  double worst = 0;
  int64_t at = 0;
  for (int64_t i = 0; i < got.numel(); ++i) {
    const double d = std::abs(static_cast<double>(got[i]) - static_cast<double>(want[i]));
    if (!(d <= worst)) {  // also catches NaN
      worst = std::isnan(d) ? INFINITY : d;
      at = i;
    }
  }
  if (worst > tol)
    return ::testing::AssertionFailure() << "differs by " << worst << " at flat index " << at
                                         << " (" << got[at] << " vs " << want[at] << ")";
  return ::testing::AssertionSuccess();
}

// Each row of t [H, R, C] sums to 1.
::testing::AssertionResult rows_sum_to_one(const Tensor& t) {
  const int64_t rows = t.dim(0) * t.dim(1), C = t.dim(2);
  for (int64_t r = 0; r < rows; ++r) {
    double s = 0;
    for (int64_t j = 0; j < C; ++j) s += t[r * C + j];
    if (std::abs(s - 1.0) > 1e-5)
      return ::testing::AssertionFailure()
             << "row " << r << " of " << t.shape_str() << " sums to " << s;
  }
  return ::testing::AssertionSuccess();
}

// t [H, T, T] is exactly 0 above the diagonal (a query never sees a later position).
::testing::AssertionResult causal(const Tensor& t) {
  const int64_t H = t.dim(0), T = t.dim(1);
  for (int64_t h = 0; h < H; ++h)
    for (int64_t i = 0; i < T; ++i)
      for (int64_t j = i + 1; j < T; ++j)
        if (t[(h * T + i) * T + j] != 0.0f)
          return ::testing::AssertionFailure() << "head " << h << " query " << i << " sees key "
                                               << j << ": " << t[(h * T + i) * T + j];
  return ::testing::AssertionSuccess();
}

std::vector<std::vector<Hypothesis>> decode(const TokenBatch& src, int64_t beam, bool capture) {
  DecodeOptions opt;
  opt.beam = beam;
  opt.nbest = beam;
  if (capture) opt.capture.emplace();
  return beam_search(model(), src, opt);
}

// Dates the trained model gets right with a clear margin over the runner-up (it is tiny and
// not perfect: "terça-feira, 12 de outubro de 1993" comes out as 1993-10-21), so a broken
// fixture or a broken decoder shows here first.
TEST(TrainedModelCapture, GreedyOutputIsTheRightDate) {
  const std::vector<std::pair<std::string, std::string>> dates = {
      {"25 de dezembro de 1969", "1969-12-25"},
      {"October 9, 1993", "1993-10-09"},
      {"July 4, 1976", "1976-07-04"},
      {"30 de junho de 2015", "2015-06-30"},
      {"12-OCT-1993", "1993-10-12"},
      {"Jan 1, 2000", "2000-01-01"},
  };
  std::vector<std::string> sentences;
  for (const auto& d : dates) sentences.push_back(d.first);
  for (int64_t beam : {1, 4}) {
    TranslateOptions opt;
    opt.decode.beam = beam;
    opt.decode.capture.emplace();
    const auto out =
        translate_sentences(model(), *tokenizers().src, *tokenizers().tgt, sentences, opt);
    ASSERT_EQ(out.size(), dates.size());
    for (size_t i = 0; i < dates.size(); ++i) {
      EXPECT_EQ(out[i].text, dates[i].second) << "beam " << beam << ": " << dates[i].first;
      const Hypothesis& best = out[i].hypotheses.at(0);
      EXPECT_TRUE(best.finished) << dates[i].first;
      // The maps' rows and columns are the pieces a viewer labels them with.
      const int64_t T = static_cast<int64_t>(out[i].tgt_pieces.size());
      const int64_t n = static_cast<int64_t>(out[i].src_pieces.size());
      EXPECT_EQ(out[i].tgt_pieces.front(), "<s>");
      EXPECT_EQ(out[i].src_pieces.back(), "</s>");
      for (const Tensor& x : best.attention.cross)
        EXPECT_EQ(x.shape(), (Shape{model().config().heads, T, n})) << dates[i].first;
    }
  }
}

TEST(TrainedModelCapture, TheBatchIsPadded) {
  const TokenBatch src = padded_batch(all_source_ids());
  int64_t padded_rows = 0;
  for (int64_t b = 0; b < src.rows; ++b)
    padded_rows += src.at(b, src.cols - 1) == model().config().pad_id;
  EXPECT_GE(padded_rows, 3);
  std::vector<int64_t> lengths;
  for (const auto& ids : all_source_ids()) lengths.push_back(static_cast<int64_t>(ids.size()));
  std::sort(lengths.begin(), lengths.end());
  EXPECT_GE(std::unique(lengths.begin(), lengths.end()) - lengths.begin(), 4) << "lengths vary";
}

class TrainedModelCaptureBeam : public ::testing::TestWithParam<int64_t> {};

// The heart of it: the n-best maps of a batched, padded beam search are the maps of a forced
// forward pass (one sentence alone) over each output.
TEST_P(TrainedModelCaptureBeam, EveryHypothesisMapsEqualAForcedPassOverItsTokens) {
  const int64_t K = GetParam();
  const ModelConfig& c = model().config();
  const int64_t H = c.heads, L = c.decoder_layers, Le = c.encoder_layers;
  const auto ids = all_source_ids();
  const TokenBatch src = padded_batch(ids);
  const auto out = decode(src, K, true);
  const auto plain = decode(src, K, false);  // capturing must not change the search
  ASSERT_EQ(out.size(), ids.size());
  for (size_t b = 0; b < ids.size(); ++b) {
    SCOPED_TRACE("sentence \"" + kSentences[b] + "\" beam " + std::to_string(K));
    ASSERT_EQ(static_cast<int64_t>(out[b].size()), K);  // nbest = beam hypotheses
    ASSERT_EQ(plain[b].size(), out[b].size());
    const int64_t n = static_cast<int64_t>(ids[b].size());
    for (size_t i = 0; i < out[b].size(); ++i) {
      SCOPED_TRACE("hypothesis " + std::to_string(i));
      const Hypothesis& h = out[b][i];
      EXPECT_EQ(h.tokens, plain[b][i].tokens);
      EXPECT_EQ(h.score, plain[b][i].score);
      if (i > 0) {
        EXPECT_GE(out[b][i - 1].score, h.score);                               // best first
        for (size_t j = 0; j < i; ++j) EXPECT_NE(out[b][j].tokens, h.tokens);  // distinct
      }
      const HypothesisAttention& a = h.attention;
      EXPECT_EQ(a.encoder_layers, (std::vector<int64_t>{0, 1}));
      EXPECT_EQ(a.decoder_layers, (std::vector<int64_t>{0, 1}));
      EXPECT_EQ(a.heads, (std::vector<int64_t>{0, 1}));
      EXPECT_EQ(a.reduction, CaptureReduction::kNone);
      ASSERT_EQ(static_cast<int64_t>(a.encoder_self.size()), Le);
      ASSERT_EQ(static_cast<int64_t>(a.decoder_self.size()), L);
      ASSERT_EQ(static_cast<int64_t>(a.cross.size()), L);
      const int64_t T = static_cast<int64_t>(fed_tokens(h).size());
      const ForcedMaps f = forced_maps_alone(ids[b], h);
      for (int64_t l = 0; l < Le; ++l) {
        SCOPED_TRACE("encoder layer " + std::to_string(l));
        ASSERT_EQ(a.encoder_self[l].shape(), (Shape{H, n, n}));
        EXPECT_TRUE(near(a.encoder_self[l], f.encoder_self[l], 1e-5));
        EXPECT_TRUE(rows_sum_to_one(a.encoder_self[l]));
      }
      for (int64_t l = 0; l < L; ++l) {
        SCOPED_TRACE("decoder layer " + std::to_string(l));
        ASSERT_EQ(a.decoder_self[l].shape(), (Shape{H, T, T}));
        ASSERT_EQ(a.cross[l].shape(), (Shape{H, T, n}));
        EXPECT_TRUE(near(a.decoder_self[l], f.decoder_self[l], 1e-5));
        EXPECT_TRUE(near(a.cross[l], f.cross[l], 1e-5));
        EXPECT_TRUE(causal(a.decoder_self[l]));
        EXPECT_TRUE(rows_sum_to_one(a.decoder_self[l]));
        // Trimmed to the real source length, a row still sums to 1: padding got nothing.
        EXPECT_TRUE(rows_sum_to_one(a.cross[l]));
      }
    }
  }
}

// The scores are what the model says about the output: Σ log p under teacher forcing (eos
// included when reached), divided by length^α.
TEST_P(TrainedModelCaptureBeam, ScoresAreTheForcedLogProbabilities) {
  const int64_t K = GetParam();
  const ModelConfig& c = model().config();
  const auto ids = all_source_ids();
  const auto out = decode(padded_batch(ids), K, false);
  for (size_t b = 0; b < ids.size(); ++b)
    for (const Hypothesis& h : out[b]) {
      const TokenBatch src{1, static_cast<int64_t>(ids[b].size()), ids[b]};
      std::vector<int32_t> fed = {c.bos_id};
      fed.insert(fed.end(), h.tokens.begin(), h.tokens.end());
      const TokenBatch tgt{1, static_cast<int64_t>(fed.size()), fed};
      const Tensor& logits = model().forward(src, tgt, {});
      const int64_t V = logits.dim(2);
      const int64_t predicted = tgt.cols - (h.finished ? 0 : 1);
      double total = 0;
      for (int64_t t = 0; t < predicted; ++t) {
        const float* row = logits.data() + t * V;
        double mx = row[0], s = 0;
        for (int64_t v = 0; v < V; ++v) mx = std::max<double>(mx, row[v]);
        for (int64_t v = 0; v < V; ++v) s += std::exp(row[v] - mx);
        const int32_t next = t < static_cast<int64_t>(h.tokens.size()) ? h.tokens[t] : c.eos_id;
        total += row[next] - mx - std::log(s);
      }
      EXPECT_NEAR(h.log_prob, total, 1e-3) << kSentences[b];
      const double len = static_cast<double>(h.tokens.size() + 1);
      EXPECT_NEAR(h.score, h.log_prob / len, 1e-5) << kSentences[b];  // α = 1 by default
    }
}

// Decoded alone, each sentence gives the same output and the same maps as in the padded batch.
TEST_P(TrainedModelCaptureBeam, MapsDoNotDependOnBatchMates) {
  const int64_t K = GetParam();
  const auto ids = all_source_ids();
  const auto batched = decode(padded_batch(ids), K, true);
  for (size_t b = 0; b < ids.size(); ++b) {
    SCOPED_TRACE("sentence \"" + kSentences[b] + "\" beam " + std::to_string(K));
    const auto alone = decode(padded_batch({ids[b]}), K, true);
    ASSERT_EQ(alone.size(), 1u);
    ASSERT_EQ(alone[0].size(), batched[b].size());
    for (size_t i = 0; i < alone[0].size(); ++i) {
      const Hypothesis& x = batched[b][i];
      const Hypothesis& y = alone[0][i];
      ASSERT_EQ(x.tokens, y.tokens) << "hypothesis " << i;
      EXPECT_EQ(x.finished, y.finished);
      EXPECT_NEAR(x.log_prob, y.log_prob, 1e-4);
      for (size_t l = 0; l < x.attention.encoder_self.size(); ++l)
        EXPECT_TRUE(near(x.attention.encoder_self[l], y.attention.encoder_self.at(l), 1e-5));
      for (size_t l = 0; l < x.attention.decoder_self.size(); ++l) {
        EXPECT_TRUE(near(x.attention.decoder_self[l], y.attention.decoder_self.at(l), 1e-5));
        EXPECT_TRUE(near(x.attention.cross[l], y.attention.cross.at(l), 1e-5));
      }
    }
  }
}

// Hypotheses cut at each sentence's length limit (short limits that differ within the batch,
// and stop_at_eos off, which runs every sentence to its limit): the last output was chosen at
// the final step and never fed back, so the maps have one row per fed token, and they still
// equal the forced pass over those tokens.
TEST_P(TrainedModelCaptureBeam, HypothesesCutAtTheLengthLimitKeepTheirMaps) {
  const int64_t K = GetParam();
  const ModelConfig& c = model().config();
  const auto ids = all_source_ids();
  const TokenBatch src = padded_batch(ids);
  for (bool stop_at_eos : {true, false}) {
    DecodeOptions opt;
    opt.beam = K;
    opt.nbest = K;
    opt.capture.emplace();
    opt.stop_at_eos = stop_at_eos;
    opt.max_len_ratio = stop_at_eos ? 0.5f : 1.0f;
    opt.max_len_extra = 0;
    const auto out = beam_search(model(), src, opt);
    int64_t cut = 0;
    for (size_t b = 0; b < ids.size(); ++b) {
      SCOPED_TRACE("sentence \"" + kSentences[b] + "\" stop_at_eos " + std::to_string(stop_at_eos));
      const int64_t n = static_cast<int64_t>(ids[b].size());
      const int64_t limit =
          static_cast<int64_t>(std::ceil(opt.max_len_ratio * static_cast<float>(n)));
      ASSERT_EQ(static_cast<int64_t>(out[b].size()), K);
      for (const Hypothesis& h : out[b]) {
        const int64_t len = static_cast<int64_t>(h.tokens.size());
        EXPECT_LE(len, limit);
        if (!stop_at_eos) {
          EXPECT_FALSE(h.finished);
        }
        if (!h.finished) {
          EXPECT_EQ(len, limit);
          ++cut;
        }
        for (int32_t tok : h.tokens) {
          EXPECT_NE(tok, c.pad_id);
          EXPECT_NE(tok, c.bos_id);
          if (!stop_at_eos) {
            EXPECT_NE(tok, c.eos_id);
          }
        }
        const int64_t T = static_cast<int64_t>(fed_tokens(h).size());
        EXPECT_EQ(T, len + (h.finished ? 1 : 0));
        const ForcedMaps f = forced_maps_alone(ids[b], h);
        for (size_t l = 0; l < f.cross.size(); ++l) {
          ASSERT_EQ(h.attention.cross.at(l).shape(), (Shape{c.heads, T, n}));
          EXPECT_TRUE(near(h.attention.decoder_self.at(l), f.decoder_self[l], 1e-5));
          EXPECT_TRUE(near(h.attention.cross[l], f.cross[l], 1e-5));
          EXPECT_TRUE(causal(h.attention.decoder_self[l]));
          EXPECT_TRUE(rows_sum_to_one(h.attention.cross[l]));
        }
      }
    }
    EXPECT_GT(cut, 0) << "some hypotheses must reach the limit";
  }
}

INSTANTIATE_TEST_SUITE_P(TrainedModelCapture, TrainedModelCaptureBeam, ::testing::Values(1, 4),
                         [](const ::testing::TestParamInfo<int64_t>& p) {
                           return "beam" + std::to_string(p.param);
                         });

// Padded source keys get exactly 0, in the batched forced pass and at every cached decoding
// step; the batched forced pass's maps equal the captured ones.
TEST(TrainedModelCapture, PaddedKeysGetExactlyZero) {
  const ModelConfig& c = model().config();
  const int64_t H = c.heads, L = c.decoder_layers, Le = c.encoder_layers;
  const auto ids = all_source_ids();
  const TokenBatch src = padded_batch(ids);
  const int64_t B = src.rows, Ts = src.cols;
  const auto best = decode(src, 4, true);
  std::vector<std::vector<int32_t>> fed;
  for (const auto& hyps : best) fed.push_back(fed_tokens(hyps.at(0)));
  const TokenBatch tgt = padded_batch(fed);
  const int64_t Tt = tgt.cols;

  model().forward(src, tgt, {});
  for (int64_t b = 0; b < B; ++b) {
    SCOPED_TRACE("sentence \"" + kSentences[b] + "\"");
    const int64_t n = static_cast<int64_t>(ids[b].size());
    const int64_t T = static_cast<int64_t>(fed[b].size());
    const HypothesisAttention& a = best[b][0].attention;
    for (int64_t l = 0; l < Le; ++l) {
      const Tensor& e = model().attention(AttentionKind::kEncoderSelf, l);  // [B, H, Ts, Ts]
      for (int64_t h = 0; h < H; ++h)
        for (int64_t i = 0; i < Ts; ++i)
          for (int64_t j = n; j < Ts; ++j)
            ASSERT_EQ(e[((b * H + h) * Ts + i) * Ts + j], 0.0f) << "encoder " << l << "," << h;
      EXPECT_TRUE(near(slice(e, b, n, n), a.encoder_self[l], 1e-5));
    }
    for (int64_t l = 0; l < L; ++l) {
      const Tensor& s = model().attention(AttentionKind::kDecoderSelf, l);  // [B, H, Tt, Tt]
      const Tensor& x = model().attention(AttentionKind::kCross, l);        // [B, H, Tt, Ts]
      for (int64_t h = 0; h < H; ++h)
        for (int64_t i = 0; i < Tt; ++i) {
          for (int64_t j = n; j < Ts; ++j)
            ASSERT_EQ(x[((b * H + h) * Tt + i) * Ts + j], 0.0f) << "cross " << l << "," << h;
          for (int64_t j = std::min(i + 1, T); j < Tt; ++j)  // later and padded positions
            ASSERT_EQ(s[((b * H + h) * Tt + i) * Tt + j], 0.0f) << "self " << l << "," << h;
        }
      EXPECT_TRUE(near(slice(s, b, T, T), a.decoder_self[l], 1e-5));
      EXPECT_TRUE(near(slice(x, b, T, n), a.cross[l], 1e-5));
    }
  }

  // The cached decoder, fed the same tokens: every step's cross row puts 0 on padding.
  auto cache = model().start_decoding(src, 1, Tt);
  for (int64_t l = 0; l < Le; ++l) {
    const Tensor& e = model().attention(AttentionKind::kEncoderSelf, l);
    for (int64_t b = 0; b < B; ++b)
      for (int64_t h = 0; h < H; ++h)
        for (int64_t i = 0; i < Ts; ++i)
          for (int64_t j = static_cast<int64_t>(ids[b].size()); j < Ts; ++j)
            ASSERT_EQ(e[((b * H + h) * Ts + i) * Ts + j], 0.0f);
  }
  for (int64_t t = 0; t < Tt; ++t) {
    std::vector<int32_t> step(static_cast<size_t>(B));
    for (int64_t b = 0; b < B; ++b) step[b] = tgt.at(b, t) == c.pad_id ? c.eos_id : tgt.at(b, t);
    model().decode_step(*cache, step);
    for (int64_t l = 0; l < L; ++l) {
      const Tensor& x = model().attention(AttentionKind::kCross, l);  // [B, H, 1, Ts]
      ASSERT_EQ(x.shape(), (Shape{B, H, 1, Ts}));
      for (int64_t b = 0; b < B; ++b)
        for (int64_t h = 0; h < H; ++h)
          for (int64_t j = static_cast<int64_t>(ids[b].size()); j < Ts; ++j)
            ASSERT_EQ(x[(b * H + h) * Ts + j], 0.0f) << "step " << t << " layer " << l;
    }
  }
}

// What a spec keeps, computed from the full capture's [H, R, C]: the chosen heads in order,
// or their mean / max, or each chosen head's last row.
Tensor expected_selection(const Tensor& full, const std::vector<int64_t>& heads,
                          CaptureReduction r) {
  const int64_t R = full.dim(1), C = full.dim(2);
  const int64_t Hs = static_cast<int64_t>(heads.size());
  auto at = [&](int64_t h, int64_t i, int64_t j) { return full[(h * R + i) * C + j]; };
  if (r == CaptureReduction::kMeanHeads || r == CaptureReduction::kMaxHeads) {
    Tensor out({1, R, C});
    for (int64_t i = 0; i < R; ++i)
      for (int64_t j = 0; j < C; ++j) {
        float v = r == CaptureReduction::kMeanHeads ? 0.0f : -INFINITY;
        for (int64_t h : heads)
          v = r == CaptureReduction::kMeanHeads ? v + at(h, i, j) : std::max(v, at(h, i, j));
        out[i * C + j] = r == CaptureReduction::kMeanHeads ? v / static_cast<float>(Hs) : v;
      }
    return out;
  }
  const int64_t rows = r == CaptureReduction::kLastRow ? 1 : R;
  Tensor out({Hs, rows, C});
  for (int64_t k = 0; k < Hs; ++k)
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t j = 0; j < C; ++j) out[(k * rows + i) * C + j] = at(heads[k], R - rows + i, j);
  return out;
}

TEST(TrainedModelCapture, SpecsEqualSlicesAndReductionsOfTheFullCapture) {
  using K = AttentionKind;
  const ModelConfig& c = model().config();
  const TokenBatch src = padded_batch(all_source_ids());
  const auto full = decode(src, 4, true);
  const std::vector<K> all_kinds = {K::kEncoderSelf, K::kDecoderSelf, K::kCross};
  struct Case {
    std::vector<K> kinds;
    std::vector<int64_t> layers, heads;
    CaptureReduction reduction;
  };
  const std::vector<Case> cases = {
      {all_kinds, {1}, {1}, CaptureReduction::kNone},
      {all_kinds, {}, {1, 0}, CaptureReduction::kNone},  // heads in the order asked
      {{K::kDecoderSelf}, {0}, {}, CaptureReduction::kMeanHeads},
      {{K::kCross, K::kEncoderSelf}, {}, {}, CaptureReduction::kMaxHeads},
      {all_kinds, {0, 1}, {0}, CaptureReduction::kLastRow},
      {{K::kCross}, {1}, {}, CaptureReduction::kLastRow},
      {all_kinds, {}, {}, CaptureReduction::kMeanHeads},
  };
  for (size_t ci = 0; ci < cases.size(); ++ci) {
    SCOPED_TRACE("case " + std::to_string(ci));
    const Case& k = cases[ci];
    DecodeOptions opt;
    opt.beam = 4;
    opt.nbest = 4;
    opt.capture.emplace();
    opt.capture->kinds = k.kinds;
    opt.capture->layers = k.layers;
    opt.capture->heads = k.heads;
    opt.capture->reduction = k.reduction;
    const auto got = beam_search(model(), src, opt);
    const std::vector<int64_t> heads = opt.capture->head_indices(c.heads);
    const bool over_heads =
        k.reduction == CaptureReduction::kMeanHeads || k.reduction == CaptureReduction::kMaxHeads;
    auto wants = [&](K kind) {
      return std::find(k.kinds.begin(), k.kinds.end(), kind) != k.kinds.end();
    };
    auto layers_of = [&](int64_t count, bool wanted) {
      std::vector<int64_t> ls;
      if (!wanted) return ls;
      for (int64_t l = 0; l < count; ++l)
        if (k.layers.empty() || std::find(k.layers.begin(), k.layers.end(), l) != k.layers.end())
          ls.push_back(l);
      return ls;
    };
    const auto enc_layers = layers_of(c.encoder_layers, wants(K::kEncoderSelf));
    const auto dec_layers = layers_of(c.decoder_layers, wants(K::kDecoderSelf) || wants(K::kCross));
    ASSERT_EQ(got.size(), full.size());
    for (size_t b = 0; b < got.size(); ++b) {
      ASSERT_EQ(got[b].size(), full[b].size());
      for (size_t i = 0; i < got[b].size(); ++i) {
        SCOPED_TRACE("sentence " + std::to_string(b) + " hypothesis " + std::to_string(i));
        const HypothesisAttention& A = full[b][i].attention;
        const HypothesisAttention& S = got[b][i].attention;
        ASSERT_EQ(got[b][i].tokens, full[b][i].tokens);
        EXPECT_EQ(S.encoder_layers, enc_layers);
        EXPECT_EQ(S.decoder_layers, dec_layers);
        EXPECT_EQ(S.heads, over_heads ? std::vector<int64_t>{} : heads);
        EXPECT_EQ(S.reduction, k.reduction);
        ASSERT_EQ(S.encoder_self.size(), enc_layers.size());
        ASSERT_EQ(S.decoder_self.size(), wants(K::kDecoderSelf) ? dec_layers.size() : 0u);
        ASSERT_EQ(S.cross.size(), wants(K::kCross) ? dec_layers.size() : 0u);
        for (size_t j = 0; j < enc_layers.size(); ++j)
          EXPECT_TRUE(near(S.encoder_self[j],
                           expected_selection(A.encoder_self[enc_layers[j]], heads, k.reduction),
                           1e-6))
              << "encoder layer " << enc_layers[j];
        for (size_t j = 0; j < S.decoder_self.size(); ++j)
          EXPECT_TRUE(near(S.decoder_self[j],
                           expected_selection(A.decoder_self[dec_layers[j]], heads, k.reduction),
                           1e-6))
              << "decoder layer " << dec_layers[j];
        for (size_t j = 0; j < S.cross.size(); ++j)
          EXPECT_TRUE(near(S.cross[j],
                           expected_selection(A.cross[dec_layers[j]], heads, k.reduction), 1e-6))
              << "cross layer " << dec_layers[j];
      }
    }
  }
}

// A wider beam finds a hypothesis scoring at least as well as greedy's, sentence by sentence.
// When both find the same tokens, the two scores are the same sum of log-probabilities computed
// in batches of 4 rows and of 1, whose products OpenBLAS blocks and vectorises differently: they
// may differ in the last bits (12 float ulps of the score seen on an AVX-512 Xeon), so "at least"
// allows 1e-5 of the score's size (about 80 ulps). A worse hypothesis costs far more than that.
TEST(TrainedModelCapture, BeamFourScoresAtLeastAsWellAsGreedy) {
  const TokenBatch src = padded_batch(all_source_ids());
  for (float alpha : {1.0f, 0.0f}) {
    DecodeOptions greedy, beam;
    greedy.length_penalty = beam.length_penalty = alpha;
    beam.beam = 4;
    const auto g = beam_search(model(), src, greedy);
    const auto k = beam_search(model(), src, beam);
    for (size_t b = 0; b < g.size(); ++b) {
      const float greedy_score = g[b].at(0).score;
      const float rounding = 1e-5f * std::max(1.0f, std::abs(greedy_score));
      EXPECT_GE(k[b].at(0).score, greedy_score - rounding) << kSentences[b] << " α " << alpha;
      EXPECT_TRUE(k[b][0].finished);
    }
  }
}

}  // namespace
}  // namespace attnscope
