#include "app/model_presets.h"

#include <filesystem>
#include <variant>

#include "core/error.h"
#include "io/config_json.h"

namespace attnscope::app {

ModelConfig model_preset(const std::string& name) {
  ModelConfig c;
  if (name == "tiny") {
    c.d_model = 64;
    c.heads = 4;
    c.encoder_layers = 2;
    c.decoder_layers = 2;
    c.d_ff = 256;
    c.dropout = 0.1f;
    c.max_len = 128;
  } else if (name == "small") {
    c.d_model = 256;
    c.heads = 4;
    c.encoder_layers = 3;
    c.decoder_layers = 3;
    c.d_ff = 1024;
    c.dropout = 0.1f;
    c.max_len = 256;
  } else if (name == "base") {
    c.d_model = 512;
    c.heads = 8;
    c.encoder_layers = 6;
    c.decoder_layers = 6;
    c.d_ff = 2048;
    c.dropout = 0.1f;
    c.max_len = 256;
  } else if (std::filesystem::exists(name)) {
    AnyModelConfig any = read_any_config(name);
    ATTN_CHECK(std::holds_alternative<ModelConfig>(any),
               "--config {}: an rnn-attention config; add --arch rnn-attention", name);
    return std::get<ModelConfig>(any);
  } else {
    fail("--config {}: not a preset (tiny, small, base) nor a config.json file", name);
  }
  return c;
}

RnnConfig rnn_model_preset(const std::string& name) {
  RnnConfig c;
  const auto sizes = [&c](int64_t embed, int64_t hidden, int64_t max_len) {
    c.embed_size = embed;
    c.encoder_hidden = c.decoder_hidden = c.attention_size = hidden;
    c.max_len = max_len;
  };
  if (name == "tiny") {
    sizes(64, 128, 128);
  } else if (name == "small") {
    sizes(128, 256, 256);
  } else if (name == "base") {
    sizes(256, 512, 256);
  } else if (std::filesystem::exists(name)) {
    AnyModelConfig any = read_any_config(name);
    ATTN_CHECK(std::holds_alternative<RnnConfig>(any),
               "--config {}: a Transformer config, but --arch is rnn-attention", name);
    return std::get<RnnConfig>(any);
  } else {
    fail("--config {}: not a preset (tiny, small, base) nor a config.json file", name);
  }
  return c;
}

std::string resolve_arch(const std::string& arch, const std::string& config) {
  if (!arch.empty()) {
    ATTN_CHECK(arch == "transformer" || arch == "rnn-attention",
               "--arch {}: not an architecture (transformer, rnn-attention)", arch);
    return arch;
  }
  if (config != "tiny" && config != "small" && config != "base" &&
      std::filesystem::exists(config) && std::holds_alternative<RnnConfig>(read_any_config(config)))
    return "rnn-attention";
  return "transformer";
}

}  // namespace attnscope::app
