// A model directory, as a user sees it:
//   config.json        the architecture: "arch" (io/architectures.h) and its config's keys
//                      (io/config_json.h)
//   model.safetensors  the weights, named as the model's visit_params names them (a
//                      Transformer: PyTorch's nn.Transformer state_dict plus src_embed.weight,
//                      tgt_embed.weight, generator.weight/bias)
//   shared.spm         one SentencePiece model for both sides, or
//   source.spm + target.spm
#pragma once

#include <memory>
#include <string>

#include "data/tokenizer.h"
#include "nn/seq2seq_model.h"

namespace attnscope {

inline constexpr const char* kConfigFile = "config.json";
inline constexpr const char* kWeightsFile = "model.safetensors";
inline constexpr const char* kSharedTokenizer = "shared.spm";
inline constexpr const char* kSourceTokenizer = "source.spm";
inline constexpr const char* kTargetTokenizer = "target.spm";

// The tokenizers of a model directory (src and tgt point to one object when shared).
struct TokenizerPair {
  std::shared_ptr<Tokenizer> src, tgt;
};
TokenizerPair load_tokenizers(const std::string& dir);

// Reads DIR/config.json and DIR/model.safetensors into a model of the architecture config.json
// names. Throws attnscope::Error naming the file and the problem: a missing file, bad JSON, an
// unknown architecture, an impossible config, a missing, unexpected or mis-shaped tensor.
std::unique_ptr<Seq2SeqModel> load_model(const std::string& dir);

// Fills the model's parameters from a safetensors file (every parameter must be there with its
// shape and finite values; a tensor the model does not have is an error too, so a typo cannot
// pass silently, unless the model accepts it: Seq2SeqModel::check_extra_tensor).
void load_weights(Seq2SeqModel& model, const std::string& path);

// Throws attnscope::Error naming the file, the tensor and the index of its first value that is
// NaN or infinite: such weights would translate to garbage (or nothing) without a word.
void check_finite(const std::string& file, const std::string& name, const Tensor& t);

// Writes DIR/config.json (from model.config()) and DIR/model.safetensors, each atomically,
// creating DIR if needed.
void save_model(Seq2SeqModel& model, const std::string& dir);

}  // namespace attnscope
