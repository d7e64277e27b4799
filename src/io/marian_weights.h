// model.safetensors of a Hugging Face Marian model → the parameters of the Transformer that
// computes it (nn/marian_model.h), by name (docs/marian-semantics.md, section 2):
//
//   model.{encoder,decoder}.layers.L.self_attn.{q,k,v}_proj.{weight,bias}
//                                       →
//                                       {encoder,decoder}.layers.L.self_attn.in_proj_{weight,bias}
//                                         (rows W_Q; W_K; W_V, as PyTorch packs them)
//   model.decoder.layers.L.encoder_attn.* → decoder.layers.L.multihead_attn.*
//   ….out_proj.*                          → ….out_proj.*
//   ….self_attn_layer_norm / encoder_attn_layer_norm / final_layer_norm → norm1 / norm2 / norm2|3
//   ….fc1 / fc2                           → ….linear1 / linear2
//   model.shared.weight (shared vocabularies) or model.{encoder,decoder}.embed_tokens.weight
//                                         → src_embed.weight / tgt_embed.weight
//   lm_head.weight (untied only)          → generator.weight
//   final_logits_bias [1, V]              → generator.bias [V] (zeros when absent, as in HF)
//   model.{encoder,decoder}.embed_positions.weight (older files) → src/tgt_positions.weight
//
// Tied copies may be left out (as save_pretrained does) or present (files converted by other
// tools): the table is resolved by the config, and a copy that is present must equal it. F32,
// F16 and BF16 are read (converted to fp32 exactly); any other dtype, a missing or misshapen
// tensor, an unknown name, or a non-finite value is an attnscope::Error naming the file and the
// tensor.
#pragma once

#include <map>
#include <string>

#include "core/tensor.h"
#include "io/safetensors.h"
#include "nn/marian_config.h"

namespace attnscope {

// Whether the file carries position tables (model.{encoder,decoder}.embed_positions.weight):
// then the config's positions become Positions::kTable, filled from them.
bool has_marian_position_tables(const SafetensorsFile& file);

// The file's tensors renamed, packed and checked for a model of `config` (whose positions say
// whether tables are expected; a side whose table the file lacks gets the computed sinusoid).
// Consumes file.tensors.
std::map<std::string, Tensor> marian_weights(SafetensorsFile& file, const MarianConfig& config,
                                             const std::string& path);

}  // namespace attnscope
