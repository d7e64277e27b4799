#include "nn/generation_config.h"

#include <fmt/format.h>

namespace attnscope {

const char* early_stopping_name(EarlyStopping e) {
  switch (e) {
    case EarlyStopping::kFalse:
      return "false";
    case EarlyStopping::kTrue:
      return "true";
    case EarlyStopping::kNever:
      return "never";
  }
  return "?";
}

std::string GenerationConfig::summary() const {
  std::string bad;
  for (int32_t id : bad_token_ids) bad += (bad.empty() ? "" : ", ") + std::to_string(id);
  return fmt::format(
      "beam {}, max_length {}{}, length_penalty {}, early_stopping {}, {} returned, eos {}, "
      "decoder start {}{}{}{}",
      num_beams, max_length,
      max_new_tokens > 0 ? fmt::format(" (max_new_tokens {})", max_new_tokens) : "", length_penalty,
      early_stopping_name(early_stopping), num_return_sequences, eos_token_id,
      decoder_start_token_id,
      forced_eos_token_id >= 0 ? fmt::format(", forced eos {}", forced_eos_token_id) : "",
      bad.empty() ? "" : ", never " + bad, renormalize_logits ? ", renormalised" : "");
}

}  // namespace attnscope
