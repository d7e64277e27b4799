// Every architecture attnscope can build, in one list: how config.json names it, its default
// config, how its config.json is read, and the named sizes it is trained from. Reading a config,
// creating, loading and saving a model all go through here and through the config and model
// interfaces (nn/arch_config.h, nn/seq2seq_model.h), so nothing else switches on the
// architecture.
//
// Adding an architecture: its config (an ArchConfig) and model (a Seq2SeqModel) in nn/, and one
// entry in architectures.cc. One whose directory is another program's layout (Hugging Face's)
// gives `recognizes` and `read` instead of relying on "arch" and the strict reader, and
// `load_model` / `load_tokenizers` that read such a directory whole.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "data/text_tokenizer.h"
#include "nn/arch_config.h"
#include "nn/seq2seq_model.h"

namespace attnscope {

struct Architecture {
  std::string name;         // config.json's "arch"
  std::string description;  // one line, for --help and error messages
  // A config with this architecture's defaults.
  std::unique_ptr<ArchConfig> (*make_config)() = nullptr;
  // Whether config.json `j` (an object) is this architecture's. Null: j's "arch" equals name.
  bool (*recognizes)(const nlohmann::json& j) = nullptr;
  // config.json → a validated config; errors start with `source`. Null: read_config_fields
  // (io/config_json.h) over make_config().
  std::unique_ptr<ArchConfig> (*read)(const nlohmann::json& j, const std::string& source) = nullptr;
  // Named sizes to train from scratch (`attnscope train --config tiny`), smallest first, and the
  // config of one; empty when the architecture is not trained from scratch here.
  std::vector<std::string> preset_names;
  std::unique_ptr<ArchConfig> (*preset)(const std::string& name) = nullptr;
  // A directory in another program's layout, read whole: the model (config, weights under that
  // program's names) and the tokenizers. Null: attnscope's layout (io/model_dir.h).
  std::unique_ptr<Seq2SeqModel> (*load_model)(const std::string& dir) = nullptr;
  TokenizerPair (*load_tokenizers)(const std::string& dir) = nullptr;
};

// The list; the first entry is what a config.json without "arch" holds ("transformer").
const std::vector<Architecture>& architectures();
// The architecture called `name`, or nullptr.
const Architecture* find_architecture(const std::string& name);
// The names, "transformer, rnn-attention", for messages.
std::string architecture_names();
// The architecture config.json `j` describes. Throws attnscope::Error (without a source: the
// caller adds the file) for a bad or unknown "arch".
const Architecture& architecture_of(const nlohmann::json& j);

}  // namespace attnscope
