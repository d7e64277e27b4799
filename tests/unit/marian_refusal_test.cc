// What a Hugging Face Marian directory may not hold (docs/marian-semantics.md, section 6): every
// configuration this engine would not compute as Hugging Face does, every decoding setting it does
// not run, tokenizer settings that change the pieces, hostile vocabularies and weights files.
// Each is refused before any work with a message naming the file and the field or tensor; what is
// harmless (a tied copy that agrees, a key Hugging Face ignores) still loads.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "core/error.h"
#include "data/marian_vocab.h"
#include "io/config_json.h"
#include "io/model_dir.h"
#include "io/safetensors.h"
#include "marian_golden.h"

namespace attnscope {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

class MarianRefusal : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            ("attnscope_marian_refusal_" + std::to_string(::getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    fs::create_directories(root_);
  }
  void TearDown() override { fs::remove_all(root_); }

  // A copy of a fixture's model directory.
  std::string copy(const std::string& variant = "shared_swish") {
    const fs::path dir = root_ / variant;
    fs::remove_all(dir);
    fs::copy(test::marian_model(variant), dir, fs::copy_options::recursive);
    return dir.string();
  }
  static json read(const std::string& path) { return read_json_file(path); }
  static void write(const std::string& path, const json& j) { std::ofstream(path) << j.dump(2); }
  // Sets key of DIR/file to value (null: removes it).
  static void edit(const std::string& dir, const std::string& file, const std::string& key,
                   const json& value) {
    const std::string path = dir + "/" + file;
    json j = fs::exists(path) ? read(path) : json::object();
    if (value.is_null())
      j.erase(key);
    else
      j[key] = value;
    write(path, j);
  }

  // The message of what `f` throws ("" when nothing).
  static std::string error_of(const std::function<void()>& f) {
    try {
      f();
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  }
  static std::string load_error(const std::string& dir) {
    return error_of([&] { load_model(dir); });
  }
  static std::string tokenizer_error(const std::string& dir) {
    return error_of([&] { load_tokenizers(dir); });
  }

  fs::path root_;
};

// The message names the file and the key (and says something).
#define EXPECT_REFUSED(message, file, key)                                       \
  do {                                                                           \
    const std::string m_ = (message);                                            \
    EXPECT_NE(m_.find(file), std::string::npos) << "no file in: " << m_;         \
    EXPECT_NE(m_.find(key), std::string::npos) << "no " << key << " in: " << m_; \
  } while (0)

TEST_F(MarianRefusal, ConfigKeysHuggingFaceDoesNotComputeAsWritten) {
  const std::pair<std::string, json> cases[] = {
      {"normalize_before", true},      {"normalize_embedding", true},
      {"layernorm_embedding", true},   {"add_final_layer_norm", true},
      {"add_bias_logits", true},       {"tie_encoder_decoder", true},
      {"is_encoder_decoder", false},   {"activation_function", "gelu_fast"},
      {"activation_function", "tanh"}, {"pruned_heads", json{{"0", {1}}}},
      {"model_type", "bart"},          {"model_type", "mbart"},
  };
  for (const auto& [key, value] : cases) {
    const std::string dir = copy();
    edit(dir, "config.json", key, value);
    EXPECT_REFUSED(load_error(dir), "config.json", "\"" + key + "\"");
  }
}

TEST_F(MarianRefusal, HarmlessConfigKeysStillLoad) {
  const std::string dir = copy();
  edit(dir, "config.json", "activation_function", "gelu_new");  // supported: tanh GELU
  edit(dir, "config.json", "dropout", 0.3);                     // training only
  edit(dir, "config.json", "some_future_key", "x");             // HF ignores it too
  edit(dir, "config.json", "normalize_before", false);
  EXPECT_EQ(load_error(dir), "");
}

TEST_F(MarianRefusal, SizesAndIdsAreCheckedBeforeAnythingIsAllocated) {
  const std::pair<std::string, json> cases[] = {
      {"d_model", 30},    // 4 heads do not divide it
      {"d_model", "32"},  // a string
      {"d_model", 0},
      {"vocab_size", -1},
      {"vocab_size", int64_t{1} << 40},
      {"encoder_attention_heads", 2},  // ≠ decoder_attention_heads
      {"encoder_ffn_dim", 128},        // ≠ decoder_ffn_dim
      {"encoder_layers", 100000},
      {"max_position_embeddings", 1},
      {"pad_token_id", 0},    // = eos_token_id
      {"pad_token_id", 179},  // outside the vocabulary of 179
      {"eos_token_id", -3},
  };
  for (const auto& [key, value] : cases) {
    const std::string dir = copy();
    edit(dir, "config.json", key, value);
    EXPECT_REFUSED(load_error(dir), "config.json", key);
  }
  // Sizes that each fit but whose product is too large to load.
  const std::string dir = copy();
  edit(dir, "config.json", "d_model", 65536);
  edit(dir, "config.json", "encoder_attention_heads", 1);
  edit(dir, "config.json", "decoder_attention_heads", 1);
  edit(dir, "config.json", "encoder_layers", 1024);
  edit(dir, "config.json", "decoder_layers", 1024);
  EXPECT_REFUSED(load_error(dir), "config.json", "larger than attnscope loads");
}

TEST_F(MarianRefusal, SeparateVocabulariesOfAnotherSizeAndLearnedPositionsWithoutTables) {
  std::string dir = copy("separate_gelu");
  edit(dir, "config.json", "decoder_vocab_size", 120);
  EXPECT_REFUSED(load_error(dir), "config.json", "decoder_vocab_size");
  dir = copy("shared_swish");
  edit(dir, "config.json", "static_position_embeddings", false);
  EXPECT_REFUSED(load_error(dir), "config.json", "static_position_embeddings");
  dir = copy("noscale_relu_f16");  // the tables are in the file: fine
  edit(dir, "config.json", "static_position_embeddings", false);
  EXPECT_EQ(load_error(dir), "");
}

TEST_F(MarianRefusal, DecodingSettingsThatAreNotRun) {
  const std::pair<std::string, json> cases[] = {
      {"do_sample", true},
      {"num_beam_groups", 2},
      {"repetition_penalty", 1.2},
      {"no_repeat_ngram_size", 3},
      {"encoder_no_repeat_ngram_size", 2},
      {"min_length", 5},
      {"min_new_tokens", 2},
      {"forced_bos_token_id", 3},
      {"forced_decoder_ids", json::array({json::array({1, 3})})},
      {"suppress_tokens", json::array({1})},
      {"begin_suppress_tokens", json::array({1})},
      {"sequence_bias", json::object()},
      {"penalty_alpha", 0.6},
      {"constraints", json::array()},
      {"exponential_decay_length_penalty", json::array({5, 1.1})},
      {"remove_invalid_values", true},
      {"bad_words_ids", json::array({json::array({3, 4})})},  // a sequence of two tokens
      {"bad_words_ids", json::array({json::array({500})})},   // outside the vocabulary
      {"num_beams", 0},
      {"num_beams", 65},
      {"max_length", 1},
      {"max_length", 200},  // needs 199 positions; the model has 128
      {"num_return_sequences", 5},
      {"eos_token_id", json::array({0, 1})},
      {"eos_token_id", 1},  // not config.json's eos
      {"early_stopping", "sometimes"},
      {"length_penalty", "long"},
  };
  for (const auto& [key, value] : cases) {
    const std::string dir = copy();
    edit(dir, "generation_config.json", key, value);
    const std::string m = load_error(dir);
    EXPECT_NE(m.find("generation_config.json"), std::string::npos) << key << ": " << m;
    EXPECT_NE(m.find(key), std::string::npos) << key << ": " << m;
  }
}

TEST_F(MarianRefusal, WithoutGenerationConfigTheLegacyKeysOfConfigJsonApply) {
  const std::string dir = copy();
  fs::remove(dir + "/generation_config.json");
  auto model = load_model(dir);
  const ModelInfo i = model->info();
  ASSERT_TRUE(i.generation.has_value());
  EXPECT_EQ(i.generation->num_beams, 4);  // config.json's num_beams
  EXPECT_EQ(i.generation->max_length, 12);
  EXPECT_EQ(i.generation->bad_token_ids, std::vector<int32_t>{178});
  EXPECT_FALSE(i.generation->renormalize_logits);  // config.json does not say it
  edit(dir, "config.json", "do_sample", true);
  EXPECT_REFUSED(load_error(dir), "config.json", "do_sample");
}

TEST_F(MarianRefusal, TokenizerSettingsThatChangeThePieces) {
  std::string dir = copy();
  edit(dir, "tokenizer_config.json", "sp_model_kwargs", json{{"enable_sampling", true}});
  EXPECT_REFUSED(tokenizer_error(dir), "tokenizer_config.json", "sp_model_kwargs");
  dir = copy();
  edit(dir, "tokenizer_config.json", "split_special_tokens", true);
  EXPECT_REFUSED(tokenizer_error(dir), "tokenizer_config.json", "split_special_tokens");
  dir = copy();
  edit(dir, "tokenizer_config.json", "tokenizer_class", "BartTokenizer");
  EXPECT_REFUSED(tokenizer_error(dir), "tokenizer_config.json", "tokenizer_class");
  dir = copy();
  json added = read(dir + "/tokenizer_config.json")["added_tokens_decoder"];
  added["3"] = {{"content", ">>por<<"}, {"special", true}};
  edit(dir, "tokenizer_config.json", "added_tokens_decoder", added);
  EXPECT_REFUSED(tokenizer_error(dir), "tokenizer_config.json", ">>por<<");
  dir = copy();
  edit(dir, "special_tokens_map.json", "eos_token", "<eos>");
  edit(dir, "tokenizer_config.json", "eos_token", "</s>");
  EXPECT_REFUSED(tokenizer_error(dir), "special_tokens_map.json", "eos_token");
  dir = copy("separate_gelu");
  fs::remove(dir + "/target_vocab.json");
  EXPECT_REFUSED(tokenizer_error(dir), "target_vocab.json", "separate_vocabs");
  dir = copy();  // the defaults of MarianTokenizer when the optional files are absent
  fs::remove(dir + "/tokenizer_config.json");
  fs::remove(dir + "/special_tokens_map.json");
  EXPECT_EQ(tokenizer_error(dir), "");
}

TEST_F(MarianRefusal, VocabularyProblems) {
  const auto with_vocab = [&](const std::function<void(json&)>& change) {
    const std::string dir = copy();
    json v = read(dir + "/vocab.json");
    change(v);
    write(dir + "/vocab.json", v);
    return tokenizer_error(dir);
  };
  EXPECT_REFUSED(with_vocab([](json& v) {
                   v["<junk>"] = v["<unk>"];
                   v.erase("<unk>");
                 }),
                 "vocab.json", "<unk>");
  EXPECT_REFUSED(with_vocab([](json& v) { v["extra"] = 179; }), "vocab.json", "vocab_size");
  EXPECT_REFUSED(with_vocab([](json& v) { v["▁de"] = 5; }), "vocab.json", "id 5");
  EXPECT_REFUSED(with_vocab([](json& v) {
                   v["</s>"] = 2;
                   v[">>eng<<"] = 0;
                 }),
                 "vocab.json", "eos_token_id");
  // pad moved to another id: config.json's pad_token_id no longer names <pad>.
  EXPECT_REFUSED(with_vocab([](json& v) {
                   const int32_t a = v["<pad>"], b = v["a"];
                   v["<pad>"] = b;
                   v["a"] = a;
                 }),
                 "vocab.json", "pad_token_id");
}

TEST(MarianVocabFile, HostileFilesAreErrorsNamingTheFile) {
  const auto error = [](const std::string& text) {
    try {
      parse_marian_vocab(text, "v.json");
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  const std::string ok = R"({"</s>": 0, "<unk>": 1, "<pad>": 2})";
  EXPECT_EQ(parse_marian_vocab(ok, "v.json").size(), 3);
  EXPECT_EQ(parse_marian_vocab(R"({"</s>": 0, "\ud83d\ude42": 1, "<pad>": 2})", "v").pieces[1],
            "\xF0\x9F\x99\x82");  // a surrogate pair, as save_json writes one
  const std::pair<std::string, std::string> cases[] = {
      {R"({"</s>": 0, "<unk>": 1, "<pad>": 2)", "not valid JSON"},
      {R"(["</s>", "<unk>"])", "must be a JSON object"},
      {R"({"</s>": 0, "<unk>": 1, "</s>": 2})", "appears twice"},
      {R"({"</s>": 0, "<unk>": 0, "<pad>": 2})", "id 0 is given to"},
      {R"({"</s>": 0, "<unk>": 1, "<pad>": 7})", "ids must be 0 … 2"},
      {R"({"</s>": 0, "<unk>": -1, "<pad>": 2})", "negative"},
      {R"({"</s>": 0, "<unk>": "1", "<pad>": 2})", "must be an integer"},
      {R"({"</s>": 0, "<unk>": 1.5, "<pad>": 2})", "must be an integer"},
      {R"({"</s>": 0, "<unk>": {"a": 1}, "<pad>": 2})", "not an object or a list"},
      {R"({"</s>": 0, "<unk>": [[[[[[1]]]]]], "<pad>": 2})", "not an object or a list"},
      {R"({"</s>": 0, "": 1, "<pad>": 2})", "empty piece"},
      {R"({"</s>": 0})", "at least"},
      {"{\"\xFF\": 0, \"<unk>\": 1, \"<pad>\": 2}", "not valid JSON"},  // invalid UTF-8
      {R"({"a": 0, "\udc00": 1, "<pad>": 2})", "not valid JSON"},       // a lone surrogate
  };
  for (const auto& [text, want] : cases) {
    const std::string m = error(text);
    EXPECT_NE(m.find("v.json"), std::string::npos) << text << ": " << m;
    EXPECT_NE(m.find(want), std::string::npos) << text << ": " << m;
  }
}

TEST_F(MarianRefusal, VocabularyFileTooLargeIsRefusedBeforeReading) {
  const std::string path = (root_ / "vocab.json").string();
  std::ofstream(path) << "{";
  fs::resize_file(path, kMaxVocabFileBytes + 1);  // sparse: nothing is written
  try {
    read_marian_vocab(path);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("more than a vocabulary file may hold"), std::string::npos)
        << e.what();
  }
}

// ---- the weights file ---------------------------------------------------------------------

// Rewrites DIR/model.safetensors after `change` (as F32).
void edit_weights(const std::string& dir, const std::function<void(SafetensorsFile&)>& change) {
  const std::string path = dir + "/model.safetensors";
  SafetensorsFile f = read_safetensors(path);
  change(f);
  std::vector<std::pair<std::string, const Tensor*>> list;
  for (const auto& [name, t] : f.tensors) list.emplace_back(name, &t);
  write_safetensors(path, list);
}

TEST_F(MarianRefusal, WeightsMissingMisshapenNonFiniteOrUnknown) {
  const std::string q = "model.encoder.layers.1.self_attn.q_proj.weight";
  std::string dir = copy();
  edit_weights(dir, [&](SafetensorsFile& f) { f.tensors.erase(q); });
  EXPECT_REFUSED(load_error(dir), "model.safetensors", q);
  dir = copy();
  edit_weights(dir, [&](SafetensorsFile& f) { f.tensors[q] = Tensor({32, 16}); });
  EXPECT_REFUSED(load_error(dir), "model.safetensors", "has shape [32, 16]");
  dir = copy();
  edit_weights(dir, [&](SafetensorsFile& f) { f.tensors[q][7] = std::nanf(""); });
  EXPECT_REFUSED(load_error(dir), "model.safetensors", "non-finite");
  dir = copy();
  edit_weights(dir, [&](SafetensorsFile& f) {
    f.tensors["model.encoder.layers.9.fc1.bias"] = Tensor({64});
  });
  EXPECT_REFUSED(load_error(dir), "model.safetensors", "unexpected tensor");
  dir = copy();
  edit_weights(dir, [&](SafetensorsFile& f) { f.tensors.erase("final_logits_bias"); });
  EXPECT_EQ(load_error(dir), "");  // zeros, as Hugging Face's buffer
}

TEST_F(MarianRefusal, TiedCopiesInTheFileMustAgree) {
  std::string dir = copy();
  edit_weights(dir, [](SafetensorsFile& f) {
    const Tensor shared = f.tensors.at("model.shared.weight");
    f.tensors["model.encoder.embed_tokens.weight"] = shared.clone();
    f.tensors["lm_head.weight"] = shared.clone();
  });
  EXPECT_EQ(load_error(dir), "");  // copies a conversion tool left in: accepted
  dir = copy();
  edit_weights(dir, [](SafetensorsFile& f) {
    Tensor other = f.tensors.at("model.shared.weight").clone();
    other[3] += 1.0f;
    f.tensors["model.decoder.embed_tokens.weight"] = other;
  });
  EXPECT_REFUSED(load_error(dir), "model.safetensors", "model.decoder.embed_tokens.weight");
  dir = copy();  // only an alias of the shared table: still found
  edit_weights(dir, [](SafetensorsFile& f) {
    f.tensors["model.encoder.embed_tokens.weight"] = f.tensors.at("model.shared.weight");
    f.tensors.erase("model.shared.weight");
  });
  EXPECT_EQ(load_error(dir), "");
  dir = copy("separate_gelu");  // untied: lm_head is needed
  edit_weights(dir, [](SafetensorsFile& f) { f.tensors.erase("lm_head.weight"); });
  EXPECT_REFUSED(load_error(dir), "model.safetensors", "lm_head.weight");
}

// A safetensors file with one I64 tensor among the weights.
TEST_F(MarianRefusal, WeightsOfAnotherDtype) {
  const std::string dir = copy();
  SafetensorsFile f = read_safetensors(dir + "/model.safetensors");
  const std::string bad = "final_logits_bias";
  const int64_t V = f.tensors.at(bad).numel();
  json header;
  std::string data;
  for (const auto& [name, t] : f.tensors) {
    const size_t begin = data.size();
    if (name == bad) {
      for (int64_t i = 0; i < V; ++i) {
        const int64_t v = 0;
        data.append(reinterpret_cast<const char*>(&v), 8);
      }
      header[name] = {
          {"dtype", "I64"}, {"shape", t.shape()}, {"data_offsets", {begin, data.size()}}};
      continue;
    }
    data.append(reinterpret_cast<const char*>(t.data()), static_cast<size_t>(t.numel()) * 4);
    header[name] = {{"dtype", "F32"}, {"shape", t.shape()}, {"data_offsets", {begin, data.size()}}};
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  const uint64_t n = text.size();
  std::ofstream out(dir + "/model.safetensors", std::ios::binary);
  out.write(reinterpret_cast<const char*>(&n), 8);
  out << text << data;
  out.close();
  EXPECT_REFUSED(load_error(dir), "model.safetensors", "is I64");
}

TEST_F(MarianRefusal, WeightsInAnotherFormatOrSplit) {
  std::string dir = copy();
  fs::rename(dir + "/model.safetensors", dir + "/pytorch_model.bin");
  EXPECT_REFUSED(load_error(dir), "model.safetensors", "pytorch_model.bin");
  EXPECT_NE(load_error(dir).find("docs/pretrained.md"), std::string::npos);
  dir = copy();
  fs::remove(dir + "/model.safetensors");
  std::ofstream(dir + "/model.safetensors.index.json") << "{}";
  EXPECT_REFUSED(load_error(dir), dir, "several files");
}

TEST_F(MarianRefusal, NotTrainedHere) {
  // train --resume reads the config through the architecture list: a Marian config is refused
  // there (no presets), and its config is never written as attnscope's.
  const std::string dir = copy();
  auto config = read_config(dir + "/config.json");
  EXPECT_EQ(config->arch(), "marian");
  EXPECT_THROW(config->set_vocabularies(10, 10), Error);
  EXPECT_THROW(write_config(dir + "/other.json", *config), Error);
}

}  // namespace
}  // namespace attnscope
