#include "app/model_presets.h"

#include <filesystem>

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
    return read_config(name);
  } else {
    fail("--config {}: not a preset (tiny, small, base) nor a config.json file", name);
  }
  return c;
}

}  // namespace attnscope::app
