#include "nn/model_config.h"

#include <fmt/format.h>

#include <algorithm>

#include "core/checked_math.h"
#include "core/error.h"
#include "nn/transformer.h"

namespace attnscope {

std::unique_ptr<ArchConfig> ModelConfig::clone() const {
  return std::make_unique<ModelConfig>(*this);
}

// The largest sizes a config may declare. Each is far beyond any real model (Transformer-big has
// d_model 1024, d_ff 4096, 6+6 layers, 16 heads); together they bound every product below well
// inside 64 bits, and the memory cap (core/memory_limit.h) decides what this machine can hold.
namespace {
constexpr IntRange kWidthRange{1, 1 << 16};      // d_model
constexpr IntRange kFfnRange{1, 1 << 20};        // d_ff
constexpr IntRange kHeadsRange{1, 1 << 10};      // heads
constexpr IntRange kLayersRange{0, 1 << 10};     // encoder_layers (0: a decoder-only stack)
constexpr IntRange kDecLayersRange{1, 1 << 10};  // decoder_layers
constexpr IntRange kVocabRange{1, 1 << 24};      // src_vocab, tgt_vocab
constexpr IntRange kIdRange{0, (1 << 24) - 1};   // special ids
constexpr IntRange kOptionalIdRange{-1,
                                    (1 << 24) - 1};  // -1: none (unk_id), bos_id (decoder_start_id)
constexpr IntRange kMaxLenRange{1, 1 << 20};         // max_len
constexpr FloatRange kEpsRange{1e-30, 1.0};          // layer_norm_eps
constexpr FloatRange kDropoutRange{0.0, 1.0};        // dropout (below 1: check_rules)
}  // namespace

void ModelConfig::visit_fields(ConfigFields& f) {
  f.field("d_model", d_model, kWidthRange);
  f.field("heads", heads, kHeadsRange);
  f.field("encoder_layers", encoder_layers, kLayersRange);
  f.field("decoder_layers", decoder_layers, kDecLayersRange);
  f.field("d_ff", d_ff, kFfnRange);
  f.field("src_vocab", src_vocab, kVocabRange);
  f.field("tgt_vocab", tgt_vocab, kVocabRange);
  f.choice("norm", norm, {{"post", NormPlacement::kPost}, {"pre", NormPlacement::kPre}});
  f.choice("activation", activation,
           {{"relu", cpu::Activation::kRelu},
            {"gelu", cpu::Activation::kGelu},
            {"gelu_tanh", cpu::Activation::kGeluTanh},
            {"silu", cpu::Activation::kSilu}});
  f.field("pad_id", pad_id, kIdRange);
  f.field("bos_id", bos_id, kIdRange);
  f.field("eos_id", eos_id, kIdRange);
  f.field("unk_id", unk_id, kOptionalIdRange);
  f.field("decoder_start_id", decoder_start_id, kOptionalIdRange);
  f.field("max_len", max_len, kMaxLenRange);
  f.field("embed_scale", embed_scale);
  f.choice("positions", positions,
           {{"sinusoid", Positions::kSinusoid},
            {"sinusoid_halves", Positions::kSinusoidHalves},
            {"table", Positions::kTable}});
  f.choice("padding_mask", padding_mask,
           {{"pad_ids", PaddingMask::kPadIds}, {"source_tail", PaddingMask::kSourceTail}});
  f.field("layer_norm_eps", layer_norm_eps, kEpsRange);
  f.field("final_norms", final_norms);
  f.field("share_embeddings", share_embeddings);
  f.field("tie_output", tie_output);
  f.field("generator_bias", generator_bias);
  f.field("dropout", dropout, kDropoutRange);
  f.field("residual", residual);
  f.field("scale_scores", scale_scores);
}

std::unique_ptr<Seq2SeqModel> ModelConfig::build_model() const {
  return std::make_unique<Transformer>(*this);
}

int64_t ModelConfig::parameter_count() const {
  const char* what = "the parameter count of the Transformer";
  const int64_t D = d_model, F = d_ff;
  const auto mul = [&](int64_t a, int64_t b) { return checked_mul(a, b, what); };
  const auto add = [&](int64_t a, int64_t b) { return checked_add(a, b, what); };
  const int64_t attention = add(mul(4 * D, D), 4 * D);  // in_proj [3D, D] + [3D], out_proj
  const int64_t ffn = add(add(mul(2 * D, F), F), D);    // linear1 [F, D] + [F], linear2
  const int64_t encoder_layer = add(add(attention, ffn), 4 * D);          // norm1, norm2
  const int64_t decoder_layer = add(add(mul(2, attention), ffn), 6 * D);  // norm1 … norm3
  int64_t n = mul(tgt_vocab, D);                                          // tgt_embed
  if (!share_embeddings) n = add(n, mul(src_vocab, D));                   // src_embed
  if (positions == Positions::kTable) n = add(n, mul(2 * max_len, D));    // src/tgt_positions
  n = add(n, mul(encoder_layers, encoder_layer));
  n = add(n, mul(decoder_layers, decoder_layer));
  if (final_norms) n = add(n, 4 * D);
  if (!tie_output) n = add(n, mul(tgt_vocab, D));  // generator.weight
  if (generator_bias) n = add(n, tgt_vocab);
  return n;
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

void ModelConfig::check_rules() const {
  ATTN_CHECK(d_model % heads == 0,
             "heads ({}) must divide d_model ({}): each head gets d_model/heads dimensions", heads,
             d_model);
  // unk_id -1: the network has none (a Marian model's tokenizer keeps it). bos_id may be the
  // padding: Marian has no bos, and its decoder starts from <pad>.
  std::vector<SpecialId> ids = {{"pad_id", pad_id}, {"bos_id", bos_id}, {"eos_id", eos_id}};
  if (unk_id >= 0) ids.push_back({"unk_id", unk_id});
  check_special_ids(ids, src_vocab, tgt_vocab, {"bos_id"});
  ATTN_CHECK(decoder_start_id < tgt_vocab,
             "\"decoder_start_id\" is {}, outside the target vocabulary of {} (-1: bos_id)",
             decoder_start_id, tgt_vocab);
  ATTN_CHECK(!share_embeddings || src_vocab == tgt_vocab,
             "share_embeddings needs src_vocab == tgt_vocab ({} != {})", src_vocab, tgt_vocab);
  ATTN_CHECK(dropout < 1, "\"dropout\" is {}; it must be below 1 (1 drops everything)", dropout);
}

}  // namespace attnscope
