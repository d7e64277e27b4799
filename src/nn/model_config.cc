#include "nn/model_config.h"

#include <fmt/format.h>

#include <algorithm>

#include "core/error.h"
#include "nn/transformer.h"

namespace attnscope {

std::unique_ptr<ArchConfig> ModelConfig::clone() const {
  return std::make_unique<ModelConfig>(*this);
}

void ModelConfig::visit_fields(ConfigFields& f) {
  f.field("d_model", d_model);
  f.field("heads", heads);
  f.field("encoder_layers", encoder_layers);
  f.field("decoder_layers", decoder_layers);
  f.field("d_ff", d_ff);
  f.field("src_vocab", src_vocab);
  f.field("tgt_vocab", tgt_vocab);
  f.choice("norm", norm, {{"post", NormPlacement::kPost}, {"pre", NormPlacement::kPre}});
  f.choice("activation", activation,
           {{"relu", cpu::Activation::kRelu},
            {"gelu", cpu::Activation::kGelu},
            {"gelu_tanh", cpu::Activation::kGeluTanh},
            {"silu", cpu::Activation::kSilu}});
  f.field("pad_id", pad_id);
  f.field("bos_id", bos_id);
  f.field("eos_id", eos_id);
  f.field("unk_id", unk_id);
  f.field("decoder_start_id", decoder_start_id);
  f.field("max_len", max_len);
  f.field("embed_scale", embed_scale);
  f.choice("positions", positions,
           {{"sinusoid", Positions::kSinusoid},
            {"sinusoid_halves", Positions::kSinusoidHalves},
            {"table", Positions::kTable}});
  f.choice("padding_mask", padding_mask,
           {{"pad_ids", PaddingMask::kPadIds}, {"source_tail", PaddingMask::kSourceTail}});
  f.field("layer_norm_eps", layer_norm_eps);
  f.field("final_norms", final_norms);
  f.field("share_embeddings", share_embeddings);
  f.field("tie_output", tie_output);
  f.field("generator_bias", generator_bias);
  f.field("dropout", dropout);
  f.field("residual", residual);
  f.field("scale_scores", scale_scores);
}

std::unique_ptr<Seq2SeqModel> ModelConfig::make_model() const {
  return std::make_unique<Transformer>(*this);  // the constructor validates
}

std::string ModelConfig::summary() const {
  return fmt::format("d_model {}, {} heads, {}+{} layers, {} norm", d_model, heads, encoder_layers,
                     decoder_layers, norm == NormPlacement::kPre ? "pre" : "post");
}

void ModelConfig::set_vocabularies(int64_t src, int64_t tgt) {
  src_vocab = src;
  tgt_vocab = tgt;
  if (share_embeddings && src_vocab != tgt_vocab) share_embeddings = false;
}

void ModelConfig::validate() const {
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
  ATTN_CHECK(decoder_start_id >= -1 && decoder_start_id < tgt_vocab,
             "decoder_start_id {} is outside the target vocabulary of {} (-1: bos_id)",
             decoder_start_id, tgt_vocab);
  ATTN_CHECK(max_len > 0, "max_len must be positive, got {}", max_len);
  ATTN_CHECK(layer_norm_eps > 0, "layer_norm_eps must be positive");
  ATTN_CHECK(!share_embeddings || src_vocab == tgt_vocab,
             "share_embeddings needs src_vocab == tgt_vocab ({} != {})", src_vocab, tgt_vocab);
  ATTN_CHECK(dropout >= 0 && dropout < 1, "dropout must be in [0, 1), got {}", dropout);
}

}  // namespace attnscope
