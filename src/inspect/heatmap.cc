#include "inspect/heatmap.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/escape.h"
#include "core/utf8.h"

namespace attnscope {
namespace {

constexpr int kMargin = 16;
constexpr double kTargetSide = 2400;  // cells shrink to keep the picture about this wide
constexpr double kHardSide = 4000;    // ... and grow it to here before going under 8 px
constexpr double kMaxCell = 36, kReadableCell = 8, kLabelEveryCell = 10, kValueCell = 30;
constexpr int kGapH = 20, kGapV = 18, kLabelGap = 5;
constexpr float kMaxLabelW = 140;
constexpr float kBudgetLabelSize = 13;  // label size assumed while sizing cells
constexpr int kBarGap = 28, kBarW = 16, kHatchPeriod = 6;
constexpr int64_t kMaxPanelsPerSide = 64;
constexpr Rgb kHatch{196, 196, 186};
constexpr Rgb kBorder{150, 150, 150};
constexpr Rgb kInk{25, 25, 25};
constexpr Rgb kGreyInk{95, 95, 95};
constexpr Rgb kNaN{255, 0, 255};
constexpr const char* kMaskedCaption = "masked (exactly 0)";
constexpr const char* kFontFamily = "DejaVu Sans, Verdana, Arial, sans-serif";

std::string label_at(const std::vector<std::string>& labels, int64_t i) {
  return labels.empty() ? std::to_string(i) : labels[static_cast<size_t>(i)];
}

std::string panel_title(const HeatmapGrid& g, int64_t r, int64_t c) {
  if (!g.panel_titles.empty()) return g.panel_titles[static_cast<size_t>(r * g.cols + c)];
  const std::string a = g.row_titles.empty() ? "" : g.row_titles[static_cast<size_t>(r)];
  const std::string b = g.col_titles.empty() ? "" : g.col_titles[static_cast<size_t>(c)];
  if (a.empty() || b.empty()) return a + b;
  return a + " · " + b;
}

bool any_panel_title(const HeatmapGrid& g) {
  for (int64_t r = 0; r < g.rows; ++r)
    for (int64_t c = 0; c < g.cols; ++c)
      if (!panel_title(g, r, c).empty()) return true;
  return false;
}

// s, or its longest prefix + "…" that fits max_w.
std::string fit_text(const Font& font, const std::string& s, float size, float max_w) {
  if (font.text_width(s, size) <= max_w) return s;
  std::u32string cps = decode_utf8(s);
  while (!cps.empty()) {
    cps.pop_back();
    std::string t = encode_utf8(cps) + "…";
    if (font.text_width(t, size) <= max_w) return t;
  }
  return "…";
}

float widest(const Font& font, const std::vector<std::string>& labels, int64_t n, float size) {
  float w = 0;
  for (int64_t i = 0; i < n; ++i) w = std::max(w, font.text_width(label_at(labels, i), size));
  return std::min(w, kMaxLabelW);
}

std::string tick_text(float v) {
  return fmt::format("{:.3g}", v);
}

std::string value_text(float v) {
  return fmt::format("{:.2f}", v);
}

float cell_value(const Tensor& m, int64_t tk, int64_t i, int64_t j) {
  return m[i * tk + j];
}

// Fills the w × h pixel block at (x0, y0) with the map's cells; each pixel shows the largest
// weight of the cells it covers (one cell unless the cells are smaller than a pixel). Cells that
// are all exactly 0 are masked: lowest colour, hatched if `hatch`.
void draw_cells(Canvas& cv, const Tensor& map, int x0, int y0, int w, int h, float vmax,
                bool hatch) {
  const int64_t tq = map.dim(0), tk = map.dim(1);
  const auto uw = static_cast<size_t>(w);
  // Pixel column px covers cells [ja, jb); pixel row py covers rows [ia, ib).
  std::vector<int64_t> ja(uw), jb(uw);
  for (int64_t px = 0; px < w; ++px) {
    ja[static_cast<size_t>(px)] = std::min(tk - 1, px * tk / w);
    jb[static_cast<size_t>(px)] =
        std::max(ja[static_cast<size_t>(px)] + 1, std::min(tk, ((px + 1) * tk + w - 1) / w));
  }
  std::vector<Rgb> color(uw);
  std::vector<uint8_t> masked(uw);
  int64_t row_a = -1, row_b = -1;
  for (int64_t py = 0; py < h; ++py) {
    const int64_t ia = std::min(tq - 1, py * tq / h);
    const int64_t ib = std::max(ia + 1, std::min(tq, ((py + 1) * tq + h - 1) / h));
    if (ia != row_a || ib != row_b) {  // a new band of cells: colour one pixel row of it
      row_a = ia, row_b = ib;
      for (size_t px = 0; px < uw; ++px) {
        if (px > 0 && ja[px] == ja[px - 1] && jb[px] == jb[px - 1]) {
          color[px] = color[px - 1], masked[px] = masked[px - 1];
          continue;
        }
        float mx = -1.0f;
        bool nan = false, all_zero = true;
        for (int64_t i = ia; i < ib; ++i)
          for (int64_t j = ja[px]; j < jb[px]; ++j) {
            const float v = cell_value(map, tk, i, j);
            if (std::isnan(v)) nan = true;
            if (v != 0.0f) all_zero = false;
            mx = std::max(mx, v);
          }
        masked[px] = !nan && all_zero;
        color[px] = nan ? kNaN : colormap(mx / vmax);
      }
    }
    for (size_t px = 0; px < uw; ++px) {
      Rgb c = color[px];
      if (masked[px])
        c = hatch && (static_cast<int64_t>(px) + py) % kHatchPeriod == 0 ? kHatch : kColormapLow;
      cv.set(x0 + static_cast<int>(px), y0 + static_cast<int>(py), c);
    }
  }
}

std::string num(double v) {
  std::string s = fmt::format("{:.2f}", v);
  while (!s.empty() && s.back() == '0') s.pop_back();
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s == "-0" ? "0" : s;
}

std::string base64(std::string_view bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const uint32_t n = static_cast<uint32_t>(static_cast<unsigned char>(bytes[i])) << 16 |
                       static_cast<uint32_t>(static_cast<unsigned char>(bytes[i + 1])) << 8 |
                       static_cast<unsigned char>(bytes[i + 2]);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += kAlphabet[n & 63];
  }
  if (i < bytes.size()) {
    uint32_t n = static_cast<uint32_t>(static_cast<unsigned char>(bytes[i])) << 16;
    if (i + 1 < bytes.size())
      n |= static_cast<uint32_t>(static_cast<unsigned char>(bytes[i + 1])) << 8;
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += i + 1 < bytes.size() ? kAlphabet[(n >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

}  // namespace

HeatmapGrid heatmap_grid(std::string title, std::vector<std::string> row_labels,
                         std::vector<std::string> col_labels, std::vector<HeatmapPanel> panels,
                         int64_t cols) {
  HeatmapGrid g;
  g.title = std::move(title);
  g.row_labels = std::move(row_labels);
  g.col_labels = std::move(col_labels);
  ATTN_CHECK(cols >= 1, "heatmap grid '{}': cols must be ≥ 1, got {}", g.title, cols);
  const auto n = static_cast<int64_t>(panels.size());
  g.cols = std::min(cols, std::max<int64_t>(n, 1));
  g.rows = (n + g.cols - 1) / g.cols;
  ATTN_CHECK(n == g.rows * g.cols, "heatmap grid '{}': {} panels do not fill {} columns", g.title,
             n, g.cols);
  for (auto& p : panels) {
    g.panel_titles.push_back(std::move(p.title));
    g.panels.push_back(std::move(p.map));
  }
  return g;
}

void validate_heatmap_grid(const HeatmapGrid& g) {
  const std::string& t = g.title;
  ATTN_CHECK(!g.panels.empty(), "heatmap grid '{}' has no panels", t);
  ATTN_CHECK(
      g.rows >= 1 && g.cols >= 1 && g.rows <= kMaxPanelsPerSide && g.cols <= kMaxPanelsPerSide,
      "heatmap grid '{}': {} x {} panels is out of range (1..{} per side)", t, g.rows, g.cols,
      kMaxPanelsPerSide);
  ATTN_CHECK(static_cast<int64_t>(g.panels.size()) == g.rows * g.cols,
             "heatmap grid '{}': {} panels for a {} x {} layout", t, g.panels.size(), g.rows,
             g.cols);
  const Tensor& p0 = g.panels[0];
  ATTN_CHECK(p0.rank() == 2 && p0.dim(0) >= 1 && p0.dim(1) >= 1,
             "heatmap grid '{}': panel 0 has shape {}, expected a non-empty [Tq, Tk]", t,
             p0.shape_str());
  for (size_t i = 1; i < g.panels.size(); ++i)
    ATTN_CHECK(g.panels[i].shape() == p0.shape(),
               "heatmap grid '{}': panel {} has shape {}, panel 0 has {}", t, i,
               g.panels[i].shape_str(), p0.shape_str());
  ATTN_CHECK(g.row_labels.empty() || static_cast<int64_t>(g.row_labels.size()) == p0.dim(0),
             "heatmap grid '{}': {} row labels for Tq = {}", t, g.row_labels.size(), p0.dim(0));
  ATTN_CHECK(g.col_labels.empty() || static_cast<int64_t>(g.col_labels.size()) == p0.dim(1),
             "heatmap grid '{}': {} column labels for Tk = {}", t, g.col_labels.size(), p0.dim(1));
  ATTN_CHECK(g.row_titles.empty() || static_cast<int64_t>(g.row_titles.size()) == g.rows,
             "heatmap grid '{}': {} row titles for {} panel rows", t, g.row_titles.size(), g.rows);
  ATTN_CHECK(g.col_titles.empty() || static_cast<int64_t>(g.col_titles.size()) == g.cols,
             "heatmap grid '{}': {} column titles for {} panel columns", t, g.col_titles.size(),
             g.cols);
  ATTN_CHECK(g.panel_titles.empty() || g.panel_titles.size() == g.panels.size(),
             "heatmap grid '{}': {} panel titles for {} panels", t, g.panel_titles.size(),
             g.panels.size());
  ATTN_CHECK(std::isfinite(g.vmax) && g.vmax > 0.0f,
             "heatmap grid '{}': vmax must be finite and > 0, got {}", t, g.vmax);
}

int HeatmapLayout::cell_x0(int64_t c, int64_t j) const {
  return panel_x[static_cast<size_t>(c)] +
         static_cast<int>(std::floor(static_cast<double>(j) * cell));
}

int HeatmapLayout::cell_y0(int64_t r, int64_t i) const {
  return panel_y[static_cast<size_t>(r)] +
         static_cast<int>(std::floor(static_cast<double>(i) * cell));
}

HeatmapLayout heatmap_layout(const HeatmapGrid& g) {
  validate_heatmap_grid(g);
  const Font& font = *Font::default_font();
  HeatmapLayout L;
  L.tq = g.panels[0].dim(0);
  L.tk = g.panels[0].dim(1);
  const auto fz = [](float v) { return static_cast<int>(std::ceil(v)); };

  const int title_h = g.title.empty() ? 0 : fz(font.line_height(L.title_size)) + 4;
  const int subtitle_h = g.subtitle.empty() ? 0 : fz(font.line_height(L.subtitle_size));
  const int header_h = title_h + subtitle_h + (title_h + subtitle_h > 0 ? 12 : 0);
  const int ptitle_h = any_panel_title(g) ? fz(font.line_height(L.panel_title_size)) + 4 : 0;
  const float tick_w = std::max({font.text_width(tick_text(0), L.tick_size),
                                 font.text_width(tick_text(g.vmax / 2), L.tick_size),
                                 font.text_width(tick_text(g.vmax), L.tick_size)});
  const int right_w = kBarGap +
                      std::max(kBarW + 6 + fz(tick_w) + 10 + fz(font.line_height(L.tick_size)),
                               kBarW + 6 + fz(font.text_width(kMaskedCaption, L.tick_size))) +
                      kMargin;

  // Size the cells with labels at their largest size, then pick the label size.
  const int budget_lr = fz(widest(font, g.row_labels, L.tq, kBudgetLabelSize));
  const int budget_lc = fz(widest(font, g.col_labels, L.tk, kBudgetLabelSize));
  const double fixed_w =
      kMargin + budget_lr + kLabelGap + static_cast<double>(g.cols - 1) * kGapH + right_w;
  const double fixed_h = kMargin + header_h +
                         static_cast<double>(g.rows) * (ptitle_h + budget_lc + kLabelGap) +
                         static_cast<double>(g.rows - 1) * kGapV + kMargin;
  const double ncols = static_cast<double>(g.cols * L.tk),
               nrows = static_cast<double>(g.rows * L.tq);
  double cs =
      std::min({kMaxCell, (kTargetSide - fixed_w) / ncols, (kTargetSide - fixed_h) / nrows});
  if (cs < kReadableCell)
    cs = std::min({kReadableCell, std::max(kHardSide - fixed_w, 1000.0) / ncols,
                   std::max(kHardSide - fixed_h, 1000.0) / nrows});
  if (cs >= 2) cs = std::floor(cs);
  L.cell = cs;
  L.panel_w = std::max(1, static_cast<int>(std::lround(cs * static_cast<double>(L.tk))));
  L.panel_h = std::max(1, static_cast<int>(std::lround(cs * static_cast<double>(L.tq))));

  if (cs >= kLabelEveryCell) {
    L.label_size = static_cast<float>(std::clamp(cs * 0.72, 9.0, 13.0));
  } else {
    L.label_size = 9;
    const auto step = static_cast<int64_t>(std::ceil(11.0 / cs));
    L.row_label_step = L.col_label_step = std::max<int64_t>(1, step);
  }
  L.max_label_w = kMaxLabelW;
  L.show_values = cs >= kValueCell;
  const int lr = fz(widest(font, g.row_labels, L.tq, L.label_size));
  const int lc = fz(widest(font, g.col_labels, L.tk, L.label_size));

  int y = kMargin;
  L.title_y = y;
  y += title_h;
  L.subtitle_y = y;
  y = kMargin + header_h;
  for (int64_t r = 0; r < g.rows; ++r) {
    L.panel_title_y.push_back(y);
    y += ptitle_h + lc + kLabelGap;
    L.panel_y.push_back(y);
    y += L.panel_h + (r + 1 < g.rows ? kGapV : 0);
  }
  const int grid_bottom = y;
  const int x0 = kMargin + lr + kLabelGap;
  for (int64_t c = 0; c < g.cols; ++c)
    L.panel_x.push_back(x0 + static_cast<int>(c) * (L.panel_w + kGapH));
  const int grid_right = L.panel_x.back() + L.panel_w;

  L.bar_x = grid_right + kBarGap;
  L.bar_y = L.panel_y[0];
  L.bar_w = kBarW;
  L.bar_h = std::clamp(grid_bottom - L.bar_y, 120, 320);
  L.swatch_y = L.bar_y + L.bar_h + 18;

  const int content_w = grid_right + right_w;
  const int title_w = kMargin + fz(font.text_width(g.title, L.title_size)) + kMargin;
  const int subtitle_w = kMargin + fz(font.text_width(g.subtitle, L.subtitle_size)) + kMargin;
  L.width = std::max({content_w, std::min(title_w, static_cast<int>(kHardSide)),
                      std::min(subtitle_w, static_cast<int>(kHardSide))});
  L.height = std::max(grid_bottom, L.swatch_y + kBarW) + kMargin;
  return L;
}

Canvas render_heatmap(const HeatmapGrid& g) {
  const HeatmapLayout L = heatmap_layout(g);
  Canvas cv(L.width, L.height, kWhite);
  const Font& font = cv.font();
  const auto fw = static_cast<float>(L.width - 2 * kMargin);

  if (!g.title.empty())
    cv.text(kMargin, static_cast<float>(L.title_y), fit_text(font, g.title, L.title_size, fw),
            L.title_size, kInk);
  if (!g.subtitle.empty())
    cv.text(kMargin, static_cast<float>(L.subtitle_y),
            fit_text(font, g.subtitle, L.subtitle_size, fw), L.subtitle_size, kGreyInk);

  const float cs = static_cast<float>(L.cell);
  for (int64_t r = 0; r < g.rows; ++r) {
    const int py = L.panel_y[static_cast<size_t>(r)];
    // Query labels, left of the first panel column.
    for (int64_t i = 0; i < L.tq; i += L.row_label_step) {
      const std::string s = fit_text(font, label_at(g.row_labels, i), L.label_size, L.max_label_w);
      cv.text(static_cast<float>(L.panel_x[0] - kLabelGap),
              static_cast<float>(py) + (static_cast<float>(i) + 0.5f) * cs, s, L.label_size, kInk,
              HAlign::kRight, VAlign::kMiddle);
    }
    for (int64_t c = 0; c < g.cols; ++c) {
      const int px = L.panel_x[static_cast<size_t>(c)];
      const Tensor& map = g.panels[static_cast<size_t>(r * g.cols + c)];
      const std::string pt = panel_title(g, r, c);
      if (!pt.empty())
        cv.text(static_cast<float>(px) + static_cast<float>(L.panel_w) / 2,
                static_cast<float>(L.panel_title_y[static_cast<size_t>(r)]),
                fit_text(font, pt, L.panel_title_size, static_cast<float>(L.panel_w + kGapH - 4)),
                L.panel_title_size, kInk, HAlign::kCenter, VAlign::kTop);
      // Key labels, rotated to read upwards from just above the panel.
      for (int64_t j = 0; j < L.tk; j += L.col_label_step) {
        const std::string s =
            fit_text(font, label_at(g.col_labels, j), L.label_size, L.max_label_w);
        cv.text(static_cast<float>(px) + (static_cast<float>(j) + 0.5f) * cs,
                static_cast<float>(py - kLabelGap), s, L.label_size, kInk, HAlign::kLeft,
                VAlign::kMiddle, 90.0f);
      }
      cv.stroke_rect(px - 1, py - 1, L.panel_w + 2, L.panel_h + 2, kBorder);
      draw_cells(cv, map, px, py, L.panel_w, L.panel_h, g.vmax, true);
      if (L.show_values) {
        for (int64_t i = 0; i < L.tq; ++i)
          for (int64_t j = 0; j < L.tk; ++j) {
            const float v = cell_value(map, L.tk, i, j);
            if (v == 0.0f || std::isnan(v)) continue;
            cv.text(static_cast<float>(px) + (static_cast<float>(j) + 0.5f) * cs,
                    static_cast<float>(py) + (static_cast<float>(i) + 0.5f) * cs, value_text(v),
                    L.value_size, text_color_on(colormap(v / g.vmax)), HAlign::kCenter,
                    VAlign::kMiddle);
          }
      }
    }
  }

  // The colour bar: vmax at the top, 0 at the bottom.
  for (int y = 0; y < L.bar_h; ++y) {
    const float t = 1.0f - (static_cast<float>(y) + 0.5f) / static_cast<float>(L.bar_h);
    cv.fill_rect(L.bar_x, L.bar_y + y, L.bar_w, 1, colormap(t));
  }
  cv.stroke_rect(L.bar_x - 1, L.bar_y - 1, L.bar_w + 2, L.bar_h + 2, kBorder);
  float tick_w = 0;
  for (int k = 0; k <= 2; ++k) {
    const float v = g.vmax * static_cast<float>(k) / 2;
    const int ty = L.bar_y + static_cast<int>(std::lround((1.0 - k / 2.0) * (L.bar_h - 1)));
    cv.fill_rect(L.bar_x + L.bar_w, ty, 4, 1, kInk);
    cv.text(static_cast<float>(L.bar_x + L.bar_w + 6), static_cast<float>(ty) + 0.5f, tick_text(v),
            L.tick_size, kInk, HAlign::kLeft, VAlign::kMiddle);
    tick_w = std::max(tick_w, cv.text_width(tick_text(v), L.tick_size));
  }
  cv.text(static_cast<float>(L.bar_x + L.bar_w + 6) + tick_w + 10 + cv.line_height(L.tick_size) / 2,
          static_cast<float>(L.bar_y) + static_cast<float>(L.bar_h) / 2, g.bar_caption, L.tick_size,
          kInk, HAlign::kCenter, VAlign::kMiddle, 90.0f);
  // The masked-cell swatch.
  for (int y = 0; y < L.bar_w; ++y)
    for (int x = 0; x < L.bar_w; ++x)
      cv.set(L.bar_x + x, L.swatch_y + y, (x + y) % kHatchPeriod == 0 ? kHatch : kColormapLow);
  cv.stroke_rect(L.bar_x - 1, L.swatch_y - 1, L.bar_w + 2, L.bar_w + 2, kBorder);
  cv.text(static_cast<float>(L.bar_x + L.bar_w + 6),
          static_cast<float>(L.swatch_y) + static_cast<float>(L.bar_w) / 2, kMaskedCaption,
          L.tick_size, kInk, HAlign::kLeft, VAlign::kMiddle);
  return cv;
}

void write_heatmap_png(const std::string& path, const HeatmapGrid& g) {
  render_heatmap(g).save_png(path);
}

// ---------------------------------------------------------------------------------------------
// SVG

std::string heatmap_svg(const HeatmapGrid& g) {
  const HeatmapLayout L = heatmap_layout(g);
  const Font& font = *Font::default_font();
  const auto baseline = [&font](double top, float size) { return top + font.ascent(size); };
  const auto mid_baseline = [&font](double mid, float size) {
    return mid + (font.ascent(size) - font.descent(size)) / 2;
  };
  const bool vector_cells =
      static_cast<int64_t>(g.panels.size()) * L.tq * L.tk <= kSvgMaxVectorCells;
  const auto fw = static_cast<float>(L.width - 2 * kMargin);
  const double cs = L.cell;

  std::string s;
  s += "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  s += fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" "
      "viewBox=\"0 0 {0} {1}\" font-family=\"{2}\" fill=\"{3}\">\n",
      L.width, L.height, kFontFamily, to_hex(kInk));
  s += fmt::format("<title>{}</title>\n", escape_html(g.title));
  s += "<defs>\n";
  s += fmt::format(
      "<pattern id=\"masked\" patternUnits=\"userSpaceOnUse\" width=\"{0}\" height=\"{0}\">"
      "<rect width=\"{0}\" height=\"{0}\" fill=\"{1}\"/>"
      "<path d=\"M0,{0} L{0},0 M-1,1 L1,-1 M{2},{3} L{3},{2}\" stroke=\"{4}\" "
      "stroke-width=\"1\"/></pattern>\n",
      kHatchPeriod, to_hex(kColormapLow), kHatchPeriod - 1, kHatchPeriod + 1, to_hex(kHatch));
  s += "<linearGradient id=\"colorbar\" x1=\"0\" y1=\"1\" x2=\"0\" y2=\"0\">";
  for (int k = 0; k <= 16; ++k)
    s += fmt::format("<stop offset=\"{}\" stop-color=\"{}\"/>", num(k / 16.0),
                     colormap_hex(static_cast<float>(k) / 16.0f));
  s += "</linearGradient>\n</defs>\n";
  s += fmt::format("<rect width=\"{}\" height=\"{}\" fill=\"#ffffff\"/>\n", L.width, L.height);
  if (!g.title.empty())
    s += fmt::format("<text x=\"{}\" y=\"{}\" font-size=\"{}\">{}</text>\n", kMargin,
                     num(baseline(L.title_y, L.title_size)), num(L.title_size),
                     escape_html(fit_text(font, g.title, L.title_size, fw)));
  if (!g.subtitle.empty())
    s +=
        fmt::format("<text x=\"{}\" y=\"{}\" font-size=\"{}\" fill=\"{}\">{}</text>\n", kMargin,
                    num(baseline(L.subtitle_y, L.subtitle_size)), num(L.subtitle_size),
                    to_hex(kGreyInk), escape_html(fit_text(font, g.subtitle, L.subtitle_size, fw)));

  for (int64_t r = 0; r < g.rows; ++r) {
    const int py = L.panel_y[static_cast<size_t>(r)];
    s += fmt::format("<g font-size=\"{}\" text-anchor=\"end\">\n", num(L.label_size));
    for (int64_t i = 0; i < L.tq; i += L.row_label_step)
      s += fmt::format(
          "<text x=\"{}\" y=\"{}\">{}</text>\n", L.panel_x[0] - kLabelGap,
          num(mid_baseline(py + (static_cast<double>(i) + 0.5) * cs, L.label_size)),
          escape_html(fit_text(font, label_at(g.row_labels, i), L.label_size, L.max_label_w)));
    s += "</g>\n";
    for (int64_t c = 0; c < g.cols; ++c) {
      const int px = L.panel_x[static_cast<size_t>(c)];
      const Tensor& map = g.panels[static_cast<size_t>(r * g.cols + c)];
      s += fmt::format("<g class=\"panel\" id=\"panel-{}-{}\">\n", r, c);
      const std::string pt = panel_title(g, r, c);
      if (!pt.empty())
        s += fmt::format(
            "<text x=\"{}\" y=\"{}\" font-size=\"{}\" text-anchor=\"middle\">{}</text>\n",
            num(px + L.panel_w / 2.0),
            num(baseline(L.panel_title_y[static_cast<size_t>(r)], L.panel_title_size)),
            num(L.panel_title_size),
            escape_html(
                fit_text(font, pt, L.panel_title_size, static_cast<float>(L.panel_w + kGapH - 4))));
      s += fmt::format("<g font-size=\"{}\">\n", num(L.label_size));
      for (int64_t j = 0; j < L.tk; j += L.col_label_step) {
        const double x = px + (static_cast<double>(j) + 0.5) * cs;
        const double y = py - kLabelGap;
        // Rotated −90° about (x, y): the text reads upwards; its baseline is shifted so the
        // glyphs are centred on the column.
        s += fmt::format(
            "<text x=\"{0}\" y=\"{1}\" transform=\"rotate(-90 {0} {1})\" dy=\"{2}\">{3}</text>\n",
            num(x), num(y), num((font.ascent(L.label_size) - font.descent(L.label_size)) / 2),
            escape_html(fit_text(font, label_at(g.col_labels, j), L.label_size, L.max_label_w)));
      }
      s += "</g>\n";
      s += fmt::format(
          "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"{}\"/>\n",
          num(px - 0.5), num(py - 0.5), L.panel_w + 1, L.panel_h + 1, to_hex(kBorder));
      if (vector_cells) {
        s += "<g shape-rendering=\"crispEdges\">\n";
        for (int64_t i = 0; i < L.tq; ++i) {
          const std::string q = label_at(g.row_labels, i);
          for (int64_t j = 0; j < L.tk; ++j) {
            const float v = cell_value(map, L.tk, i, j);
            const bool masked = v == 0.0f;
            const std::string fill = std::isnan(v) ? to_hex(kNaN)
                                     : masked      ? std::string("url(#masked)")
                                                   : colormap_hex(v / g.vmax);
            const int x0 = L.cell_x0(c, j), y0 = L.cell_y0(r, i);
            s += fmt::format(
                "<rect class=\"cell\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{}\">"
                "<title>{} → {}: {:.3f}{}</title></rect>\n",
                x0, y0, std::max(1, L.cell_x0(c, j + 1) - x0),
                std::max(1, L.cell_y0(r, i + 1) - y0), fill, escape_html(q),
                escape_html(label_at(g.col_labels, j)), v, masked ? " (masked)" : "");
          }
        }
        s += "</g>\n";
        if (L.show_values) {
          s += fmt::format("<g font-size=\"{}\" text-anchor=\"middle\">\n", num(L.value_size));
          for (int64_t i = 0; i < L.tq; ++i)
            for (int64_t j = 0; j < L.tk; ++j) {
              const float v = cell_value(map, L.tk, i, j);
              if (v == 0.0f || std::isnan(v)) continue;
              s += fmt::format(
                  "<text x=\"{}\" y=\"{}\" fill=\"{}\">{}</text>\n",
                  num(px + (static_cast<double>(j) + 0.5) * cs),
                  num(mid_baseline(py + (static_cast<double>(i) + 0.5) * cs, L.value_size)),
                  to_hex(text_color_on(colormap(v / g.vmax))), value_text(v));
            }
          s += "</g>\n";
        }
      } else {
        // Too many cells for one element each: the panel's cells as a PNG, one pixel per cell
        // (pooled by max beyond 4096 per side), scaled up without smoothing.
        const int iw = static_cast<int>(std::min<int64_t>(L.tk, 4096));
        const int ih = static_cast<int>(std::min<int64_t>(L.tq, 4096));
        Canvas img(iw, ih, kWhite);
        draw_cells(img, map, 0, 0, iw, ih, g.vmax, false);
        s += fmt::format(
            "<image x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" preserveAspectRatio=\"none\" "
            "style=\"image-rendering:pixelated\" href=\"data:image/png;base64,{}\"/>\n",
            px, py, L.panel_w, L.panel_h, base64(img.encode_png()));
      }
      s += "</g>\n";
    }
  }

  // The colour bar and the masked swatch.
  s += fmt::format(
      "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"url(#colorbar)\" "
      "stroke=\"{}\"/>\n",
      L.bar_x, L.bar_y, L.bar_w, L.bar_h, to_hex(kBorder));
  float tick_w = 0;
  s += fmt::format("<g font-size=\"{}\">\n", num(L.tick_size));
  for (int k = 0; k <= 2; ++k) {
    const float v = g.vmax * static_cast<float>(k) / 2;
    const double ty = L.bar_y + (1.0 - k / 2.0) * L.bar_h;
    s += fmt::format("<path d=\"M{} {}h4\" stroke=\"{}\"/>", L.bar_x + L.bar_w, num(ty),
                     to_hex(kInk));
    s += fmt::format("<text x=\"{}\" y=\"{}\">{}</text>\n", L.bar_x + L.bar_w + 6,
                     num(mid_baseline(ty, L.tick_size)), tick_text(v));
    tick_w = std::max(tick_w, font.text_width(tick_text(v), L.tick_size));
  }
  const double cx = L.bar_x + L.bar_w + 6 + static_cast<double>(tick_w) + 10 +
                    static_cast<double>(font.line_height(L.tick_size)) / 2;
  const double cy = L.bar_y + L.bar_h / 2.0;
  s += fmt::format(
      "<text x=\"{0}\" y=\"{1}\" transform=\"rotate(-90 {0} {1})\" text-anchor=\"middle\" "
      "dy=\"{2}\">{3}</text>\n",
      num(cx), num(cy), num((font.ascent(L.tick_size) - font.descent(L.tick_size)) / 2),
      escape_html(g.bar_caption));
  s += fmt::format(
      "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"url(#masked)\" stroke=\"{}\"/>\n",
      L.bar_x, L.swatch_y, L.bar_w, L.bar_w, to_hex(kBorder));
  s += fmt::format("<text x=\"{}\" y=\"{}\">{}</text>\n", L.bar_x + L.bar_w + 6,
                   num(mid_baseline(L.swatch_y + L.bar_w / 2.0, L.tick_size)), kMaskedCaption);
  s += "</g>\n</svg>\n";
  return s;
}

void write_heatmap_svg(const std::string& path, const HeatmapGrid& g) {
  write_file_atomically(path, heatmap_svg(g));
}

}  // namespace attnscope
