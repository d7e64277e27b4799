#include "io/config_json.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "core/error.h"
#include "io/architectures.h"
#include "nn/model_config.h"
#include "nn/rnn_attention_model.h"
#include "nn/seq2seq_model.h"
#include "temp_files.h"

namespace attnscope {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

class ConfigJsonTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           ("attnscope_cfg_" + std::to_string(::getpid()) + "_" + info->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string write_text(const std::string& name, const std::string& text) const {
    const std::string p = (dir_ / name).string();
    std::ofstream(p, std::ios::binary) << text;
    return p;
  }
  static std::string read_text(const std::string& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
  }

  // The message of the Error config_from_json(j, "config.json") throws.
  static std::string error_of(const json& j) {
    try {
      config_from_json(j, "config.json");
    } catch (const Error& e) {
      return e.what();
    }
    return "(no error)";
  }
  static std::string read_error_of(const std::string& path) {
    try {
      read_config(path);
    } catch (const Error& e) {
      return e.what();
    }
    return "(no error)";
  }

  fs::path dir_;
};

// A Transformer's config.json read as one (no dispatch on "arch").
ModelConfig transformer_config(const json& j, const std::string& source) {
  ModelConfig c;
  read_config_fields(j, source, c);
  return c;
}

ModelConfig unusual_config() {
  ModelConfig c;
  c.d_model = 24;
  c.heads = 6;
  c.encoder_layers = 0;
  c.decoder_layers = 3;
  c.d_ff = 40;
  c.src_vocab = 50;
  c.tgt_vocab = 50;
  c.norm = NormPlacement::kPre;
  c.activation = cpu::Activation::kGelu;
  c.pad_id = 3;
  c.bos_id = 4;
  c.eos_id = 5;
  c.unk_id = 6;
  c.max_len = 77;
  c.embed_scale = false;
  c.layer_norm_eps = 1e-6f;
  c.final_norms = false;
  c.share_embeddings = true;
  c.tie_output = true;
  c.generator_bias = false;
  c.dropout = 0.3f;
  c.residual = false;
  c.scale_scores = false;
  return c;
}

void expect_same(const ModelConfig& a, const ModelConfig& b) {
  EXPECT_EQ(a.arch(), b.arch());
  EXPECT_EQ(a.d_model, b.d_model);
  EXPECT_EQ(a.heads, b.heads);
  EXPECT_EQ(a.encoder_layers, b.encoder_layers);
  EXPECT_EQ(a.decoder_layers, b.decoder_layers);
  EXPECT_EQ(a.d_ff, b.d_ff);
  EXPECT_EQ(a.src_vocab, b.src_vocab);
  EXPECT_EQ(a.tgt_vocab, b.tgt_vocab);
  EXPECT_EQ(a.norm, b.norm);
  EXPECT_EQ(a.activation, b.activation);
  EXPECT_EQ(a.pad_id, b.pad_id);
  EXPECT_EQ(a.bos_id, b.bos_id);
  EXPECT_EQ(a.eos_id, b.eos_id);
  EXPECT_EQ(a.unk_id, b.unk_id);
  EXPECT_EQ(a.max_len, b.max_len);
  EXPECT_EQ(a.embed_scale, b.embed_scale);
  EXPECT_EQ(a.layer_norm_eps, b.layer_norm_eps);
  EXPECT_EQ(a.final_norms, b.final_norms);
  EXPECT_EQ(a.share_embeddings, b.share_embeddings);
  EXPECT_EQ(a.tie_output, b.tie_output);
  EXPECT_EQ(a.generator_bias, b.generator_bias);
  EXPECT_EQ(a.dropout, b.dropout);
  EXPECT_EQ(a.residual, b.residual);
  EXPECT_EQ(a.scale_scores, b.scale_scores);
}

TEST_F(ConfigJsonTest, RoundTripThroughAFile) {
  const ModelConfig c = unusual_config();
  const std::string p = (dir_ / "config.json").string();
  write_config(p, c);
  EXPECT_TRUE(test::temp_files_beside(p).empty());
  expect_same(read_config_as<ModelConfig>(p), c);
  EXPECT_EQ(read_config(p)->arch(), "transformer");
  // Floats are written in their shortest form, so config.json stays readable.
  const std::string text = read_text(p);
  EXPECT_NE(text.find("\"layer_norm_eps\": 1e-06"), std::string::npos) << text;
  EXPECT_NE(text.find("\"dropout\": 0.3"), std::string::npos) << text;
  EXPECT_NE(text.find("\"norm\": \"pre\""), std::string::npos) << text;
  EXPECT_NE(text.find("\"activation\": \"gelu\""), std::string::npos) << text;
}

TEST_F(ConfigJsonTest, JsonHasExactlyTheFieldNames) {
  const json j = config_to_json(ModelConfig{});
  for (const char* key :
       {"arch",        "d_model",          "heads",      "encoder_layers", "decoder_layers",
        "d_ff",        "src_vocab",        "tgt_vocab",  "norm",           "activation",
        "pad_id",      "bos_id",           "eos_id",     "unk_id",         "decoder_start_id",
        "max_len",     "embed_scale",      "positions",  "padding_mask",   "layer_norm_eps",
        "final_norms", "share_embeddings", "tie_output", "generator_bias", "dropout",
        "residual",    "scale_scores"})
    EXPECT_TRUE(j.contains(key)) << key;
  EXPECT_EQ(j.size(), 27u);
  EXPECT_EQ(j["norm"], "post");
  EXPECT_EQ(j["activation"], "relu");
  EXPECT_EQ(j["positions"], "sinusoid");
  EXPECT_EQ(j["padding_mask"], "pad_ids");
  EXPECT_EQ(j["decoder_start_id"], -1);
  expect_same(transformer_config(j, "x"), ModelConfig{});
}

TEST_F(ConfigJsonTest, MissingKeysTakeTheDefaults) {
  expect_same(transformer_config(json::object(), "config.json"), ModelConfig{});
  const ModelConfig c =
      transformer_config(json{{"d_model", 64}, {"heads", 4}, {"_comment", "tiny"}}, "config.json");
  ModelConfig want;
  want.d_model = 64;
  want.heads = 4;
  expect_same(c, want);
}

TEST_F(ConfigJsonTest, IntegersAreAcceptedForFloats) {
  const ModelConfig c = transformer_config(json{{"dropout", 0}, {"layer_norm_eps", 1}}, "c");
  EXPECT_EQ(c.dropout, 0.0f);
  EXPECT_EQ(c.layer_norm_eps, 1.0f);
}

TEST_F(ConfigJsonTest, WrongTypesNameTheKeyAndTheFile) {
  EXPECT_EQ(error_of(json{{"heads", "four"}}),
            "config.json: \"heads\" must be an integer, got \"four\"");
  EXPECT_EQ(error_of(json{{"d_model", 512.0}}),
            "config.json: \"d_model\" must be an integer, got 512.0");
  EXPECT_EQ(error_of(json{{"embed_scale", 1}}),
            "config.json: \"embed_scale\" must be true or false, got 1");
  EXPECT_EQ(error_of(json{{"dropout", "0.1"}}),
            "config.json: \"dropout\" must be a number, got \"0.1\"");
  EXPECT_EQ(error_of(json{{"arch", 5}}), "config.json: \"arch\" must be a string, got 5");
  EXPECT_EQ(error_of(json{{"norm", "middle"}}),
            "config.json: \"norm\" must be \"post\" or \"pre\", got \"middle\"");
  EXPECT_EQ(error_of(json{{"norm", true}}), "config.json: \"norm\" must be a string, got true");
  EXPECT_EQ(error_of(json{{"activation", "tanh"}}),
            "config.json: \"activation\" must be \"relu\", \"gelu\", \"gelu_tanh\" or \"silu\", "
            "got \"tanh\"");
  EXPECT_EQ(error_of(json{{"pad_id", int64_t{1} << 40}}),
            "config.json: \"pad_id\" must fit in 32 bits, got 1099511627776");
  EXPECT_EQ(error_of(json{{"d_ff", uint64_t{18446744073709551615ull}}}),
            "config.json: \"d_ff\" is out of range, got 18446744073709551615");
  EXPECT_EQ(error_of(json{{"layer_norm_eps", 1e300}}),
            "config.json: \"layer_norm_eps\" is out of range for fp32, got 1e+300");
  EXPECT_EQ(error_of(json{{"heads", nullptr}}),
            "config.json: \"heads\" must be an integer, got null");
}

TEST_F(ConfigJsonTest, UnknownKeysAreErrors) {
  EXPECT_EQ(error_of(json{{"haeds", 4}}),
            "config.json: unknown key \"haeds\" (did you mean \"heads\"?)");
  EXPECT_EQ(error_of(json{{"d-model", 4}}),
            "config.json: unknown key \"d-model\" (did you mean \"d_model\"?)");
  const std::string msg = error_of(json{{"learning_rate", 0.1}});
  EXPECT_NE(msg.find("config.json: unknown key \"learning_rate\" (known keys: arch, d_model"),
            std::string::npos)
      << msg;
  // "_"-prefixed keys are comments, whatever their value.
  EXPECT_NO_THROW(config_from_json(json{{"_comment", {1, 2}}, {"_", nullptr}}, "config.json"));
}

TEST_F(ConfigJsonTest, ValidationErrorsArePrefixedWithTheSource) {
  const std::string msg = error_of(json{{"d_model", 10}, {"heads", 4}});
  EXPECT_EQ(msg.rfind("config.json: heads (4) must divide d_model (10)", 0), 0u) << msg;
  EXPECT_EQ(error_of(json{{"decoder_layers", 0}}),
            "config.json: \"decoder_layers\" is 0; it must be from 1 to 1024");
  EXPECT_EQ(error_of(json{{"src_vocab", 2}}),
            "config.json: \"eos_id\" is 2, outside the source vocabulary (src_vocab 2)");
  EXPECT_EQ(error_of(json{{"arch", "rnn"}}).rfind("config.json: arch: \"rnn\"", 0), 0u);
}

TEST_F(ConfigJsonTest, NotAnObject) {
  EXPECT_EQ(error_of(json::array({1, 2})),
            "config.json: the config must be a JSON object, got [1,2]");
  const std::string p = write_text("array.json", "[1, 2]\n");
  EXPECT_EQ(read_error_of(p), p + ": the config must be a JSON object, got [1,2]");
}

TEST_F(ConfigJsonTest, NotJsonNamesTheFileAndTheLine) {
  const std::string p = write_text("broken.json", "{\n  \"d_model\": 64,\n  \"heads\": 4,,\n}\n");
  const std::string msg = read_error_of(p);
  EXPECT_EQ(msg.rfind(p + ": not valid JSON: ", 0), 0u) << msg;
  EXPECT_NE(msg.find("line 3"), std::string::npos) << msg;
  EXPECT_EQ(msg.find("[json.exception"), std::string::npos) << msg;

  const std::string empty = write_text("empty.json", "");
  EXPECT_EQ(read_error_of(empty).rfind(empty + ": not valid JSON: ", 0), 0u)
      << read_error_of(empty);
}

TEST_F(ConfigJsonTest, ErrorsFromAFileNameTheFile) {
  const std::string p = write_text("c.json", R"({"heads": "four"})");
  EXPECT_EQ(read_error_of(p), p + ": \"heads\" must be an integer, got \"four\"");
  const std::string q = write_text("dup.json", R"({"heads": 4, "heads": 8})");
  EXPECT_EQ(read_error_of(q), q + ": key \"heads\" appears twice");
  const std::string missing = (dir_ / "absent.json").string();
  const std::string msg = read_error_of(missing);
  EXPECT_EQ(msg.rfind(missing + ": cannot open config", 0), 0u) << msg;
}

TEST_F(ConfigJsonTest, WriteConfigRefusesAnInvalidConfig) {
  ModelConfig c;
  c.heads = 7;
  const std::string p = (dir_ / "bad.json").string();
  try {
    write_config(p, c);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()).rfind(p + ": heads (7) must divide", 0), 0u) << e.what();
  }
  EXPECT_FALSE(fs::exists(p));
  EXPECT_TRUE(test::temp_files_beside(p).empty());
}

