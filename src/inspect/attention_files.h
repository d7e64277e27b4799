// Everything `attnscope attention` writes for one translation, into one folder:
//   attention.json         tokens of both sides + weights[kind][layer][head][query][key]
//   attention.safetensors  the same arrays, one tensor "<kind>.<layer>" [H, Tq, Tk] each, the
//                          tokens in the metadata (for large inputs and numpy/torch users)
//   npy/<kind>_<layer>.npy the same arrays as NumPy files (on request)
//   <kind>.png, <kind>.svg heatmap grids: layers × heads, token labels on both axes
//   attention.html         a self-contained interactive viewer (opens from file://)
#pragma once

#include <string>
#include <vector>

#include "decode/translate.h"
#include "inspect/heatmap.h"

namespace attnscope {

struct AttentionFileOptions {
  bool npy = false;
  bool pictures = true;
  bool html = true;
};

// Row labels of the decoder's maps in pictures: "fed → written" per step ("<s> → ▁", …,
// "5 → </s>"), since row t is fed y_t and predicts y_(t+1); "…" ends an unfinished hypothesis.
std::vector<std::string> decoder_step_labels(const Translation& t);

// The heatmap grid <kind>.png and <kind>.svg draw: the captured layers × heads of the best
// hypothesis, labelled. Throws attnscope::Error when that kind was not captured.
HeatmapGrid attention_heatmap_grid(const Translation& t, AttentionKind kind);

// Writes the files above into dir (created if needed); returns the paths written.
std::vector<std::string> write_attention_files(const std::string& dir, const Translation& t,
                                               const AttentionFileOptions& opt);

}  // namespace attnscope
