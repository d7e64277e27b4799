// Training curves as a picture: the metrics.jsonl a training run appends to, drawn as PNG.
//
// Each line of metrics.jsonl is one JSON object with a "step" and any of
//   "loss" (train loss), "valid_loss", "bleu", "chrf"   (other keys are ignored),
// e.g. {"step":50,"loss":3.2,"lr":0.0007} or {"step":500,"valid_loss":2.9,"bleu":12.3}.
// Lines that are not such objects (half-written, empty, not JSON) and values that are not
// finite numbers of magnitude ≤ 1e12 are skipped. When a step appears twice for one metric (a
// resumed run), the later line wins.
//
// The picture has two panels side by side: "loss" (train loss, smoothed when there are many
// points, with the raw curve faint behind it; valid loss with markers) and "BLEU / chrF"
// (only when the file has either), each with axes, ticks, gridlines, axis labels and a legend.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "inspect/canvas.h"

namespace attnscope {

struct TrainingMetrics {
  using Points = std::vector<std::pair<double, double>>;  // (step, value), ascending steps
  Points loss, valid_loss, bleu, chrf;
  int64_t lines = 0, skipped_lines = 0;  // non-empty lines read / skipped as malformed
  bool empty() const { return loss.empty() && valid_loss.empty() && bleu.empty() && chrf.empty(); }
};

// Throws attnscope::Error naming the file when it cannot be read.
TrainingMetrics read_training_metrics(const std::string& metrics_jsonl);

// Throws attnscope::Error when m holds no points.
Canvas render_training_curves(const TrainingMetrics& m, const std::string& title);

// Throws attnscope::Error naming metrics_jsonl when it cannot be read or holds no data, and
// naming png_path when it cannot be written.
void write_training_curves_png(const std::string& metrics_jsonl, const std::string& png_path);

// Up to about `target` round tick values (1, 2 or 5 × 10^k apart) covering [lo, hi].
std::vector<double> nice_ticks(double lo, double hi, int target = 6);

}  // namespace attnscope
