// A Hugging Face Marian model (OPUS-MT, arch "marian"): the Transformer configured as
// MarianMTModel computes in eval mode (nn/marian_config.h), telling the rest of attnscope its
// architecture and how its files say to translate (ModelInfo::generation). Its parameters are
// the Transformer's, named as attnscope names them; io/marian_dir.h maps the Hugging Face
// weights onto them (q/k/v_proj packed into in_proj, fc1/fc2 into linear1/linear2, the layer
// norms into norm1..3, final_logits_bias into generator.bias, the tied tables resolved).
#pragma once

#include "nn/marian_config.h"
#include "nn/transformer.h"

namespace attnscope {

class MarianModel : public Transformer {
 public:
  explicit MarianModel(const MarianConfig& cfg);

  const MarianConfig& config() const override { return cfg_; }
  ModelInfo info() const override;

 private:
  MarianConfig cfg_;
};

}  // namespace attnscope
