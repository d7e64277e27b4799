// config.json <-> the config of a model of any architecture (nn/arch_config.h).
//
// A config.json is a JSON object. "arch" names the architecture (io/architectures.h; a file
// without it is a Transformer's); every other key is one of that architecture's config fields,
// spelled as its visit_fields names it (for a Transformer: ModelConfig's field names, "norm"
// "post" | "pre", "activation" "relu" | "gelu"). Missing keys keep their defaults; a key of the
// wrong type, a bad value or an unknown key (a typo must not pass silently) is an
// attnscope::Error naming the key and the source. Keys starting with "_" are comments and are
// ignored. The result is validated (ArchConfig::validate), its message prefixed with the source.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "nn/arch_config.h"

namespace attnscope {

// A JSON file as a value: errors name the file and, for bad JSON, the line and column; a
// top-level key that appears twice is an error too (nlohmann would silently keep the last).
nlohmann::json read_json_file(const std::string& path);

// The config of the architecture j names (io/architectures.h), read by that architecture.
std::unique_ptr<ArchConfig> config_from_json(const nlohmann::json& j,
                                             const std::string& source_name);
// The same from a file; parse errors name the file and where nlohmann found the problem
// (line, column).
std::unique_ptr<ArchConfig> read_config(const std::string& path);

// Reads j's keys into `config` by the rules above, then validates it: the fields j leaves out
// keep the values `config` has (its defaults, or a preset's). "arch", when present, must be
// config.arch(). How every architecture of attnscope's own reads its config.json.
void read_config_fields(const nlohmann::json& j, const std::string& source_name,
                        ArchConfig& config);
// A config.json read as one given architecture's config, e.g. read_config_as<ModelConfig>(path)
// where only a Transformer will do (tests, benchmarks): a file of another architecture is an
// error ("arch: … is not …").
template <typename Config>
Config read_config_as(const std::string& path) {
  Config config;
  read_config_fields(read_json_file(path), path, config);
  return config;
}

// The keys a config.json of this config has: "arch", then visit_fields' keys in order.
std::vector<std::string> config_keys(const ArchConfig& config);
// Sets one field as config.json's `key` would (a value of the wrong type is an Error naming the
// key), without validating the whole config. False, changing nothing, when the architecture has
// no such key: for settings that apply only where they exist (e.g. a CLI default of
// tie_output for every architecture that has one).
bool set_config_field(ArchConfig& config, const std::string& key, const nlohmann::json& value);

// {"arch": …, every field}. Floats are written in their shortest form (1e-05, not
// 9.99999974737875e-06), so config.json stays readable and round-trips exactly.
nlohmann::json config_to_json(const ArchConfig& config);
// Validates, then writes atomically (core/atomic_file.h). Refuses an architecture read from
// another program's layout (a Hugging Face Marian config): its config.json is that program's.
void write_config(const std::string& path, const ArchConfig& config);

}  // namespace attnscope
