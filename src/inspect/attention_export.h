// attention.json: the tokens of both sides and every captured map of one translation,
//   {"source_tokens": [...], "target_tokens": [...], "translation": "...",
//    "weights": {"encoder_self": [layer][head][query][key],
//                "decoder_self": [layer][head][query][key],
//                "cross":        [layer][head][query][key]},
//    "layers": {"encoder_self": [0, 1], "decoder_self": [...], "cross": [...]},
//    "heads": [0, 1, 2, 3], "reduction": "none"}
// (with a capture spec, only the selected layers/heads, or one reduced map per layer)
// target_tokens are the decoder's inputs (<s>, y1, …): query row t is the step that
// predicted the next token.
#pragma once

#include <string>

#include "decode/translate.h"

namespace attnscope {

std::string attention_json(const Translation& t);
// Writes attention_json(t) to path (temporary name, then rename).
void write_attention_json(const std::string& path, const Translation& t);

}  // namespace attnscope
