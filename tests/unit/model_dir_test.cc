// The model directory: save → load round trip, and bad files end in a message naming the file
// and the problem (missing, unexpected and mis-shaped tensors; impossible configs).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>

#include "core/error.h"
#include "io/config_json.h"
#include "io/model_dir.h"
#include "io/safetensors.h"
#include "nn/transformer.h"

namespace attnscope {
namespace {

namespace fs = std::filesystem;

ModelConfig small_config() {
  ModelConfig c;
  c.d_model = 8;
  c.heads = 2;
  c.encoder_layers = 1;
  c.decoder_layers = 2;
  c.d_ff = 16;
  c.src_vocab = 12;
  c.tgt_vocab = 10;
  c.max_len = 32;
  return c;
}

class ModelDir : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("attnscope_model_dir_" +
            std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string expect_load_error() {
    try {
      load_model(dir_.string());
    } catch (const Error& e) {
      return e.what();
    }
    ADD_FAILURE() << "load_model accepted a bad model directory";
    return "";
  }
  fs::path dir_;
};

TEST_F(ModelDir, RoundTripKeepsEveryWeightAndTheOutput) {
  Transformer model(small_config());
  model.init_weights(42);
  save_model(model, dir_.string());
  ASSERT_TRUE(fs::exists(dir_ / "config.json"));
  ASSERT_TRUE(fs::exists(dir_ / "model.safetensors"));
  auto loaded = load_model(dir_.string());
  std::map<std::string, Tensor> original;
  model.visit_params([&](Param& p) { original[p.name] = p.value; });
  int n = 0;
  loaded->visit_params([&](Param& p) {
    const Tensor& o = original.at(p.name);
    ASSERT_EQ(o.shape(), p.value.shape()) << p.name;
    for (int64_t i = 0; i < o.numel(); ++i) ASSERT_EQ(o[i], p.value[i]) << p.name;
    ++n;
  });
  EXPECT_EQ(n, static_cast<int>(original.size()));
  TokenBatch src{1, 3, {4, 5, 2}}, tgt{1, 2, {1, 6}};
  const Tensor a = model.forward(src, tgt, {}).clone();
  const Tensor& b = loaded->forward(src, tgt, {});
  for (int64_t i = 0; i < a.numel(); ++i) EXPECT_EQ(a[i], b[i]);
}

TEST_F(ModelDir, TiedOutputIsSavedOnce) {
  ModelConfig c = small_config();
  c.tie_output = true;
  Transformer model(c);
  save_model(model, dir_.string());
  const auto file = read_safetensors((dir_ / "model.safetensors").string());
  EXPECT_EQ(file.tensors.count("generator.weight"), 0u);
  EXPECT_EQ(file.tensors.count("tgt_embed.weight"), 1u);
  EXPECT_NO_THROW(load_model(dir_.string()));
}

TEST_F(ModelDir, MissingDirectoryOrFiles) {
  std::string msg = expect_load_error();
  EXPECT_NE(msg.find("does not exist"), std::string::npos) << msg;
  fs::create_directories(dir_);
  msg = expect_load_error();
  EXPECT_NE(msg.find("config.json"), std::string::npos) << msg;
  write_config((dir_ / "config.json").string(), small_config());
  msg = expect_load_error();
  EXPECT_NE(msg.find("model.safetensors"), std::string::npos) << msg;
}

TEST_F(ModelDir, MissingTensorIsNamed) {
  Transformer model(small_config());
  save_model(model, dir_.string());
  auto file = read_safetensors((dir_ / "model.safetensors").string());
  std::vector<std::pair<std::string, const Tensor*>> kept;
  for (auto& [name, t] : file.tensors)
    if (name != "decoder.layers.1.multihead_attn.in_proj_weight") kept.emplace_back(name, &t);
  write_safetensors((dir_ / "model.safetensors").string(), kept);
  const std::string msg = expect_load_error();
  EXPECT_NE(msg.find("decoder.layers.1.multihead_attn.in_proj_weight"), std::string::npos) << msg;
  EXPECT_NE(msg.find("missing"), std::string::npos) << msg;
}

TEST_F(ModelDir, MisShapedTensorIsNamedWithBothShapes) {
  Transformer model(small_config());
  save_model(model, dir_.string());
  auto file = read_safetensors((dir_ / "model.safetensors").string());
  file.tensors["encoder.layers.0.linear1.weight"] = Tensor({15, 8});
  std::vector<std::pair<std::string, const Tensor*>> all;
  for (auto& [name, t] : file.tensors) all.emplace_back(name, &t);
  write_safetensors((dir_ / "model.safetensors").string(), all);
  const std::string msg = expect_load_error();
  EXPECT_NE(msg.find("encoder.layers.0.linear1.weight"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[15, 8]"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[16, 8]"), std::string::npos) << msg;
}

TEST_F(ModelDir, UnexpectedTensorIsNamed) {
  Transformer model(small_config());
  save_model(model, dir_.string());
  auto file = read_safetensors((dir_ / "model.safetensors").string());
  Tensor extra({3});
  std::vector<std::pair<std::string, const Tensor*>> all;
  for (auto& [name, t] : file.tensors) all.emplace_back(name, &t);
  all.emplace_back("encoder.layers.7.typo", &extra);
  write_safetensors((dir_ / "model.safetensors").string(), all);
  const std::string msg = expect_load_error();
  EXPECT_NE(msg.find("unexpected tensor \"encoder.layers.7.typo\""), std::string::npos) << msg;
}

TEST_F(ModelDir, ATiedCopyInTheFileSaysWhyItIsUnexpected) {
  ModelConfig c = small_config();
  c.tie_output = true;
  Transformer model(c);
  save_model(model, dir_.string());
  auto file = read_safetensors((dir_ / "model.safetensors").string());
  std::vector<std::pair<std::string, const Tensor*>> all;
  for (auto& [name, t] : file.tensors) all.emplace_back(name, &t);
  all.emplace_back("generator.weight", &file.tensors.at("tgt_embed.weight"));
  write_safetensors((dir_ / "model.safetensors").string(), all);
  const std::string msg = expect_load_error();
  EXPECT_NE(msg.find("unexpected tensor \"generator.weight\""), std::string::npos) << msg;
  EXPECT_NE(msg.find("tie_output: true"), std::string::npos) << msg;
}

TEST_F(ModelDir, AnUnknownArchitectureNamesTheKnownOnes) {
  Transformer model(small_config());
  save_model(model, dir_.string());
  std::ofstream(dir_ / "config.json") << R"({"arch": "marian"})";
  const std::string msg = expect_load_error();
  EXPECT_NE(msg.find("arch: \"marian\" is not a known architecture (known: transformer"),
            std::string::npos)
      << msg;
}

TEST_F(ModelDir, ImpossibleConfigIsAnError) {
  Transformer model(small_config());
  save_model(model, dir_.string());
  std::ofstream(dir_ / "config.json") << R"({"d_model": 10, "heads": 3})";
  const std::string msg = expect_load_error();
  EXPECT_NE(msg.find("config.json"), std::string::npos) << msg;
  EXPECT_NE(msg.find("heads"), std::string::npos) << msg;
}

TEST_F(ModelDir, TruncatedWeightsFile) {
  Transformer model(small_config());
  save_model(model, dir_.string());
  const auto path = dir_ / "model.safetensors";
  fs::resize_file(path, fs::file_size(path) / 2);
  const std::string msg = expect_load_error();
  EXPECT_NE(msg.find("model.safetensors"), std::string::npos) << msg;
}

TEST_F(ModelDir, NonFiniteWeightsAreReportedWithTheTensorAndIndex) {
  Transformer model(small_config());
  model.init_weights(3);
  save_model(model, dir_.string());
  const std::string weights = (dir_ / "model.safetensors").string();
  for (const float bad : {std::nanf(""), std::numeric_limits<float>::infinity(),
                          -std::numeric_limits<float>::infinity()}) {
    SafetensorsFile f = read_safetensors(weights);
    Tensor& t = f.tensors.at("decoder.layers.1.linear2.weight");
    t[5] = bad;
    t[9] = bad;
    std::vector<std::pair<std::string, const Tensor*>> list;
    for (const auto& [name, tensor] : f.tensors) list.emplace_back(name, &tensor);
    write_safetensors(weights, list);
    const std::string msg = expect_load_error();
    EXPECT_NE(msg.find(weights + ": tensor \"decoder.layers.1.linear2.weight\" holds " +
                       fmt::format("{}", bad) + " at index 5 (2 of its 128 values are not finite)"),
              std::string::npos)
        << msg;
  }
}

}  // namespace
}  // namespace attnscope
