// A model directory, as a user sees it — attnscope's own layout:
//   config.json        the architecture: "arch" (io/architectures.h) and its config's keys
//                      (io/config_json.h)
//   model.safetensors  the weights, named as the model's visit_params names them (a
//                      Transformer: PyTorch's nn.Transformer state_dict plus src_embed.weight,
//                      tgt_embed.weight, generator.weight/bias)
//   shared.spm         one SentencePiece model for both sides, or
//   source.spm + target.spm
// or another program's layout that an architecture of io/architectures.h reads whole (a Hugging
// Face Marian directory, io/marian_dir.h): load_model and load_tokenizers go there for it.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "data/text_tokenizer.h"
#include "data/tokenizer.h"
#include "nn/seq2seq_model.h"

namespace attnscope {

inline constexpr const char* kConfigFile = "config.json";
inline constexpr const char* kWeightsFile = "model.safetensors";
inline constexpr const char* kSharedTokenizer = "shared.spm";
inline constexpr const char* kSourceTokenizer = "source.spm";
inline constexpr const char* kTargetTokenizer = "target.spm";

// The tokenizers of a model directory (src and tgt point to one object when shared), of the
// kind the directory holds (data/text_tokenizer.h).
TokenizerPair load_tokenizers(const std::string& dir);

// Reads DIR/config.json and DIR/model.safetensors into a model of the architecture config.json
// names (or that recognises it: a Hugging Face Marian directory). Throws attnscope::Error naming
// the file and the problem: a missing file, bad JSON, an unknown architecture, an impossible
// config, a missing, unexpected or mis-shaped tensor.
std::unique_ptr<Seq2SeqModel> load_model(const std::string& dir);

// Fills the model's parameters from a safetensors file (every parameter must be there with its
// shape and finite values; a tensor the model does not have is an error too, so a typo cannot
// pass silently, unless the model accepts it: Seq2SeqModel::check_extra_tensor).
void load_weights(Seq2SeqModel& model, const std::string& path);
// The same from tensors already read (and renamed: io/marian_weights.h); `source` names them in
// messages. Takes the tensors it uses out of `tensors`.
void load_params(Seq2SeqModel& model, std::map<std::string, Tensor>& tensors,
                 const std::string& source);

// Throws attnscope::Error naming the file, the tensor and the index of its first value that is
// NaN or infinite: such weights would translate to garbage (or nothing) without a word.
void check_finite(const std::string& file, const std::string& name, const Tensor& t);

// Writes DIR/config.json (from model.config()) and DIR/model.safetensors, each atomically,
// creating DIR if needed.
void save_model(Seq2SeqModel& model, const std::string& dir);

}  // namespace attnscope
