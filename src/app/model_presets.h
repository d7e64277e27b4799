// Named model sizes for --config: tiny (the demo), small (BENCHMARKS.md's W2 model), base
// (Transformer-base of the paper). A path instead of a name reads a config.json.
#pragma once

#include <string>

#include "nn/model_config.h"

namespace attnscope::app {

ModelConfig model_preset(const std::string& name_or_path);

}  // namespace attnscope::app
