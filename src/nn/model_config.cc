#include "nn/model_config.h"

#include <algorithm>

#include "core/error.h"

namespace attnscope {

void ModelConfig::validate() const {
  ATTN_CHECK(arch == "transformer",
             "arch: \"{}\" is not a known architecture (known: transformer, rnn-attention)", arch);
  ATTN_CHECK(d_model > 0, "d_model must be positive, got {}", d_model);
  ATTN_CHECK(heads > 0, "heads must be positive, got {}", heads);
  ATTN_CHECK(d_model % heads == 0,
             "heads ({}) must divide d_model ({}): each head gets d_model/heads dimensions", heads,
             d_model);
  ATTN_CHECK(encoder_layers >= 0 && decoder_layers > 0,
             "encoder_layers must be ≥ 0 and decoder_layers ≥ 1, got {} and {}", encoder_layers,
             decoder_layers);
  ATTN_CHECK(d_ff > 0, "d_ff must be positive, got {}", d_ff);
  ATTN_CHECK(src_vocab > 0 && tgt_vocab > 0, "src_vocab and tgt_vocab must be positive");
  const int32_t max_special = std::max({pad_id, bos_id, eos_id});
  ATTN_CHECK(pad_id >= 0 && bos_id >= 0 && eos_id >= 0, "special ids must be ≥ 0");
  ATTN_CHECK(max_special < std::min(src_vocab, tgt_vocab),
             "special id {} does not fit the vocabularies ({} source, {} target)", max_special,
             src_vocab, tgt_vocab);
  ATTN_CHECK(max_len > 0, "max_len must be positive, got {}", max_len);
  ATTN_CHECK(layer_norm_eps > 0, "layer_norm_eps must be positive");
  ATTN_CHECK(!share_embeddings || src_vocab == tgt_vocab,
             "share_embeddings needs src_vocab == tgt_vocab ({} != {})", src_vocab, tgt_vocab);
  ATTN_CHECK(dropout >= 0 && dropout < 1, "dropout must be in [0, 1), got {}", dropout);
}

}  // namespace attnscope
