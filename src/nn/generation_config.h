// How a model's own files say to translate: Hugging Face's generation_config.json (or, for older
// directories, the generation keys of config.json) as GenerationMixin.generate reads it, checked
// and typed. A model that carries one (a Marian model, nn/marian_model.h) is decoded by Hugging
// Face's rules (decode/generation.h): its beams, its length limit counting the decoder start
// token, its banned tokens, the forced final </s>, renormalised log-probabilities. attnscope's
// own models have none and keep attnscope's rules. docs/marian-semantics.md, section 5.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace attnscope {

// GenerationConfig.early_stopping: false (HF's heuristic: stop when the best running beam, at
// its current length, cannot beat the worst finished one), true (stop once num_beams hypotheses
// are finished), "never" (the same test at the longest length, when length_penalty > 0).
enum class EarlyStopping { kFalse, kTrue, kNever };

struct GenerationConfig {
  int64_t num_beams = 1;
  int64_t max_length = 20;      // counts the decoder start token: max_length − 1 new tokens
  int64_t max_new_tokens = 0;   // > 0: wins over max_length (max_length = 1 + max_new_tokens)
  float length_penalty = 1.0f;  // finished score = Σ log p / (generated tokens)^length_penalty
  EarlyStopping early_stopping = EarlyStopping::kFalse;
  int64_t num_return_sequences = 1;
  int32_t eos_token_id = -1;
  int32_t decoder_start_token_id = -1;
  int32_t forced_eos_token_id = -1;    // -1: none; else forced at the step that reaches max_length
  std::vector<int32_t> bad_token_ids;  // bad_words_ids, each of one token (never generated)
  bool renormalize_logits = false;     // log_softmax again after the processors

  // max_length as generate() uses it: 1 + max_new_tokens when that is set.
  int64_t effective_max_length() const {
    return max_new_tokens > 0 ? max_new_tokens + 1 : max_length;
  }
  // One line for logs: "beam 4, max_length 512, forced eos 0, bad [58100], renormalised".
  std::string summary() const;
};

const char* early_stopping_name(EarlyStopping e);

}  // namespace attnscope
