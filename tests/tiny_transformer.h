// The tiny Transformer config the unit tests build by hand (gradients, gates, attribution,
// data-parallel sums): two layers of each stack, two heads, small vocabularies, no dropout.
#pragma once

#include "nn/model_config.h"

namespace attnscope::test {

inline ModelConfig tiny_transformer_config() {
  ModelConfig c;
  c.d_model = 8;
  c.heads = 2;
  c.encoder_layers = 2;
  c.decoder_layers = 2;
  c.d_ff = 12;
  c.src_vocab = 11;
  c.tgt_vocab = 9;
  c.max_len = 16;
  c.dropout = 0.0f;
  c.activation = cpu::Activation::kGelu;
  return c;
}

}  // namespace attnscope::test
