#include "io/architectures.h"

#include "core/error.h"
#include "io/marian_config_reader.h"
#include "io/marian_dir.h"
#include "nn/marian_config.h"
#include "nn/model_config.h"
#include "nn/rnn_attention_model.h"

namespace attnscope {

namespace {

// The Transformer sizes: tiny (the demo), small (the benchmarks' W2 model), base (the paper's
// Transformer-base).
std::unique_ptr<ArchConfig> transformer_preset(const std::string& name) {
  auto c = std::make_unique<ModelConfig>();
  const auto sizes = [&c](int64_t d_model, int64_t heads, int64_t layers, int64_t d_ff,
                          int64_t max_len) {
    c->d_model = d_model;
    c->heads = heads;
    c->encoder_layers = c->decoder_layers = layers;
    c->d_ff = d_ff;
    c->dropout = 0.1f;
    c->max_len = max_len;
  };
  if (name == "tiny") {
    sizes(64, 4, 2, 256, 128);
  } else if (name == "small") {
    sizes(256, 4, 3, 1024, 256);
  } else if (name == "base") {
    sizes(512, 8, 6, 2048, 256);
  } else {
    return nullptr;
  }
  return c;
}

// The same names for the RNN: embed 64 / hidden 128, 128 / 256, 256 / 512.
std::unique_ptr<ArchConfig> rnn_preset(const std::string& name) {
  auto c = std::make_unique<RnnConfig>();
  const auto sizes = [&c](int64_t embed, int64_t hidden, int64_t max_len) {
    c->embed_size = embed;
    c->encoder_hidden = c->decoder_hidden = c->attention_size = hidden;
    c->max_len = max_len;
  };
  if (name == "tiny") {
    sizes(64, 128, 128);
  } else if (name == "small") {
    sizes(128, 256, 256);
  } else if (name == "base") {
    sizes(256, 512, 256);
  } else {
    return nullptr;
  }
  return c;
}

std::vector<Architecture> make_list() {
  std::vector<Architecture> list;
  {
    Architecture a;
    a.name = "transformer";
    a.description = "encoder–decoder Transformer, as PyTorch's nn.Transformer";
    a.make_config = [] { return std::unique_ptr<ArchConfig>(std::make_unique<ModelConfig>()); };
    a.preset_names = {"tiny", "small", "base"};
    a.preset = transformer_preset;
    list.push_back(std::move(a));
  }
  {
    Architecture a;
    a.name = "rnn-attention";
    a.description = "bidirectional LSTM encoder, LSTM decoder, additive attention; no dropout";
    a.make_config = [] { return std::unique_ptr<ArchConfig>(std::make_unique<RnnConfig>()); };
    a.preset_names = {"tiny", "small", "base"};
    a.preset = rnn_preset;
    list.push_back(std::move(a));
  }
  {
    // Read as downloaded, never trained here (no presets). Recognised by config.json's
    // "model_type" (any: the reader refuses every type but "marian" with a message).
    Architecture a;
    a.name = "marian";
    a.description = "Hugging Face Marian (OPUS-MT) model directory, read as downloaded";
    a.make_config = [] { return std::unique_ptr<ArchConfig>(std::make_unique<MarianConfig>()); };
    a.recognizes = is_hugging_face_config;
    a.read = read_marian_arch_config;
    a.load_model = load_marian_model;
    a.load_tokenizers = load_marian_tokenizers;
    list.push_back(std::move(a));
  }
  return list;
}

}  // namespace

const std::vector<Architecture>& architectures() {
  static const std::vector<Architecture> list = make_list();
  return list;
}

const Architecture* find_architecture(const std::string& name) {
  for (const Architecture& a : architectures())
    if (a.name == name) return &a;
  return nullptr;
}

std::string architecture_names() {
  std::string s;
  for (const Architecture& a : architectures()) s += (s.empty() ? "" : ", ") + a.name;
  return s;
}

const Architecture& architecture_of(const nlohmann::json& j) {
  for (const Architecture& a : architectures())
    if (a.recognizes != nullptr && a.recognizes(j)) return a;
  if (!j.is_object() || !j.contains("arch")) return architectures().front();
  const nlohmann::json& v = j.at("arch");
  ATTN_CHECK(v.is_string(), "\"arch\" must be a string, got {}", v.dump());
  const std::string name = v.get<std::string>();
  const Architecture* a = find_architecture(name);
  ATTN_CHECK(a != nullptr && a->recognizes == nullptr,
             "arch: \"{}\" is not a known architecture (known: {})", name, architecture_names());
  return *a;
}

}  // namespace attnscope
