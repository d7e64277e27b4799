// The architecture of a Transformer (arch "transformer"): everything its config.json says.
// Validated before anything is allocated, so an impossible config is an error message, not a
// crash.
#pragma once

#include <cstdint>
#include <string>

#include "kernels/cpu/activation.h"
#include "nn/arch_config.h"

namespace attnscope {

enum class NormPlacement { kPost, kPre };  // post-norm (the paper's) or pre-norm

// Where the positions come from:
//   kSinusoid        the paper's sinusoid, sin and cos interleaved (attnscope's own models)
//   kSinusoidHalves  the same frequencies, all sines then all cosines (Hugging Face Marian)
//   kTable           one table per side, parameters src_positions.weight / tgt_positions.weight
//                    [max_len, D], initialised to the sinusoid (learned when trained; a Marian
//                    file that carries its position tables is read into them)
enum class Positions { kSinusoid, kSinusoidHalves, kTable };

// Which keys attention ignores as padding:
//   kPadIds      every pad id, source and target (attnscope's own models)
//   kSourceTail  the source's trailing pad ids only (the padding after its last token), and no
//                target position: Hugging Face Marian, whose decoder starts with the pad id and
//                attends to it, and whose tokenizer may put a literal <pad> inside a source
enum class PaddingMask { kPadIds, kSourceTail };

struct ModelConfig : ArchConfig {
  int64_t d_model = 512;
  int64_t heads = 8;
  int64_t encoder_layers = 6;
  int64_t decoder_layers = 6;
  int64_t d_ff = 2048;
  int64_t src_vocab = 8000;
  int64_t tgt_vocab = 8000;
  NormPlacement norm = NormPlacement::kPost;
  cpu::Activation activation = cpu::Activation::kRelu;
  int32_t pad_id = 0;
  int32_t bos_id = 1;
  int32_t eos_id = 2;
  int32_t unk_id = 3;
  int32_t decoder_start_id = -1;  // the decoder's first input; -1: bos_id
  int64_t max_len = 256;          // longest sequence the positional encoding covers
  bool embed_scale = true;        // multiply embeddings by √d_model
  Positions positions = Positions::kSinusoid;
  PaddingMask padding_mask = PaddingMask::kPadIds;
  float layer_norm_eps = 1e-5f;
  bool final_norms = true;        // encoder.norm / decoder.norm after the stacks (nn.Transformer)
  bool share_embeddings = false;  // src_embed and tgt_embed are one table (needs equal vocabs)
  bool tie_output = false;        // generator.weight is tgt_embed.weight
  bool generator_bias = true;
  float dropout = 0.1f;  // residual, FFN, embedding and attention-weight dropout
  // Learner switches (what attention does without them):
  bool residual = true;      // false: no residual connections around sub-layers
  bool scale_scores = true;  // false: no 1/√d_k on Q·Kᵀ

  int64_t d_head() const { return d_model / heads; }
  int32_t decoder_start() const { return decoder_start_id < 0 ? bos_id : decoder_start_id; }

  std::string arch() const override { return "transformer"; }
  std::unique_ptr<ArchConfig> clone() const override;
  // config.json's keys are exactly these field names; "norm" is "post" | "pre", "activation"
  // "relu" | "gelu" | "gelu_tanh" | "silu", "positions" "sinusoid" | "sinusoid_halves" |
  // "table", "padding_mask" "pad_ids" | "source_tail".
  void visit_fields(ConfigFields& f) override;
  int64_t parameter_count() const override;
  std::string summary() const override;
  // Also drops share_embeddings when the two vocabularies differ.
  void set_vocabularies(int64_t src, int64_t tgt) override;

 protected:
  // heads dividing d_model, the special ids distinct and inside both vocabularies, equal
  // vocabularies for share_embeddings, dropout below 1.
  void check_rules() const override;
  std::unique_ptr<Seq2SeqModel> build_model() const override;  // a Transformer
};

}  // namespace attnscope
