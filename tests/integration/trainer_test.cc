// The training loop on a synthetic copy task: it learns, a resumed run's loss curve equals an
// uninterrupted one's exactly, a crash between checkpoint renames loses nothing, and a NaN
// stops training with the step and the tensor named.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/rng.h"
#include "nn/transformer.h"
#include "train/trainer.h"

namespace attnscope {
namespace {

namespace fs = std::filesystem;

ModelConfig copy_config() {
  ModelConfig c;
  c.d_model = 32;
  c.heads = 4;
  c.encoder_layers = 1;
  c.decoder_layers = 1;
  c.d_ff = 64;
  c.src_vocab = 14;
  c.tgt_vocab = 14;
  c.max_len = 16;
  c.dropout = 0.1f;  // on, so resume must also restore the dropout masks
  return c;
}

// Copy task: target = source, ids 4..13, lengths 3..7.
std::vector<EncodedPair> copy_pairs(int n, uint64_t seed) {
  Rng rng(seed);
  std::vector<EncodedPair> pairs;
  for (int i = 0; i < n; ++i) {
    EncodedPair p;
    const int len = 3 + static_cast<int>(rng.below(5));
    p.tgt.push_back(1);
    for (int j = 0; j < len; ++j) {
      const int32_t id = 4 + static_cast<int32_t>(rng.below(10));
      p.src.push_back(id);
      p.tgt.push_back(id);
    }
    p.src.push_back(2);
    p.tgt.push_back(2);
    pairs.push_back(std::move(p));
  }
  return pairs;
}

TrainerOptions options(int64_t steps) {
  TrainerOptions o;
  o.max_steps = steps;
  o.log_every = 1;
  o.valid_every = 4;
  o.schedule.peak = 3e-3f;
  o.schedule.warmup = 10;
  o.seed = 7;
  return o;
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

class TrainerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            ("attnscope_trainer_" +
             std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::remove_all(root_);
    fs::create_directories(root_);
  }
  void TearDown() override { fs::remove_all(root_); }
  TrainerState train(const fs::path& dir, int64_t steps, bool resume, int64_t log_every = 1) {
    Transformer model(copy_config());
    model.init_weights(3);
    Batcher batcher(copy_pairs(64, 5), 60, 0, 11);
    TrainerOptions opt = options(steps);
    opt.log_every = log_every;
    Trainer trainer(model, batcher, opt, dir.string());
    if (resume) {
      EXPECT_TRUE(trainer.resume());
    }
    return trainer.run([](const TrainProgress&) {});
  }
  fs::path root_;
};

TEST_F(TrainerTest, ResumedRunEqualsUninterruptedRunExactly) {
  train(root_ / "straight", 12, false);
  train(root_ / "resumed", 8, false);  // stops after the checkpoint at step 8
  const TrainerState s = train(root_ / "resumed", 12, true);
  EXPECT_EQ(s.step, 12);
  const auto a = losses(root_ / "straight"), b = losses(root_ / "resumed");
  ASSERT_EQ(a.size(), 12u);
  ASSERT_EQ(b.size(), 12u);
  for (const auto& [step, loss] : a) EXPECT_EQ(loss, b.at(step)) << "step " << step;
  // The final weights are identical too.
  Transformer x(copy_config()), y(copy_config());
  TrainerState sx, sy;
  AdamOptimizer ax(cpu::AdamConfig{}), ay(cpu::AdamConfig{});
  ASSERT_TRUE(load_checkpoint((root_ / "straight").string(), x, ax, sx));
  ASSERT_TRUE(load_checkpoint((root_ / "resumed").string(), y, ay, sy));
  std::map<std::string, Tensor> wx;
  x.visit_params([&](Param& p) { wx[p.name] = p.value; });
  y.visit_params([&](Param& p) {
    for (int64_t i = 0; i < p.value.numel(); ++i) ASSERT_EQ(p.value[i], wx[p.name][i]) << p.name;
  });
}

// A log window that spans the checkpoint (log every 3 steps, checkpoint every 4) averages the
// same steps after a resume: the open window is part of the checkpoint. And metrics.jsonl keeps
// exactly the rows of the steps the checkpoint covers (rows after it, written by the stopped
// run, go: the resumed run writes them again).
TEST_F(TrainerTest, ResumedLogLinesAndMetricsRowsEqualUninterrupted) {
  const auto rows = [](const fs::path& dir) {
    std::vector<nlohmann::json> out;
    std::ifstream in(dir / "metrics.jsonl");
    for (std::string line; std::getline(in, line);) {
      auto j = nlohmann::json::parse(line);
      j.erase("elapsed_s");
      j.erase("tgt_tokens_per_s");
      out.push_back(j);
    }
    return out;
  };
  train(root_ / "straight", 12, false, 3);
  train(root_ / "resumed", 10, false, 3);  // stops with a checkpoint at step 10, mid-window
  std::ofstream(root_ / "resumed" / "metrics.jsonl", std::ios::app) << "{\"step\": 11, \"lo";
  train(root_ / "resumed", 12, true, 3);
  const auto a = rows(root_ / "straight"), b = rows(root_ / "resumed");
  EXPECT_EQ(a, b);
  EXPECT_EQ(a.size(), 4u);  // log rows at 3, 6, 9, 12 (no validation here: no other rows)
}

TEST_F(TrainerTest, ResumeAfterCrashBetweenRenamesUsesTheWholeOldCheckpoint) {
  train(root_ / "run", 8, false);
  // A crash after "checkpoint → checkpoint.old" and before "tmp → checkpoint".
  fs::rename(root_ / "run" / "checkpoint", root_ / "run" / "checkpoint.old");
  fs::create_directories(root_ / "run" / "checkpoint.tmp");
  std::ofstream(root_ / "run" / "checkpoint.tmp" / "trainer.json") << "{\"step\": 9";  // cut
  const TrainerState s = train(root_ / "run", 12, true);
  EXPECT_EQ(s.step, 12);
  EXPECT_TRUE(fs::exists(root_ / "run" / "checkpoint" / "trainer.json"));
  EXPECT_FALSE(fs::exists(root_ / "run" / "checkpoint.old"));
  EXPECT_FALSE(fs::exists(root_ / "run" / "checkpoint.tmp"));
}

// recover_checkpoint puts every state a crash in save_checkpoint leaves back in order, and never
// removes the only whole checkpoint.
TEST_F(TrainerTest, RecoveryRestoresTheOldCheckpointAndDropsPartialOnes) {
  train(root_ / "run", 4, false);
  const fs::path run = root_ / "run";
  int64_t step = 0;
  ASSERT_TRUE(has_checkpoint(run.string(), &step));
  EXPECT_EQ(step, 4);
  // Killed between the renames: only checkpoint.old (whole) and a partial checkpoint.tmp.
  fs::rename(run / "checkpoint", run / "checkpoint.old");
  fs::create_directories(run / "checkpoint.tmp");
  ASSERT_TRUE(has_checkpoint(run.string(), &step));
  EXPECT_EQ(step, 4);
  recover_checkpoint(run.string());
  EXPECT_TRUE(fs::exists(run / "checkpoint" / "trainer.json"));
  EXPECT_FALSE(fs::exists(run / "checkpoint.old"));
  EXPECT_FALSE(fs::exists(run / "checkpoint.tmp"));
  // Killed while removing checkpoint.old after a finished swap: the leftover goes, the
  // checkpoint stays.
  fs::create_directories(run / "checkpoint.old");
  std::ofstream(run / "checkpoint.old" / "model.safetensors") << "partial";
  recover_checkpoint(run.string());
  EXPECT_FALSE(fs::exists(run / "checkpoint.old"));
  EXPECT_TRUE(fs::exists(run / "checkpoint" / "model.safetensors"));
  recover_checkpoint(run.string());  // idempotent
  EXPECT_TRUE(has_checkpoint(run.string()));
  // Nothing there: nothing to recover, nothing to resume.
  fs::create_directories(root_ / "empty");
  recover_checkpoint((root_ / "empty").string());
  EXPECT_FALSE(has_checkpoint((root_ / "empty").string()));
}

TEST_F(TrainerTest, LearnsTheCopyTask) {
  Transformer model(copy_config());
  model.init_weights(3);
  // Memorising 12 pairs (one batch) is quick; a model that cannot learn would not.
  Batcher batcher(copy_pairs(12, 5), 1000, 0, 11);
  TrainerOptions o = options(150);
  o.log_every = 25;
  o.valid_every = 0;
  Trainer trainer(model, batcher, o, (root_ / "learn").string());
  trainer.run([](const TrainProgress&) {});
  const auto l = losses(root_ / "learn");
  ASSERT_GE(l.size(), 2u);
  EXPECT_GT(l.begin()->second, 2.0);
  EXPECT_LT(l.rbegin()->second, 0.5 * l.begin()->second)
      << "first " << l.begin()->second << " last " << l.rbegin()->second;
}

TEST_F(TrainerTest, NanLossNamesTheStepAndStops) {
  Transformer model(copy_config());
  model.init_weights(3);
  model.visit_params([](Param& p) {
    if (p.name == "decoder.norm.weight") p.value[0] = std::nanf("");
  });
  Batcher batcher(copy_pairs(16, 5), 60, 0, 11);
  Trainer trainer(model, batcher, options(5), (root_ / "nan").string());
  try {
    trainer.run([](const TrainProgress&) {});
    FAIL() << "training went on with a NaN loss";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("step 1"), std::string::npos) << msg;
    EXPECT_NE(msg.find("logits"), std::string::npos) << msg;
  }
}

TEST_F(TrainerTest, NeedsALimit) {
  Transformer model(copy_config());
  Batcher batcher(copy_pairs(4, 5), 60, 0, 11);
  TrainerOptions o;
  EXPECT_THROW(Trainer(model, batcher, o, (root_ / "x").string()), Error);
}

}  // namespace
}  // namespace attnscope
