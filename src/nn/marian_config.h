// The config of a Hugging Face Marian model (OPUS-MT, arch "marian"): the Transformer that
// computes it, with the switches Marian needs (positions in halves or from the file's tables, no
// final norms, post-norm, the decoder starting from the pad id and never masking it, SiLU and
// the other activations Hugging Face maps, final_logits_bias as the generator bias, tied and
// shared tables), plus its generation config. It is made by io/marian_dir.h from the directory
// as downloaded (config.json, generation_config.json), never from attnscope's own config.json;
// docs/marian-semantics.md states what each Hugging Face key becomes.
#pragma once

#include <string>

#include "nn/generation_config.h"
#include "nn/model_config.h"

namespace attnscope {

struct MarianConfig : ModelConfig {
  GenerationConfig generation;

  std::string arch() const override { return "marian"; }
  std::unique_ptr<ArchConfig> clone() const override;
  std::string summary() const override;
  // A Marian model's vocabularies are those of its files: attnscope does not train them.
  void set_vocabularies(int64_t src, int64_t tgt) override;

 protected:
  // The network's rules as ModelConfig checks them, then the generation ids against the
  // vocabulary.
  void check_rules() const override;
  std::unique_ptr<Seq2SeqModel> build_model() const override;  // a MarianModel
};

}  // namespace attnscope
