#include "decode/generation.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace attnscope {

DecodeOptions decode_options_for(const ModelInfo& info, const DecodeRequest& r) {
  DecodeOptions o;
  const GenerationConfig* g = info.generation ? &*info.generation : nullptr;
  if (r.beam)
    ATTN_CHECK(*r.beam >= 1 && *r.beam <= 64, "beam size must be between 1 and 64, not {}",
               *r.beam);
  o.beam = r.beam.value_or(g != nullptr ? g->num_beams : 1);
  if (r.nbest)
    ATTN_CHECK(*r.nbest >= 1 && *r.nbest <= o.beam,
               "nbest must be between 1 and the beam size ({}), not {}", o.beam, *r.nbest);
  o.nbest = r.nbest.value_or(g != nullptr ? std::min(g->num_return_sequences, o.beam) : 1);
  if (r.length_penalty)
    ATTN_CHECK(std::isfinite(*r.length_penalty), "the length penalty must be a finite number");
  o.length_penalty = r.length_penalty.value_or(g != nullptr ? g->length_penalty : 1.0f);
  if (r.max_new_tokens)
    ATTN_CHECK(*r.max_new_tokens >= 1 && *r.max_new_tokens <= info.max_len,
               "max_new_tokens must be between 1 and the model's {} decoder positions, not {}",
               info.max_len, *r.max_new_tokens);
  if (g == nullptr) {
    if (r.max_len_ratio)
      ATTN_CHECK(std::isfinite(*r.max_len_ratio) && *r.max_len_ratio > 0,
                 "the length ratio must be a positive number, not {}", *r.max_len_ratio);
    o.max_len_ratio = r.max_len_ratio.value_or(o.max_len_ratio);
    o.max_new_tokens = r.max_new_tokens.value_or(0);
    return o;
  }
  ATTN_CHECK(!r.max_len_ratio,
             "a Hugging Face model's output length is max_length of its generation config ({}); "
             "cap it with --max-new-tokens instead of --max-len-ratio",
             g->effective_max_length());
  HfRules& h = o.hf.emplace();
  h.max_length = r.max_new_tokens ? *r.max_new_tokens + 1 : g->effective_max_length();
  ATTN_CHECK(h.max_length - 1 <= info.max_len,
             "max_length {} needs {} decoder positions; the model has {} (give --max-new-tokens)",
             h.max_length, h.max_length - 1, info.max_len);
  h.forced_eos_id = g->forced_eos_token_id;
  h.banned = g->bad_token_ids;
  h.renormalize = g->renormalize_logits;
  h.early_stopping = g->early_stopping;
  return o;
}

}  // namespace attnscope
