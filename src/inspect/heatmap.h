// Attention heatmaps as pictures: a grid of panels (layers × heads), one map [Tq, Tk] each,
// drawn as PNG (through Canvas) or as self-contained SVG with a tooltip on every cell.
//
// Layout, top to bottom: the title; a grey subtitle (by default it says how to read the
// picture); then one band per panel row: the panel titles ("layer 1 · head 2"), the key labels
// (rotated 90°, reading upwards from the panel's top edge) and the maps. Query labels sit left
// of the first column of panels. One colour bar on the right (0, vmax/2, vmax; "attention
// weight") serves every panel, with a swatch that explains the masked cells below it.
//
// Cells are square. Their size adapts to the grid: at most 36 px, and as large as fits a
// ~2400 px picture (a 4 × 4 grid of 20 × 20 maps stays under 2500 px wide); when that would
// make them smaller than 8 px the picture grows (to 4000 px at most) to keep 8 px, and past
// that cells shrink further, to below one pixel if they must, each pixel then showing the
// largest weight of the cells it covers. So any input gives a bounded picture. Labels are
// drawn for every cell when cells are ≥ 10 px, else for every k-th one; long labels end in "…".
// Cells of ≥ 30 px also print their weight.
//
// Masked cells. A weight of exactly 0 is what the attention kernel writes for a masked key
// (the look-ahead triangle, padding). Such cells are filled with the colormap's lowest colour,
// like a weight that merely rounds to 0, and crossed by a thin grey diagonal hatch, so a learner
// can tell "not allowed to look" from "chose not to look". The hatch is explained next to the
// colour bar. (In SVG the hatch is a <pattern>; tooltips add "(masked)".) Weights are clamped
// to [0, vmax] for colour; a NaN cell is drawn magenta so it cannot pass for a weight.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "inspect/canvas.h"

namespace attnscope {

struct HeatmapPanel {
  std::string title;
  Tensor map;  // [Tq, Tk] in [0, 1]
};

struct HeatmapGrid {
  std::string title;  // e.g. "cross-attention — este é o primeiro livro … → this is …"
  // A grey line under the title; empty for none.
  std::string subtitle =
      "rows: queries (the tokens that look) · columns: keys (the tokens looked at) · "
      "each row's weights sum to 1";
  std::vector<std::string> row_labels;              // query tokens (Tq); empty: 0, 1, 2, …
  std::vector<std::string> col_labels;              // key tokens (Tk); empty: 0, 1, 2, …
  int64_t rows = 1, cols = 1;                       // panel layout: layers × heads
  std::vector<std::string> row_titles, col_titles;  // "layer 0", "head 3" (or empty)
  std::vector<std::string> panel_titles;  // optional: rows·cols titles that replace the above
  std::vector<Tensor> panels;             // rows·cols maps [Tq, Tk], row-major
  float vmax = 1.0f;                      // one colour scale for all panels (0..vmax)
  std::string bar_caption = "attention weight";  // what the colour bar measures
};

// A grid of `cols` columns from titled panels (panel_titles taken from the panels).
HeatmapGrid heatmap_grid(std::string title, std::vector<std::string> row_labels,
                         std::vector<std::string> col_labels, std::vector<HeatmapPanel> panels,
                         int64_t cols);

// Throws attnscope::Error naming what is wrong: no panels, rows·cols ≠ panels, a panel that is
// not [Tq, Tk] like the first, label counts ≠ Tq / Tk, title counts, vmax not finite and > 0,
// more than 64 panel rows or columns.
void validate_heatmap_grid(const HeatmapGrid& g);

// Where everything goes (pixels; the PNG and the SVG share it).
struct HeatmapLayout {
  int width = 0, height = 0;
  int64_t tq = 0, tk = 0;
  double cell = 0;                 // cell side in pixels (may be < 1 for huge maps)
  int panel_w = 0, panel_h = 0;    // the cells' area of one panel
  std::vector<int> panel_x;        // per panel column: left edge of the cells
  std::vector<int> panel_y;        // per panel row: top edge of the cells
  std::vector<int> panel_title_y;  // per panel row: top of the panel titles' line
  int title_y = 0, subtitle_y = 0;
  float title_size = 20, subtitle_size = 13, panel_title_size = 13, label_size = 12, tick_size = 12,
        value_size = 10;
  int64_t row_label_step = 1, col_label_step = 1;  // label every k-th row / column
  float max_label_w = 0;                           // labels longer than this end in "…"
  bool show_values = false;
  int bar_x = 0, bar_y = 0, bar_w = 0, bar_h = 0;  // the colour bar
  int swatch_y = 0;                                // the masked-cell swatch (bar_w square)
  // The cell (i, j) of panel column c and row r: [x0, x1) × [y0, y1), in pixels.
  int cell_x0(int64_t c, int64_t j) const;
  int cell_y0(int64_t r, int64_t i) const;
};

// Validates, then lays out.
HeatmapLayout heatmap_layout(const HeatmapGrid& g);

// Renders the grid on a new canvas (validates first).
Canvas render_heatmap(const HeatmapGrid& g);
void write_heatmap_png(const std::string& path, const HeatmapGrid& g);

// The SVG text: self-contained, UTF-8, one <rect class="cell"> per cell with a <title> tooltip
// "query → key: 0.123". Grids of more than kSvgMaxVectorCells cells in all embed each panel's
// cells as a PNG image instead (no tooltips, no hatch), to stay a file a browser can open.
inline constexpr int64_t kSvgMaxVectorCells = 65536;
std::string heatmap_svg(const HeatmapGrid& g);
void write_heatmap_svg(const std::string& path, const HeatmapGrid& g);

}  // namespace attnscope