TEST_F(ConfigJsonTest, TheArchitectureComesFromArch) {
  // No "arch": the first architecture, a Transformer.
  EXPECT_EQ(config_from_json(json{{"d_model", 8}, {"heads", 2}}, "x")->arch(), "transformer");
  EXPECT_EQ(architectures().front().name, "transformer");
  const auto rnn = config_from_json(json{{"arch", "rnn-attention"}, {"embed_size", 8}}, "x");
  EXPECT_EQ(rnn->arch(), "rnn-attention");
  EXPECT_EQ(config_to_json(*rnn).at("embed_size"), 8);
  // An unknown one names the known ones.
  EXPECT_EQ(error_of(json{{"arch", "lstm"}}),
            "config.json: arch: \"lstm\" is not a known architecture (known: " +
                architecture_names() + ")");
  EXPECT_NE(architecture_names().find("rnn-attention"), std::string::npos);
  // One architecture's keys are unknown to another.
  EXPECT_EQ(error_of(json{{"arch", "rnn-attention"}, {"d_model", 8}})
                .rfind("config.json: unknown key \"d_model\"", 0),
            0u);
  // Read as a given architecture, "arch" must be that one.
  try {
    transformer_config(json{{"arch", "rnn-attention"}}, "t.json");
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "t.json: arch: \"rnn-attention\" is not \"transformer\"");
  }
}

