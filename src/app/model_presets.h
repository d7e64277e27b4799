// --arch and --config of `attnscope train` and `attnscope demo`: an architecture
// (io/architectures.h) and its size, named (tiny, small, base: the architecture's presets) or
// given as a config.json.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "nn/arch_config.h"

namespace attnscope::app {

// The architectures that can be trained from scratch (those with presets), for --arch.
std::vector<std::string> trainable_architectures();
// What --arch means when given (an error naming the trainable ones for anything else), else the
// architecture the --config file holds, else the default one (transformer).
std::string resolve_arch(const std::string& arch_option, const std::string& config);
// The config of `arch` that `name_or_path` names: one of its presets, or a config.json of that
// architecture.
std::unique_ptr<ArchConfig> model_preset(const std::string& arch, const std::string& name_or_path);

}  // namespace attnscope::app
