#include "inspect/training_curves.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/error.h"

namespace attnscope {
namespace {

constexpr int kMargin = 16;
constexpr int kPanelW = 620, kPanelH = 420;  // one panel, axes and labels included
constexpr int kAxisLeft = 64, kAxisBottom = 44, kAxisTop = 12, kAxisRight = 14;
constexpr float kTitleSize = 18, kPanelTitleSize = 14, kTickSize = 11, kLabelSize = 12,
                kLegendSize = 12;
constexpr double kMaxValue = 1e12;  // larger values and steps are not plotted (nor plottable)
constexpr Rgb kInk{25, 25, 25};
constexpr Rgb kGrid{228, 228, 228};
constexpr Rgb kAxis{110, 110, 110};
constexpr Rgb kTrainRaw{170, 199, 232};
constexpr Rgb kTrain{31, 119, 180};
constexpr Rgb kValid{230, 110, 20};
constexpr Rgb kBleu{44, 160, 44};
constexpr Rgb kChrf{148, 103, 189};

using Points = TrainingMetrics::Points;

// Sorted by step; of two points with the same step the later one (in file order) is kept.
Points finish(const std::map<double, double>& by_step) {
  return {by_step.begin(), by_step.end()};
}

// A centred moving average over about 1/25 of the points (no lag, unlike an EMA: the smooth
// curve lies on the raw one); the window narrows at both ends.
Points smooth(const Points& p) {
  const auto n = static_cast<int64_t>(p.size());
  const int64_t k = std::max<int64_t>(1, n / 50);
  std::vector<double> prefix(p.size() + 1, 0.0);
  for (size_t i = 0; i < p.size(); ++i) prefix[i + 1] = prefix[i] + p[i].second;
  Points out;
  for (int64_t i = 0; i < n; ++i) {
    const int64_t h = std::min({k, i, n - 1 - i});
    const double sum = prefix[static_cast<size_t>(i + h + 1)] - prefix[static_cast<size_t>(i - h)];
    out.emplace_back(p[static_cast<size_t>(i)].first, sum / static_cast<double>(2 * h + 1));
  }
  return out;
}

int decimals_for(double step) {
  return std::max(0, static_cast<int>(-std::floor(std::log10(step) + 1e-9)));
}

std::string tick_label(double v, double step) {
  if (std::fabs(v) < step * 1e-6) v = 0;
  return fmt::format("{:.{}f}", v, decimals_for(step));
}

struct Series {
  const Points* points;
  std::string name;
  Rgb color;
  float width;
  bool markers;
};

struct Axes {
  int x, y, w, h;  // the plot area
  double x0, x1, y0, y1;
  float px(double v) const { return static_cast<float>(x + (v - x0) / (x1 - x0) * w); }
  float py(double v) const { return static_cast<float>(y + h - (v - y0) / (y1 - y0) * h); }
};

std::pair<double, double> padded_range(double lo, double hi) {
  if (hi - lo <= std::max(std::fabs(hi), 1.0) * 1e-9) {
    const double d = std::max(std::fabs(hi) * 0.1, 1.0);
    return {lo - d, hi + d};
  }
  return {lo, hi};
}

void draw_panel(Canvas& cv, int left, int top, const std::string& title, const std::string& ylabel,
                const std::vector<Series>& series, bool y_from_zero) {
  double xlo = 1e300, xhi = -1e300, ylo = 1e300, yhi = -1e300;
  for (const Series& s : series)
    for (const auto& [x, y] : *s.points) {
      xlo = std::min(xlo, x), xhi = std::max(xhi, x);
      ylo = std::min(ylo, y), yhi = std::max(yhi, y);
    }
  if (y_from_zero) ylo = std::min(ylo, 0.0);
  std::tie(xlo, xhi) = padded_range(xlo, xhi);
  std::tie(ylo, yhi) = padded_range(ylo, yhi);
  const std::vector<double> xt = nice_ticks(xlo, xhi, 6), yt = nice_ticks(ylo, yhi, 6);

  const int title_h = static_cast<int>(std::ceil(cv.line_height(kPanelTitleSize))) + 6;
  Axes a{left + kAxisLeft,
         top + title_h + kAxisTop,
         kPanelW - kAxisLeft - kAxisRight,
         kPanelH - title_h - kAxisTop - kAxisBottom,
         xt.front(),
         xt.back(),
         yt.front(),
         yt.back()};
  cv.text(static_cast<float>(a.x) + static_cast<float>(a.w) / 2, static_cast<float>(top), title,
          kPanelTitleSize, kInk, HAlign::kCenter, VAlign::kTop);

  // Gridlines and ticks.
  const double xstep = xt.size() > 1 ? xt[1] - xt[0] : 1, ystep = yt.size() > 1 ? yt[1] - yt[0] : 1;
  for (double v : xt) {
    const int x = static_cast<int>(std::floor(a.px(v)));
    cv.fill_rect(x, a.y, 1, a.h, kGrid);
    cv.fill_rect(x, a.y + a.h, 1, 4, kAxis);
    cv.text(static_cast<float>(x) + 0.5f, static_cast<float>(a.y + a.h + 6), tick_label(v, xstep),
            kTickSize, kInk, HAlign::kCenter, VAlign::kTop);
  }
  for (double v : yt) {
    const int y = std::min(a.y + a.h - 1, static_cast<int>(std::floor(a.py(v))));
    cv.fill_rect(a.x, y, a.w, 1, kGrid);
    cv.fill_rect(a.x - 4, y, 4, 1, kAxis);
    cv.text(static_cast<float>(a.x - 7), static_cast<float>(y) + 0.5f, tick_label(v, ystep),
            kTickSize, kInk, HAlign::kRight, VAlign::kMiddle);
  }
  cv.fill_rect(a.x, a.y + a.h, a.w, 1, kAxis);    // x axis
  cv.fill_rect(a.x - 1, a.y, 1, a.h + 1, kAxis);  // y axis
  cv.text(static_cast<float>(a.x) + static_cast<float>(a.w) / 2,
          static_cast<float>(top + kPanelH - 2), "step", kLabelSize, kInk, HAlign::kCenter,
          VAlign::kBottom);
  cv.text(static_cast<float>(left + 4), static_cast<float>(a.y) + static_cast<float>(a.h) / 2,
          ylabel, kLabelSize, kInk, HAlign::kCenter, VAlign::kTop, 90.0f);

  // The curves.
  for (const Series& s : series) {
    const Points& p = *s.points;
    for (size_t i = 1; i < p.size(); ++i)
      cv.line(a.px(p[i - 1].first), a.py(p[i - 1].second), a.px(p[i].first), a.py(p[i].second),
              s.color, s.width);
    if (s.markers || p.size() == 1)
      for (const auto& [x, y] : p) cv.fill_circle(a.px(x), a.py(y), 3.2f, s.color);
  }

  // The legend, top right inside the plot.
  float lw = 0;
  for (const Series& s : series) lw = std::max(lw, cv.text_width(s.name, kLegendSize));
  const int row_h = static_cast<int>(std::ceil(cv.line_height(kLegendSize))) + 4;
  const int box_w = 8 + 24 + 6 + static_cast<int>(std::ceil(lw)) + 8;
  const int box_h = 6 + row_h * static_cast<int>(series.size()) + 2;
  // The corner whose box covers the fewest curve points.
  int bx = 0, by = 0;
  int64_t best = -1;
  for (int corner = 0; corner < 4; ++corner) {
    const int cx = corner & 1 ? a.x + 8 : a.x + a.w - box_w - 8;
    const int cy = corner & 2 ? a.y + a.h - box_h - 8 : a.y + 8;
    int64_t covered = 0;
    for (const Series& s : series) {
      const Points& p = *s.points;
      for (size_t i = 0; i < p.size(); ++i) {
        // Sample along each segment so long segments count too.
        const size_t i0 = i == 0 ? 0 : i - 1;
        for (int t = 0; t <= 4; ++t) {
          const double f = t / 4.0;
          const float x = a.px(p[i0].first + (p[i].first - p[i0].first) * f);
          const float y = a.py(p[i0].second + (p[i].second - p[i0].second) * f);
          if (x >= static_cast<float>(cx) - 4 && x <= static_cast<float>(cx + box_w) + 4 &&
              y >= static_cast<float>(cy) - 4 && y <= static_cast<float>(cy + box_h) + 4)
            ++covered;
        }
      }
    }
    if (best < 0 || covered < best) best = covered, bx = cx, by = cy;
  }
  cv.fill_rect(bx, by, box_w, box_h, kWhite);
  cv.stroke_rect(bx, by, box_w, box_h, {200, 200, 200});
  for (size_t i = 0; i < series.size(); ++i) {
    const Series& s = series[i];
    const float cy = static_cast<float>(by + 6 + row_h * static_cast<int>(i)) +
                     static_cast<float>(row_h - 4) / 2;
    cv.line(static_cast<float>(bx + 8), cy, static_cast<float>(bx + 32), cy, s.color,
            std::max(2.0f, s.width));
    if (s.markers) cv.fill_circle(static_cast<float>(bx + 20), cy, 3.2f, s.color);
    cv.text(static_cast<float>(bx + 38), cy, s.name, kLegendSize, kInk, HAlign::kLeft,
            VAlign::kMiddle);
  }
}

}  // namespace

std::vector<double> nice_ticks(double lo, double hi, int target) {
  ATTN_CHECK(std::isfinite(lo) && std::isfinite(hi) && lo <= hi && target >= 1,
             "nice_ticks: bad range [{}, {}] or target {}", lo, hi, target);
  if (hi == lo) std::tie(lo, hi) = padded_range(lo, hi);
  const double raw = (hi - lo) / target;
  ATTN_CHECK(std::isfinite(raw) && raw > 0, "nice_ticks: range [{}, {}] is too wide", lo, hi);
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = 10 * mag;
  for (double m : {1.0, 2.0, 5.0})
    if (m * mag >= raw) {
      step = m * mag;
      break;
    }
  const double first = std::floor(lo / step + 1e-9) * step;
  const double last = std::ceil(hi / step - 1e-9) * step;
  std::vector<double> t;
  for (int64_t k = 0; k < 10 * target + 10; ++k) {
    const double v = first + static_cast<double>(k) * step;
    t.push_back(v);
    if (v >= last - step * 1e-9) break;
  }
  if (t.size() == 1) t.push_back(t[0] + step);
  return t;
}

TrainingMetrics read_training_metrics(const std::string& metrics_jsonl) {
  std::ifstream in(metrics_jsonl);
  if (!in) fail("cannot read training metrics {}: cannot open it", metrics_jsonl);
  TrainingMetrics m;
  std::map<double, double> loss, valid, bleu, chrf;
  std::string line;
  while (std::getline(in, line)) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    ++m.lines;
    const nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!j.is_object() || !j.contains("step") || !j["step"].is_number() ||
        !std::isfinite(j["step"].get<double>()) || std::fabs(j["step"].get<double>()) > kMaxValue) {
      ++m.skipped_lines;
      continue;
    }
    const double step = j["step"].get<double>();
    bool any = false;
    auto take = [&](const char* key, std::map<double, double>& into) {
      auto it = j.find(key);
      if (it == j.end() || !it->is_number()) return;
      const double v = it->get<double>();
      if (!std::isfinite(v) || std::fabs(v) > kMaxValue) return;
      into[step] = v;
      any = true;
    };
    take("loss", loss);
    take("valid_loss", valid);
    take("bleu", bleu);
    take("chrf", chrf);
    if (!any && !j.contains("lr")) ++m.skipped_lines;
  }
  if (in.bad()) fail("cannot read training metrics {}: read error", metrics_jsonl);
  m.loss = finish(loss);
  m.valid_loss = finish(valid);
  m.bleu = finish(bleu);
  m.chrf = finish(chrf);
  return m;
}

