// Named model sizes for --config: tiny (the demo), small (BENCHMARKS.md's W2 model), base
// (Transformer-base of the paper). A path instead of a name reads a config.json.
// rnn_model_preset: the same names for arch "rnn-attention" (tiny: embed 64, hidden 128;
// small: 128/256; base: 256/512).
#pragma once

#include <string>

#include "nn/model_config.h"
#include "nn/rnn_attention_model.h"

namespace attnscope::app {

ModelConfig model_preset(const std::string& name_or_path);
RnnConfig rnn_model_preset(const std::string& name_or_path);
// "transformer" or "rnn-attention": what --arch means when given, else what the --config file
// says, else "transformer". Throws for an unknown --arch.
std::string resolve_arch(const std::string& arch_option, const std::string& config);

}  // namespace attnscope::app
