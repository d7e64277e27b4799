// config.json and generation_config.json of a Hugging Face Marian directory (OPUS-MT) → the
// MarianConfig attnscope computes it with (nn/marian_config.h). Every field read is checked
// (type, range, the cross-field rules: head counts dividing d_model, ids inside the vocabulary,
// distinct special ids, sizes whose product fits), and every value this engine would not compute
// as Hugging Face does is refused with a message naming the file and the field
// (docs/marian-semantics.md, section 6): another model_type, normalize_before,
// normalize_embedding, add_final_layer_norm, add_bias_logits, tie_encoder_decoder, an activation
// outside swish/silu/gelu/gelu_new/gelu_pytorch_tanh/relu, a decoder vocabulary of another size,
// and the decoding settings beyond greedy and beam search. Keys Hugging Face's Marian code never
// reads (dropout, init_std, id2label, …) are ignored, as it ignores them.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "io/json_fields.h"
#include "nn/marian_config.h"

namespace attnscope {

inline constexpr const char* kGenerationConfigFile = "generation_config.json";

// Whether config.json is Hugging Face's (it names a "model_type"): such a file is read by the
// Marian reader, which refuses every model_type but "marian".
bool is_hugging_face_config(const nlohmann::json& j);

struct MarianConfigRead {
  MarianConfig config;  // positions: the computed sinusoid in halves (the weights may say more)
  // config.json's static_position_embeddings: false says the model was trained with learned
  // positions, which only the weights file can hold (else refused when the weights are read).
  bool static_position_embeddings = true;
};

// config.json `config` (read from config_path) and the generation settings: `generation` (from
// generation_config.json, at generation_path) when the directory has one, else config.json's
// own generation keys, as GenerationConfig.from_model_config takes them.
MarianConfigRead read_marian_config(const nlohmann::json& config, const std::string& config_path,
                                    const nlohmann::json* generation,
                                    const std::string& generation_path);
// DIR/config.json and, when present, DIR/generation_config.json.
MarianConfigRead read_marian_config_dir(const std::string& dir);
// Architecture::read for "marian": config.json `j` read from `source`, with the
// generation_config.json beside it when there is one.
std::unique_ptr<ArchConfig> read_marian_arch_config(const nlohmann::json& j,
                                                    const std::string& source);

// The generation settings of `f` (generation_config.json, or config.json's generation keys),
// checked against a vocabulary of vocab_size ids; refuses the settings attnscope does not run.
GenerationConfig read_generation_config(const JsonFields& f, int64_t vocab_size);

}  // namespace attnscope
