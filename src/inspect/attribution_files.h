// Everything `attnscope attribute` writes for one sentence (inspect/attribution.h):
//   attribution.json         tokens, method, per output token its log-probability (and the
//                            baseline's), the scores [N, Ts] and [N, N], their shares, and for
//                            integrated gradients the completeness gap
//   attribution.safetensors  source, target [N, ·] scores; source_share, target_share
//   attribution.{png,svg}    one heatmap: rows the decoder steps (fed → predicted), columns the
//                            source tokens then the target tokens, colour the share of the row
//   attribution.html         the attention viewer with the model's attention maps of the same
//                            pass and attribution as two more kinds (to the source, to the
//                            target prefix), same token labels
// The rows are the decoder steps of `t` (its tgt_pieces): step i is fed tgt_pieces[i] and
// predicts output i.
#pragma once

#include <string>
#include <vector>

#include "decode/translate.h"
#include "inspect/attribution.h"
#include "nn/seq2seq_model.h"

namespace attnscope {

struct AttributionFileOptions {
  bool pictures = true;
  bool html = true;
};

// The decoder inputs (start + fed tokens) and outputs (what each step predicts) of t's best
// hypothesis: the eos is an output when the hypothesis finished.
void attribution_sequences(const Translation& t, int32_t start_id, int32_t eos_id,
                           std::vector<int32_t>& tgt_in, std::vector<int32_t>& outputs);

// Writes the files into dir (created); `model` runs one more plain pass over the sentence for
// the viewer's attention maps. Returns the paths written.
std::vector<std::string> write_attribution_files(const std::string& dir, Seq2SeqModel& model,
                                                 const std::vector<int32_t>& src_ids,
                                                 const Translation& t, const Attribution& a,
                                                 const AttributionOptions& opt,
                                                 const AttributionFileOptions& fopt);

}  // namespace attnscope
