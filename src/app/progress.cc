#include "app/progress.h"

#include <fmt/core.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>

#include "core/error.h"
#include "inspect/training_curves.h"

namespace attnscope::app {

TrainingProgress::TrainingProgress(std::FILE* out, std::string out_dir)
    : out_(out), out_dir_(std::move(out_dir)), tty_(isatty(fileno(out)) != 0) {}

std::string format_duration(double seconds) {
  const int64_t s = static_cast<int64_t>(std::max(0.0, seconds));
  if (s >= 3600) return fmt::format("{}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60);
  return fmt::format("{}:{:02}", s / 60, s % 60);
}

void TrainingProgress::operator()(const TrainProgress& p) {
  const double eta =
      p.fraction_done > 0 ? p.elapsed_s * (1 - p.fraction_done) / p.fraction_done : 0;
  const std::string steps =
      p.max_steps > 0 ? fmt::format("{}/{}", p.step, p.max_steps) : fmt::format("{}", p.step);
  if (p.kind == TrainProgress::Kind::kStep) {
    if (tty_) {
      const int width = 24;
      const int filled = static_cast<int>(std::round(p.fraction_done * width));
      fmt::print(out_, "\r[{}{}] {:3.0f}% step {} loss {:.3f} lr {:.2e} {:.0f} tok/s ETA {}   ",
                 std::string(static_cast<size_t>(filled), '#'),
                 std::string(static_cast<size_t>(width - filled), '.'), 100 * p.fraction_done,
                 steps, p.loss, p.lr, p.tokens_per_s, format_duration(eta));
      bar_open_ = true;
    } else {
      fmt::print(out_, "step {} epoch {} loss {:.4f} lr {:.3e} tgt_tokens/s {:.0f} elapsed {}\n",
                 steps, p.epoch, p.loss, p.lr, p.tokens_per_s, format_duration(p.elapsed_s));
    }
  } else {
    if (bar_open_) fmt::print(out_, "\n");
    bar_open_ = false;
    if (p.validation) {
      const auto& v = *p.validation;
      fmt::print(out_, "{} step {}: valid loss {:.4f}",
                 p.kind == TrainProgress::Kind::kDone ? "final" : "validation", p.step, v.loss);
      if (v.bleu) fmt::print(out_, " BLEU {:.2f}", *v.bleu);
      if (v.chrf) fmt::print(out_, " chrF {:.2f}", *v.chrf);
      fmt::print(out_, "{}\n", p.improved ? " (best so far, saved)" : "");
    }
    if (!out_dir_.empty()) {
      const auto metrics = std::filesystem::path(out_dir_) / "metrics.jsonl";
      try {
        if (std::filesystem::exists(metrics))
          write_training_curves_png(metrics.string(),
                                    (std::filesystem::path(out_dir_) / "training.png").string());
      } catch (const Error& e) {
        fmt::print(out_, "(training.png not drawn: {})\n", e.what());
      }
    }
    if (p.kind == TrainProgress::Kind::kDone)
      fmt::print(out_, "training stopped after {} steps ({}) in {}\n", p.step,
                 p.stop_reason.empty() ? "done" : p.stop_reason, format_duration(p.elapsed_s));
  }
  std::fflush(out_);
}

}  // namespace attnscope::app
