// config.json <-> ModelConfig. The keys are exactly ModelConfig's field names; "norm" is
// "post" | "pre" and "activation" is "relu" | "gelu". Missing keys keep their defaults; a key of
// the wrong type, a bad value or an unknown key (a typo must not pass silently) is an
// attnscope::Error naming the key and the source. Keys starting with "_" are comments and are
// ignored. The result is validated (ModelConfig::validate), its message prefixed with the source.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <variant>

#include "nn/model_config.h"
#include "nn/rnn_attention_model.h"

namespace attnscope {

ModelConfig config_from_json(const nlohmann::json& j, const std::string& source_name);
nlohmann::json config_to_json(const ModelConfig& config);

// arch "rnn-attention": the keys are RnnConfig's field names, with the same rules.
RnnConfig rnn_config_from_json(const nlohmann::json& j, const std::string& source_name);
nlohmann::json rnn_config_to_json(const RnnConfig& config);

// Either architecture, chosen by "arch" ("transformer" when absent).
using AnyModelConfig = std::variant<ModelConfig, RnnConfig>;
AnyModelConfig any_config_from_json(const nlohmann::json& j, const std::string& source_name);
AnyModelConfig read_any_config(const std::string& path);
void write_rnn_config(const std::string& path, const RnnConfig& config);

// Parse errors name the file and where nlohmann found the problem (line, column).
ModelConfig read_config(const std::string& path);
// Validates, then writes atomically (path + ".tmp", fsync, rename).
void write_config(const std::string& path, const ModelConfig& config);

}  // namespace attnscope
