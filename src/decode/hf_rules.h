// Hugging Face generate()'s rules for one decoding (transformers 4.56, docs/marian-semantics.md
// section 5): what beam_search does differently when DecodeOptions::hf is set, for a model whose
// files carry a generation config (a Marian model). decode/generation.h fills it from that
// config and the user's overrides.
//
// Each step, every row's logits are log-softmaxed; then the banned tokens get −∞, at the step
// that reaches max_length every token but forced_eos_id gets −∞ (and it 0), and with renormalize
// the result is log-softmaxed again. Greedy (beam 1) takes the argmax until eos or max_length.
// Beam search keeps HF's num_beams running beams (only the first live at the first step), takes
// the top 2·beams candidates, finishes eos candidates only from the top beams ranks with score
// Σ log p / (generated tokens, eos included)^length_penalty, keeps the best beams finished
// hypotheses and stops as early_stopping says.
#pragma once

#include <cstdint>
#include <vector>

#include "nn/generation_config.h"

namespace attnscope {

struct HfRules {
  int64_t max_length = 20;      // counts the decoder start token: max_length − 1 steps at most
  int32_t forced_eos_id = -1;   // forced at the last step; -1: none
  std::vector<int32_t> banned;  // never generated (bad_words_ids)
  bool renormalize = false;     // log_softmax again after the processors
  EarlyStopping early_stopping = EarlyStopping::kFalse;
};

}  // namespace attnscope
