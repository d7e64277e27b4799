// Which decoding a model gets: attnscope's rules, or Hugging Face generate()'s when the model's
// files carry a generation config (ModelInfo::generation: a Marian model). The user's settings
// (flags, a server request) override the model's defaults where given; the rest comes from the
// generation config (num_beams, max_length, length_penalty, num_return_sequences, …) or from
// attnscope's defaults (greedy, length limit 2 · source + 10).
#pragma once

#include <cstdint>
#include <optional>

#include "decode/beam_search.h"
#include "nn/seq2seq_model.h"

namespace attnscope {

// What the user asked for; unset: the model's default.
struct DecodeRequest {
  std::optional<int64_t> beam;            // --beam
  std::optional<int64_t> nbest;           // --nbest (HF: num_return_sequences)
  std::optional<float> length_penalty;    // --length-penalty
  std::optional<float> max_len_ratio;     // --max-len-ratio (attnscope's rules only)
  std::optional<int64_t> max_new_tokens;  // --max-new-tokens (Hugging Face's name)
};

// The options for `info`'s model. Throws attnscope::Error naming the setting when a value is
// out of range (beam 1 … 64, nbest 1 … beam, max_new_tokens 1 … the model's positions, a finite
// length penalty, a positive ratio) or does not apply (--max-len-ratio on a Hugging Face model,
// whose limit is max_length or --max-new-tokens).
DecodeOptions decode_options_for(const ModelInfo& info, const DecodeRequest& request);

}  // namespace attnscope
