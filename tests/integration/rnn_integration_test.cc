// arch "rnn-attention" wired into everything else: config.json (round trip, bad configs), the
// model directory, the real trainer (it learns; a resumed run equals an uninterrupted one
// exactly), beam search with attention capture (the captured α equal the teacher-forced α over
// the output), and the CLI (train, translate, attention with one cross layer of one head).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <variant>

#include "core/error.h"
#include "core/rng.h"
#include "data/date_corpus.h"
#include "decode/beam_search.h"
#include "inspect/contributions.h"
#include "io/config_json.h"
#include "io/model_dir.h"
#include "nn/rnn_seq2seq_model.h"
#include "run_attnscope.h"
#include "train/trainer.h"

namespace attnscope {
namespace {

namespace fs = std::filesystem;

RnnConfig small_rnn(int64_t vocab) {
  RnnConfig c;
  c.embed_size = 12;
  c.encoder_hidden = 10;
  c.decoder_hidden = 14;
  c.attention_size = 9;
  c.src_vocab = c.tgt_vocab = vocab;
  c.max_len = 32;
  return c;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

fs::path temp_root(const std::string& what) {
  const fs::path p =
      fs::temp_directory_path() / ("attnscope_rnn_" + what + "_" + std::to_string(getpid()) + "_" +
                                   ::testing::UnitTest::GetInstance()->current_test_info()->name());
  fs::remove_all(p);
  fs::create_directories(p);
  return p;
}

// --- config.json --------------------------------------------------------------------------------

TEST(RnnConfigJson, RoundTrips) {
  RnnConfig c = small_rnn(40);
  c.tgt_vocab = 41;
  c.eos_id = 3;
  c.unk_id = 2;
  c.max_len = 77;
  const auto any = config_from_json(config_to_json(c), "x");
  EXPECT_EQ(any->arch(), "rnn-attention");
  RnnConfig r;
  read_config_fields(config_to_json(*any), "x", r);
  EXPECT_EQ(r.arch(), "rnn-attention");
  EXPECT_EQ(r.embed_size, c.embed_size);
  EXPECT_EQ(r.encoder_hidden, c.encoder_hidden);
  EXPECT_EQ(r.decoder_hidden, c.decoder_hidden);
  EXPECT_EQ(r.attention_size, c.attention_size);
  EXPECT_EQ(r.src_vocab, 40);
  EXPECT_EQ(r.tgt_vocab, 41);
  EXPECT_EQ(r.eos_id, 3);
  EXPECT_EQ(r.unk_id, 2);
  EXPECT_EQ(r.max_len, 77);
  // Without "arch" (or with "transformer") a config is a Transformer's.
  EXPECT_EQ(config_from_json({{"d_model", 8}, {"heads", 2}}, "x")->arch(), "transformer");

  const fs::path dir = temp_root("config");
  write_config((dir / "config.json").string(), c);
  const auto back = read_config((dir / "config.json").string());
  EXPECT_EQ(back->arch(), "rnn-attention");
  EXPECT_EQ(config_to_json(*back), config_to_json(c));
  EXPECT_EQ(config_to_json(read_config_as<RnnConfig>((dir / "config.json").string())),
            config_to_json(c));
  fs::remove_all(dir);
}

TEST(RnnConfigJson, BadConfigsNameTheKey) {
  const nlohmann::json base = config_to_json(small_rnn(40));
  auto with = [&](const char* key, const nlohmann::json& v) {
    nlohmann::json j = base;
    j[key] = v;
    return error_of([&] { config_from_json(j, "cfg.json"); });
  };
  auto has = [](const std::string& msg, const std::string& part) {
    return msg.find(part) != std::string::npos;
  };
  std::string m = with("embed_sise", 64);
  EXPECT_TRUE(has(m, "cfg.json") && has(m, "unknown key \"embed_sise\"") &&
              has(m, "did you mean \"embed_size\""))
      << m;
  m = with("d_model", 64);  // a Transformer key
  EXPECT_TRUE(has(m, "unknown key \"d_model\"")) << m;
  m = with("encoder_hidden", 0);
  EXPECT_TRUE(has(m, "cfg.json") && has(m, "\"encoder_hidden\" is 0; it must be from 1 to 65536"))
      << m;
  m = with("attention_size", "big");
  EXPECT_TRUE(has(m, "\"attention_size\" must be an integer")) << m;
  m = with("max_len", -1);
  EXPECT_TRUE(has(m, "\"max_len\" is -1; it must be from 1")) << m;
  m = with("src_vocab", 2);
  EXPECT_TRUE(has(m, "\"eos_id\" is 2, outside the source vocabulary (src_vocab 2)")) << m;
  m = error_of([] { config_from_json({{"arch", "lstm"}}, "cfg.json"); });
  EXPECT_TRUE(has(m, "lstm") && has(m, "rnn-attention")) << m;
}

TEST(RnnModelDir, SavesLoadsAndRefusesWhatItLacks) {
  const fs::path dir = temp_root("dir");
  RnnSeq2SeqModel model(small_rnn(20));
  model.init_weights(5);
  save_model(model, dir.string());
  const auto j = nlohmann::json::parse(std::ifstream(dir / "config.json"));
  EXPECT_EQ(j.at("arch"), "rnn-attention");
  EXPECT_EQ(j.at("encoder_hidden"), 10);

  auto loaded = load_model(dir.string());
  EXPECT_EQ(loaded->info().arch, "rnn-attention");
  EXPECT_EQ(loaded->config().arch(), "rnn-attention");
  EXPECT_EQ(config_to_json(loaded->config()), config_to_json(model.config()));
  EXPECT_FALSE(loaded->info().value_vectors);
  EXPECT_EQ(loaded->info().d_model, 0);
  EXPECT_EQ(loaded->info().heads, 1);
  EXPECT_EQ(loaded->num_layers(AttentionKind::kCross), 1);
  EXPECT_EQ(loaded->num_layers(AttentionKind::kEncoderSelf), 0);
  EXPECT_EQ(loaded->num_layers(AttentionKind::kDecoderSelf), 0);
  const TokenBatch src{2, 4, {5, 6, 7, 2, 8, 2, 0, 0}}, tgt{2, 3, {1, 9, 10, 1, 11, 0}};
  const Tensor a = model.forward(src, tgt, {}).clone();
  const Tensor& b = loaded->forward(src, tgt, {});
  ASSERT_EQ(a.shape(), b.shape());
  for (int64_t i = 0; i < a.numel(); ++i) ASSERT_EQ(a[i], b[i]);
  EXPECT_EQ(loaded->attention(AttentionKind::kCross, 0).shape(), (Shape{2, 1, 3, 4}));
  const std::string m = error_of([&] { loaded->attention(AttentionKind::kEncoderSelf, 0); });
  EXPECT_NE(m.find("no self-attention"), std::string::npos) << m;

  // No value vectors to weigh: asked through the interface, refused with a message.
  const std::string v = error_of([&] { loaded->attention_values(AttentionKind::kCross, 0); });
  EXPECT_NE(v.find("rnn-attention model has no value vectors"), std::string::npos) << v;
  EXPECT_THROW(loaded->attention_output_weight(AttentionKind::kCross, 0), Error);
  const std::string c =
      error_of([&] { value_weighted_contributions(*loaded, AttentionKind::kCross); });
  EXPECT_NE(c.find("rnn-attention"), std::string::npos) << c;
  fs::remove_all(dir);
}

// --- the trainer
// ----------------------------------------------------------------------------------

// Dates as the demo writes them, one character per token (ids 4…; 0–3 are special).
std::vector<EncodedPair> date_pairs(int64_t n, uint64_t seed, int64_t* vocab) {
  std::map<char, int32_t> ids;
  auto id = [&ids](char ch) {
    auto it = ids.find(ch);
    if (it != ids.end()) return it->second;
    const int32_t next = 4 + static_cast<int32_t>(ids.size());
    ids[ch] = next;
    return next;
  };
  std::vector<EncodedPair> out;
  for (const DatePair& d : generate_dates(n, seed)) {
    EncodedPair p;
    for (char ch : d.written.substr(0, 24)) p.src.push_back(id(ch));
    p.src.push_back(2);
    p.tgt.push_back(1);
    for (char ch : d.iso) p.tgt.push_back(id(ch));
    p.tgt.push_back(2);
    out.push_back(std::move(p));
  }
  *vocab = 4 + static_cast<int64_t>(ids.size()) + 8;
  return out;
}

std::map<int64_t, double> losses(const fs::path& dir) {
  std::map<int64_t, double> out;
  std::ifstream in(dir / "metrics.jsonl");
  for (std::string line; std::getline(in, line);) {
    auto j = nlohmann::json::parse(line);
    if (j.contains("loss")) out[j["step"].get<int64_t>()] = j["loss"].get<double>();
  }
  return out;
}

TrainerOptions options(int64_t steps) {
  TrainerOptions o;
  o.max_steps = steps;
  o.log_every = 1;
  o.valid_every = 4;
  o.schedule.peak = 1e-2f;
  o.schedule.warmup = 5;
  o.seed = 7;
  return o;
}

class RnnTrainer : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = temp_root("trainer");
    pairs_ = date_pairs(24, 3, &vocab_);
  }
  void TearDown() override { fs::remove_all(root_); }
  RnnConfig config() const {
    RnnConfig c = small_rnn(vocab_);
    c.embed_size = 16;
    c.encoder_hidden = c.decoder_hidden = c.attention_size = 24;
    return c;
  }
  TrainerState train(const fs::path& dir, int64_t steps, bool resume, int64_t max_tokens = 200,
                     int64_t log_every = 1) {
    RnnSeq2SeqModel model(config());
    model.init_weights(3);
    Batcher batcher(pairs_, max_tokens, 0, 11);
    TrainerOptions o = options(steps);
    o.log_every = log_every;
    Trainer trainer(model, batcher, o, dir.string());
    if (resume) {
      EXPECT_TRUE(trainer.resume());
    }
    return trainer.run([](const TrainProgress&) {});
  }
  fs::path root_;
  std::vector<EncodedPair> pairs_;
  int64_t vocab_ = 0;
};

TEST_F(RnnTrainer, LossFalls) {
  train(root_ / "learn", 200, false, 100000, 20);  // one batch of every pair
  const auto l = losses(root_ / "learn");
  ASSERT_GE(l.size(), 2u);
  EXPECT_LT(l.rbegin()->second, 0.5 * l.begin()->second)
      << "first " << l.begin()->second << " last " << l.rbegin()->second;
  // The best model was written as an rnn-attention model directory.
  auto m = load_model((root_ / "learn").string());
  EXPECT_EQ(m->info().arch, "rnn-attention");
}

TEST_F(RnnTrainer, ResumedRunEqualsUninterruptedRunExactly) {
  train(root_ / "straight", 12, false);
  train(root_ / "resumed", 8, false);  // stops after the checkpoint at step 8
  const TrainerState s = train(root_ / "resumed", 12, true);
  EXPECT_EQ(s.step, 12);
  const auto a = losses(root_ / "straight"), b = losses(root_ / "resumed");
  ASSERT_EQ(a.size(), 12u);
  ASSERT_EQ(b.size(), 12u);
  for (const auto& [step, loss] : a) EXPECT_EQ(loss, b.at(step)) << "step " << step;
  RnnSeq2SeqModel x(config()), y(config());
  TrainerState sx, sy;
  AdamOptimizer ax(cpu::AdamConfig{}), ay(cpu::AdamConfig{});
  ASSERT_TRUE(load_checkpoint((root_ / "straight").string(), x, ax, sx));
  ASSERT_TRUE(load_checkpoint((root_ / "resumed").string(), y, ay, sy));
  std::map<std::string, Tensor> wx;
  x.visit_params([&](Param& p) { wx[p.name] = p.value; });
  int64_t n = 0;
  y.visit_params([&](Param& p) {
    ++n;
    for (int64_t i = 0; i < p.value.numel(); ++i) ASSERT_EQ(p.value[i], wx[p.name][i]) << p.name;
  });
  EXPECT_EQ(n, static_cast<int64_t>(wx.size()));
}

// --- beam search with capture
// -----------------------------------------------------------------------

class RnnBeamCapture : public ::testing::TestWithParam<int64_t> {};

TEST_P(RnnBeamCapture, CapturedAlphaEqualsTeacherForcedAlpha) {
  RnnSeq2SeqModel model(small_rnn(14));
  model.init_weights(33);
  constexpr int32_t P = 0;
  const TokenBatch src{3, 5, {5, 6, 7, 8, 2, 9, 4, 2, P, P, 3, 3, 12, 10, 2}};
  DecodeOptions opt;
  opt.beam = GetParam();
  opt.nbest = GetParam();
  opt.capture.emplace();
  const auto out = beam_search(model, src, opt);
  ASSERT_EQ(out.size(), 3u);
  for (int64_t b = 0; b < 3; ++b) {
    TokenBatch src1{1, 0, {}};
    for (int64_t j = 0; j < 5; ++j)
      if (src.at(b, j) != P) src1.ids.push_back(src.at(b, j));
    src1.cols = static_cast<int64_t>(src1.ids.size());
    ASSERT_EQ(static_cast<int64_t>(out[b].size()), GetParam());
    for (const Hypothesis& h : out[b]) {
      EXPECT_TRUE(h.attention.encoder_self.empty());
      EXPECT_TRUE(h.attention.decoder_self.empty());
      ASSERT_EQ(h.attention.cross.size(), 1u);
      TokenBatch tgt{1, static_cast<int64_t>(h.tokens.size()) + (h.finished ? 1 : 0), {1}};
      tgt.ids.insert(tgt.ids.end(), h.tokens.begin(), h.tokens.end());
      tgt.ids.resize(static_cast<size_t>(tgt.cols));
      const Tensor& logits = model.forward(src1, tgt, {});
      // The hypothesis' log-probability is the forced pass's.
      double lp = 0;
      const int64_t T = tgt.cols, n = src1.cols, V = 14;
      for (int64_t t = 0; t < T; ++t) {
        const float* row = logits.data() + t * V;
        double m = row[0], sum = 0;
        for (int64_t v = 1; v < V; ++v) m = std::max(m, static_cast<double>(row[v]));
        for (int64_t v = 0; v < V; ++v) sum += std::exp(row[v] - m);
        const int32_t next =
            t < static_cast<int64_t>(h.tokens.size()) ? h.tokens[static_cast<size_t>(t)] : 2;
        lp += row[next] - m - std::log(sum);
      }
      EXPECT_NEAR(lp, h.log_prob, 1e-3);
      const Tensor& cross = h.attention.cross[0];
      ASSERT_EQ(cross.shape(), (Shape{1, T, n}));
      const Tensor& forced = model.attention(AttentionKind::kCross, 0);
      ASSERT_EQ(forced.shape(), (Shape{1, 1, T, n}));
      for (int64_t i = 0; i < cross.numel(); ++i) ASSERT_NEAR(cross[i], forced[i], 1e-5);
      for (int64_t t = 0; t < T; ++t) {
        double row = 0;
        for (int64_t j = 0; j < n; ++j) row += cross[t * n + j];
        EXPECT_NEAR(row, 1.0, 1e-5);
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(BeamSizes, RnnBeamCapture, ::testing::Values(1, 4));

TEST(RnnCaptureSpec, SelfKindsAndMissingLayersAreEmptyOrErrors) {
  RnnSeq2SeqModel model(small_rnn(14));
  model.init_weights(1);
  const TokenBatch src{1, 3, {5, 6, 2}};
  DecodeOptions opt;
  opt.capture.emplace();
  opt.capture->kinds = {AttentionKind::kEncoderSelf, AttentionKind::kDecoderSelf};
  const auto out = beam_search(model, src, opt);
  const HypothesisAttention& a = out.at(0).at(0).attention;
  EXPECT_TRUE(a.encoder_self.empty() && a.decoder_self.empty() && a.cross.empty());
  opt.capture = CaptureSpec{};
  opt.capture->layers = {1};
  EXPECT_THROW(beam_search(model, src, opt), Error);
  opt.capture->layers = {};
  opt.capture->heads = {1};
  EXPECT_THROW(beam_search(model, src, opt), Error);
}

// --- the CLI
// ------------------------------------------------------------------------------------------

TEST(RnnCli, TrainTranslateAndAttention) {
  const fs::path root = temp_root("cli");
  {
    std::ofstream tsv(root / "dates.tsv");
    for (const DatePair& d : generate_dates(300, 9)) tsv << d.written << "\t" << d.iso << "\n";
  }
  const std::string model = (root / "model").string();
  // A Transformer flag names a key the RNN's config does not have: refused before training.
  test::CliResult r = test::run_attnscope("train --arch rnn-attention --config tiny --data " +
                                          (root / "dates.tsv").string() + " --out " + model +
                                          " --steps 6 --dropout 0.2");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.out.find("--dropout does not apply to an rnn-attention model"), std::string::npos)
      << r.out;
  EXPECT_FALSE(fs::exists(model));
  r = test::run_attnscope(
      "train --arch rnn-attention --config tiny --data " + (root / "dates.tsv").string() +
      " --out " + model +
      " --steps 6 --vocab 100 --batch-tokens 600 --split-dev 10 --valid-every 3 "
      "--valid-bleu-sentences 4 --log-every 3");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("rnn-attention"), std::string::npos) << r.out;
  const auto cfg = nlohmann::json::parse(std::ifstream(fs::path(model) / "config.json"));
  EXPECT_EQ(cfg.at("arch"), "rnn-attention");
  EXPECT_EQ(cfg.at("embed_size"), 64);
  EXPECT_EQ(cfg.at("encoder_hidden"), 128);

  std::ofstream(root / "input.txt") << "9 Oct 1993\n";
  const std::string input = (root / "input.txt").string();
  r = test::run_attnscope("translate --model " + model + " --beam 2 < " + input);
  EXPECT_EQ(r.exit_code, 0) << r.out;

  const std::string att = (root / "att").string();
  r = test::run_attnscope("attention --model " + model +
                          " '12 de outubro de 1993' --beam 3 --out " + att);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const auto j = nlohmann::json::parse(std::ifstream(fs::path(att) / "attention.json"));
  const auto& w = j.at("weights");
  EXPECT_EQ(w.at("encoder_self").size(), 0u);
  EXPECT_EQ(w.at("decoder_self").size(), 0u);
  ASSERT_EQ(w.at("cross").size(), 1u);     // one layer
  ASSERT_EQ(w.at("cross")[0].size(), 1u);  // one head
  const auto& rows = w.at("cross")[0][0];
  ASSERT_GE(rows.size(), 1u);
  for (const auto& row : rows) {
    double sum = 0;
    for (const auto& v : row) sum += v.get<double>();
    EXPECT_NEAR(sum, 1.0, 1e-4);
  }
  EXPECT_TRUE(fs::exists(fs::path(att) / "attention.html"));
  EXPECT_TRUE(fs::exists(fs::path(att) / "cross.png"));

  r = test::run_attnscope("attention --model " + model + " 'x' --rollout --out " +
                          (root / "r").string());
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.out.find("--rollout needs self-attention layers"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("rnn-attention model with 0 encoder and 0 decoder"), std::string::npos)
      << r.out;
  r = test::run_attnscope("attention --model " + model + " 'x' --contributions --out " +
                          (root / "c").string());
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.out.find("--contributions needs the value vectors"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(root / "c"));  // refused before any work

  r = test::run_attnscope("align --model " + model + " < " + input);
  EXPECT_EQ(r.exit_code, 0) << r.out;
  fs::remove_all(root);
}

}  // namespace
}  // namespace attnscope
