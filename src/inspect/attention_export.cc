#include "inspect/attention_export.h"

#include <nlohmann/json.hpp>

#include "core/atomic_file.h"
#include "core/error.h"
#include "inspect/tensor_json.h"

namespace attnscope {

namespace {
void append_layers(std::string& out, const std::vector<Tensor>& layers) {
  out += '[';
  for (size_t l = 0; l < layers.size(); ++l) {
    if (l) out += ',';
    append_json_array(out, layers[l]);
  }
  out += ']';
}
}  // namespace

std::string attention_json(const Translation& t) {
  ATTN_CHECK(!t.hypotheses.empty(), "no translation to export for \"{}\"", t.source);
  const HypothesisAttention& a = t.hypotheses.front().attention;
  ATTN_CHECK(!a.cross.empty() || !a.decoder_self.empty() || !a.encoder_self.empty(),
             "the translation of \"{}\" was made without attention capture", t.source);
  std::string out = "{\"source\":" + nlohmann::json(t.source).dump() +
                    ",\"translation\":" + nlohmann::json(t.text).dump() +
                    ",\"source_tokens\":" + nlohmann::json(t.src_pieces).dump() +
                    ",\"target_tokens\":" + nlohmann::json(t.tgt_pieces).dump() +
                    ",\"weights\":{\"encoder_self\":";
  append_layers(out, a.encoder_self);
  out += ",\"decoder_self\":";
  append_layers(out, a.decoder_self);
  out += ",\"cross\":";
  append_layers(out, a.cross);
  // Which layers and heads the arrays hold (a capture spec may have selected or reduced them).
  out += "},\"layers\":{\"encoder_self\":" + nlohmann::json(a.encoder_layers).dump() +
         ",\"decoder_self\":" + nlohmann::json(a.decoder_layers).dump() +
         ",\"cross\":" + nlohmann::json(a.decoder_layers).dump() +
         "},\"heads\":" + nlohmann::json(a.heads).dump() + ",\"reduction\":\"" +
         reduction_name(a.reduction) + "\"";
  return out + "}\n";
}

void write_attention_json(const std::string& path, const Translation& t) {
  write_file_atomically(path, attention_json(t));
}

}  // namespace attnscope