TEST_F(ConfigJsonTest, EveryArchitectureRoundTripsItsDefaultsAndPresets) {
  for (const Architecture& a : architectures()) {
    if (a.load_model != nullptr) {
      // Another program's layout (Hugging Face Marian): its config.json is that program's;
      // attnscope reads it and never writes one of its own for it, nor trains it.
      EXPECT_TRUE(a.preset_names.empty()) << a.name;
      EXPECT_THROW(write_config((dir_ / "foreign.json").string(), *a.make_config()), Error)
          << a.name;
      continue;
    }
    std::vector<std::unique_ptr<ArchConfig>> configs;
    configs.push_back(a.make_config());
    for (const std::string& name : a.preset_names) {
      ASSERT_NE(a.preset, nullptr) << a.name;
      auto c = a.preset(name);
      ASSERT_NE(c, nullptr) << a.name << " " << name;
      configs.push_back(std::move(c));
    }
    if (a.preset != nullptr) {
      EXPECT_EQ(a.preset("huge"), nullptr) << a.name;
    }
    for (const auto& c : configs) {
      EXPECT_EQ(c->arch(), a.name);
      const json j = config_to_json(*c);
      EXPECT_EQ(j.at("arch"), a.name);
      // Every key is written, and only those: the one list serves both directions.
      const std::vector<std::string> keys = config_keys(*c);
      EXPECT_EQ(j.size(), keys.size()) << a.name;
      for (const std::string& k : keys) EXPECT_TRUE(j.contains(k)) << a.name << " " << k;
      const auto back = config_from_json(j, "x");
      EXPECT_EQ(back->arch(), a.name);
      EXPECT_EQ(config_to_json(*back), j) << a.name;
      EXPECT_NO_THROW(c->make_model()) << a.name;
    }
  }
}

TEST_F(ConfigJsonTest, SetConfigFieldSetsOnlyKeysTheArchitectureHas) {
  ModelConfig t;
  EXPECT_TRUE(set_config_field(t, "dropout", 0.25));
  EXPECT_EQ(t.dropout, 0.25f);
  EXPECT_TRUE(set_config_field(t, "norm", "pre"));
  EXPECT_EQ(t.norm, NormPlacement::kPre);
  EXPECT_THROW(set_config_field(t, "norm", "middle"), Error);
  EXPECT_THROW(set_config_field(t, "heads", "four"), Error);
  RnnConfig r;
  const json before = config_to_json(r);
  EXPECT_FALSE(set_config_field(r, "dropout", 0.25));  // the RNN has no dropout
  EXPECT_FALSE(set_config_field(r, "arch", "transformer"));
  EXPECT_EQ(config_to_json(r), before);
  EXPECT_TRUE(set_config_field(r, "embed_size", 12));
  EXPECT_EQ(r.embed_size, 12);
}

}  // namespace
}  // namespace attnscope
