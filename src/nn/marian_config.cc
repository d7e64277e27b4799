#include "nn/marian_config.h"

#include <fmt/format.h>

#include "core/error.h"
#include "nn/marian_model.h"

namespace attnscope {

std::unique_ptr<ArchConfig> MarianConfig::clone() const {
  return std::make_unique<MarianConfig>(*this);
}

void MarianConfig::check_rules() const {
  ModelConfig::check_rules();
  const GenerationConfig& g = generation;
  const auto in_vocab = [&](int32_t id) { return id >= 0 && id < tgt_vocab; };
  ATTN_CHECK(in_vocab(g.eos_token_id) && g.eos_token_id == eos_id,
             "generation eos_token_id {} is not the model's eos id {}", g.eos_token_id, eos_id);
  ATTN_CHECK(in_vocab(g.decoder_start_token_id) && g.decoder_start_token_id == decoder_start(),
             "generation decoder_start_token_id {} is not the model's decoder start {}",
             g.decoder_start_token_id, decoder_start());
  ATTN_CHECK(g.forced_eos_token_id == -1 || in_vocab(g.forced_eos_token_id),
             "forced_eos_token_id {} is outside the vocabulary of {}", g.forced_eos_token_id,
             tgt_vocab);
  for (int32_t id : g.bad_token_ids)
    ATTN_CHECK(in_vocab(id), "bad_words_ids: {} is outside the vocabulary of {}", id, tgt_vocab);
  ATTN_CHECK(g.num_beams >= 1, "num_beams must be at least 1, got {}", g.num_beams);
  ATTN_CHECK(g.num_return_sequences >= 1 && g.num_return_sequences <= g.num_beams,
             "num_return_sequences {} must be between 1 and num_beams {}", g.num_return_sequences,
             g.num_beams);
  ATTN_CHECK(g.effective_max_length() >= 2, "max_length {} leaves no token to generate",
             g.effective_max_length());
}

std::unique_ptr<Seq2SeqModel> MarianConfig::build_model() const {
  return std::make_unique<MarianModel>(*this);
}

std::string MarianConfig::summary() const {
  return fmt::format("Hugging Face Marian: {}; generation: {}", ModelConfig::summary(),
                     generation.summary());
}

void MarianConfig::set_vocabularies(int64_t, int64_t) {
  fail(
      "a Hugging Face Marian model keeps the vocabularies of its files (vocab.json): attnscope "
      "does not train or fine-tune it");
}

}  // namespace attnscope