Canvas render_training_curves(const TrainingMetrics& m, const std::string& title) {
  ATTN_CHECK(!m.empty(), "no training metrics to draw ({})", title);
  const bool has_loss = !m.loss.empty() || !m.valid_loss.empty();
  const bool has_scores = !m.bleu.empty() || !m.chrf.empty();
  const int panels = (has_loss ? 1 : 0) + (has_scores ? 1 : 0);
  auto font = Font::default_font();
  const int title_h = static_cast<int>(std::ceil(font->line_height(kTitleSize))) + 10;
  Canvas cv(kMargin + panels * kPanelW + (panels - 1) * 24 + kMargin,
            kMargin + title_h + kPanelH + kMargin, kWhite, font);
  cv.text(kMargin, kMargin, title, kTitleSize, kInk);
  int left = kMargin;
  const int top = kMargin + title_h;
  Points smoothed;
  if (has_loss) {
    std::vector<Series> s;
    if (!m.loss.empty()) {
      if (m.loss.size() > 50) {
        smoothed = smooth(m.loss);
        s.push_back({&m.loss, "train loss (raw)", kTrainRaw, 1.0f, false});
        s.push_back({&smoothed, "train loss (smoothed)", kTrain, 2.0f, false});
      } else {
        s.push_back({&m.loss, "train loss", kTrain, 2.0f, m.loss.size() <= 30});
      }
    }
    if (!m.valid_loss.empty()) s.push_back({&m.valid_loss, "valid loss", kValid, 2.0f, true});
    draw_panel(cv, left, top, "loss", "loss (cross-entropy)", s, false);
    left += kPanelW + 24;
  }
  if (has_scores) {
    std::vector<Series> s;
    if (!m.bleu.empty()) s.push_back({&m.bleu, "BLEU", kBleu, 2.0f, true});
    if (!m.chrf.empty()) s.push_back({&m.chrf, "chrF", kChrf, 2.0f, true});
    draw_panel(cv, left, top, "validation scores", "score (0–100)", s, true);
  }
  return cv;
}

void write_training_curves_png(const std::string& metrics_jsonl, const std::string& png_path) {
  const TrainingMetrics m = read_training_metrics(metrics_jsonl);
  if (m.empty())
    fail(
        "no training metrics in {}: {} lines, none with a step and a loss, valid_loss, bleu or "
        "chrf",
        metrics_jsonl, m.lines);
  render_training_curves(m, "training curves — " + metrics_jsonl).save_png(png_path);
}

}  // namespace attnscope
