// Heatmap pictures: the PNG is a real PNG of the laid-out size, cells have the colour of their
// weight (masked cells the lowest colour, hatched), the title has ink, the SVG is balanced XML
// with one cell rect and one tooltip per cell and every label escaped, odd Unicode does not
// crash, huge inputs stay bounded, and bad grids are refused with a message that says why.
#include "inspect/heatmap.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/utf8.h"
#include "inspect/colormap.h"
#include "temp_files.h"

namespace attnscope {
namespace {

namespace fs = std::filesystem;

std::string read_bytes(const std::string& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

uint32_t be32(const std::string& b, size_t at) {
  return static_cast<uint32_t>(static_cast<unsigned char>(b[at])) << 24 |
         static_cast<uint32_t>(static_cast<unsigned char>(b[at + 1])) << 16 |
         static_cast<uint32_t>(static_cast<unsigned char>(b[at + 2])) << 8 |
         static_cast<uint32_t>(static_cast<unsigned char>(b[at + 3]));
}

size_t count_of(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t at = s.find(what); at != std::string::npos; at = s.find(what, at + what.size())) ++n;
  return n;
}

std::string error_of(const HeatmapGrid& g) {
  try {
    heatmap_layout(g);
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

// A causal map [T, T]: row i spreads over keys 0..i (the last key gets half), 0 above.
Tensor causal_map(int64_t t, int64_t seed = 0) {
  Tensor m({t, t});
  for (int64_t i = 0; i < t; ++i) {
    double sum = 0;
    std::vector<double> w(static_cast<size_t>(i + 1));
    for (int64_t j = 0; j <= i; ++j)
      sum += w[static_cast<size_t>(j)] = 1.0 + static_cast<double>((i * 7 + j * 3 + seed) % 5);
    for (int64_t j = 0; j <= i; ++j)
      m[i * t + j] = static_cast<float>(w[static_cast<size_t>(j)] / sum);
  }
  return m;
}

HeatmapGrid causal_grid(int64_t rows, int64_t cols, int64_t t) {
  HeatmapGrid g;
  g.title = "decoder self-attention — este é o primeiro livro";
  for (int64_t i = 0; i < t; ++i) g.row_labels.push_back("▁tok" + std::to_string(i));
  g.col_labels = g.row_labels;
  g.rows = rows;
  g.cols = cols;
  for (int64_t r = 0; r < rows; ++r) g.row_titles.push_back("layer " + std::to_string(r));
  for (int64_t c = 0; c < cols; ++c) g.col_titles.push_back("head " + std::to_string(c));
  for (int64_t p = 0; p < rows * cols; ++p) g.panels.push_back(causal_map(t, p));
  return g;
}

// Balanced tags: every <x ...> is closed by </x> in order; <?...?>, <!...> and <x/> stand alone.
bool balanced_xml(const std::string& s, std::string* why) {
  std::vector<std::string> stack;
  size_t at = 0;
  while ((at = s.find('<', at)) != std::string::npos) {
    const size_t end = s.find('>', at);
    if (end == std::string::npos) return *why = "unterminated tag", false;
    const std::string tag = s.substr(at + 1, end - at - 1);
    at = end + 1;
    if (tag.empty()) return *why = "empty tag", false;
    if (tag[0] == '?' || tag[0] == '!') continue;
    if (tag.back() == '/') continue;
    if (tag[0] == '/') {
      const std::string name = tag.substr(1);
      if (stack.empty() || stack.back() != name)
        return *why = "</" + name + "> closes " + (stack.empty() ? "nothing" : stack.back()), false;
      stack.pop_back();
      continue;
    }
    stack.push_back(tag.substr(0, tag.find_first_of(" \t\n")));
  }
  if (!stack.empty()) return *why = "<" + stack.back() + "> is never closed", false;
  return true;
}

class HeatmapTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           ("attnscope_heatmap_" + std::to_string(::getpid()) + "_" + info->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  fs::path dir_;
};

TEST_F(HeatmapTest, PngIsAValidImageOfTheLayoutSize) {
  const HeatmapGrid g = causal_grid(2, 3, 7);
  const HeatmapLayout L = heatmap_layout(g);
  const std::string p = path("h.png");
  write_heatmap_png(p, g);
  const std::string b = read_bytes(p);
  ASSERT_GE(b.size(), 33u);
  EXPECT_EQ(b.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  EXPECT_EQ(b.substr(12, 4), "IHDR");
  EXPECT_EQ(be32(b, 16), static_cast<uint32_t>(L.width));
  EXPECT_EQ(be32(b, 20), static_cast<uint32_t>(L.height));
  const Image img = read_png(p);
  EXPECT_EQ(img.width, L.width);
  EXPECT_EQ(img.height, L.height);
  EXPECT_TRUE(test::temp_files_beside(p).empty());
}

TEST_F(HeatmapTest, CellsHaveTheColourOfTheirWeight) {
  HeatmapGrid g;
  g.title = "colours";
  g.row_labels = {"a", "b"};
  g.col_labels = {"x", "y", "z"};
  g.panels = {Tensor::from({2, 3}, {1.0f, 0.0f, 0.0f, 0.25f, 0.5f, 0.25f})};
  const HeatmapLayout L = heatmap_layout(g);
  ASSERT_GE(L.cell, 10.0);
  const std::string p = path("c.png");
  write_heatmap_png(p, g);
  const Image img = read_png(p);
  // Near the cell's corner (numbers printed in big cells sit in the middle).
  auto corner = [&](int64_t i, int64_t j) {
    return img.at(L.cell_x0(0, j) + 2, L.cell_y0(0, i) + 2);
  };
  EXPECT_EQ(corner(0, 0), kColormapHigh);
  EXPECT_EQ(corner(1, 1), colormap(0.5f));
  EXPECT_EQ(corner(1, 0), colormap(0.25f));
  // A zero (masked) cell: the lowest colour, crossed by the hatch, nothing else.
  std::map<std::tuple<int, int, int>, int> seen;
  const int cs = static_cast<int>(L.cell);
  for (int y = 0; y < cs; ++y)
    for (int x = 0; x < cs; ++x) {
      const Rgb c = img.at(L.cell_x0(0, 2) + x, L.cell_y0(0, 0) + y);
      ++seen[{c.r, c.g, c.b}];
    }
  ASSERT_EQ(seen.size(), 2u) << "masked cells are the lowest colour plus the hatch";
  const int low = seen[{kColormapLow.r, kColormapLow.g, kColormapLow.b}];
  EXPECT_GT(low, cs * cs * 3 / 4);
  EXPECT_LT(low, cs * cs);

  // vmax rescales: 0.5 of vmax 0.5 is the top colour.
  g.vmax = 0.5f;
  const Canvas c = render_heatmap(g);
  EXPECT_EQ(c.at(L.cell_x0(0, 1) + 2, L.cell_y0(0, 1) + 2), kColormapHigh);
  EXPECT_EQ(c.at(L.cell_x0(0, 0) + 2, L.cell_y0(0, 1) + 2), colormap(0.5f));
}

TEST_F(HeatmapTest, TitleLabelsAndColourBarHaveInk) {
  const HeatmapGrid g = causal_grid(1, 2, 6);
  const HeatmapLayout L = heatmap_layout(g);
  const Canvas c = render_heatmap(g);
  auto dark_pixels = [&](int x0, int y0, int x1, int y1) {
    int n = 0;
    for (int y = std::max(0, y0); y < std::min(c.height(), y1); ++y)
      for (int x = std::max(0, x0); x < std::min(c.width(), x1); ++x)
        if (luminance(c.at(x, y)) < 0.15f) ++n;
    return n;
  };
  const int title_h = static_cast<int>(std::ceil(c.line_height(L.title_size)));
  EXPECT_GT(dark_pixels(0, L.title_y, c.width(), L.title_y + title_h), 50);
  // Query labels left of the first panel, key labels above each panel.
  EXPECT_GT(dark_pixels(0, L.panel_y[0], L.panel_x[0] - 2, L.panel_y[0] + L.panel_h), 20);
  for (int x : L.panel_x)
    EXPECT_GT(dark_pixels(x, L.panel_title_y[0] + 18, x + L.panel_w, L.panel_y[0] - 2), 20);
  // The colour bar runs from the top colour to the bottom colour.
  EXPECT_EQ(c.at(L.bar_x + L.bar_w / 2, L.bar_y),
            colormap(1.0f - 0.5f / static_cast<float>(L.bar_h)));
  EXPECT_EQ(c.at(L.bar_x + L.bar_w / 2, L.bar_y + L.bar_h - 1),
            colormap(0.5f / static_cast<float>(L.bar_h)));
  // Blank elsewhere: the margin is white.
  EXPECT_EQ(dark_pixels(0, c.height() - 8, c.width(), c.height()), 0);
}

TEST_F(HeatmapTest, SvgIsBalancedWithOneCellAndTooltipPerCell) {
  HeatmapGrid g = causal_grid(2, 2, 4);
  g.row_labels = {"<s>", "a&b", "\"q\" 'x'", "▁ção"};
  g.col_labels = {"▁este", "é", "</s>", "<pad>"};
  const std::string svg = heatmap_svg(g);
  std::string why;
  EXPECT_TRUE(balanced_xml(svg, &why)) << why;
  EXPECT_EQ(svg.rfind("<?xml version=\"1.0\" encoding=\"UTF-8\"?>", 0), 0u);
  EXPECT_NE(svg.find("xmlns=\"http://www.w3.org/2000/svg\""), std::string::npos);
  EXPECT_EQ(count_of(svg, "class=\"cell\""), 2u * 2u * 4u * 4u);
  EXPECT_EQ(count_of(svg, "<title>"), 2u * 2u * 4u * 4u + 1u);  // + the document's
  // Labels escaped, raw forms absent.
  for (const char* esc : {"&lt;s&gt;", "a&amp;b", "&quot;q&quot; &#39;x&#39;", "▁ção", "▁este",
                          "&lt;/s&gt;", "&lt;pad&gt;"})
    EXPECT_NE(svg.find(esc), std::string::npos) << esc;
  EXPECT_EQ(svg.find("<s>"), std::string::npos);
  EXPECT_EQ(svg.find("<pad>"), std::string::npos);
  EXPECT_EQ(svg.find("a&b"), std::string::npos);
  // Tooltips: "query → key: weight", masked cells say so.
  const float w = g.panels[0][1 * 4 + 0];
  char expect[128];
  std::snprintf(expect, sizeof expect, "<title>a&amp;b → ▁este: %.3f</title>",
                static_cast<double>(w));
  EXPECT_NE(svg.find(expect), std::string::npos) << expect;
  EXPECT_NE(svg.find("<title>&lt;s&gt; → é: 0.000 (masked)</title>"), std::string::npos);
  EXPECT_EQ(count_of(svg, "(masked)"), 4u * 6u);  // 6 masked cells per causal 4×4 panel
  EXPECT_NE(svg.find("attention weight"), std::string::npos);
  EXPECT_NE(svg.find("layer 1 · head 0"), std::string::npos);

  const std::string p = path("h.svg");
  write_heatmap_svg(p, g);
  EXPECT_EQ(read_bytes(p), svg);
}

TEST_F(HeatmapTest, OddUnicodeLabelsDoNotCrashAndStayValidUtf8) {
  HeatmapGrid g = causal_grid(1, 1, 5);
  g.title = "ção ▁ 😀 \xff\xfe título";
  g.row_labels = {"▁", "😀", "\xc3", "中文", "e\xcc\x81"};
  g.col_labels = {"", "\x01\x02", "▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁", "ok", "&"};
  const Canvas c = render_heatmap(g);
  EXPECT_GT(c.width(), 0);
  const std::string svg = heatmap_svg(g);
  EXPECT_EQ(encode_utf8(decode_utf8(svg)), svg) << "the SVG must be valid UTF-8";
  EXPECT_EQ(svg.find('\x01'), std::string::npos);
  std::string why;
  EXPECT_TRUE(balanced_xml(svg, &why)) << why;
  // The over-long label is shortened with an ellipsis in the picture, kept whole in tooltips.
  EXPECT_NE(svg.find("…</text>"), std::string::npos);
  EXPECT_NE(svg.find(g.col_labels[2] + ": "), std::string::npos);
}

TEST_F(HeatmapTest, SizeAdaptsToTheGrid) {
  // A 4 × 4 grid of 20 × 20 maps stays under 2500 px wide, with readable cells and all labels.
  const HeatmapLayout big = heatmap_layout(causal_grid(4, 4, 20));
  EXPECT_LT(big.width, 2500);
  EXPECT_GE(big.cell, 10.0);
  EXPECT_EQ(big.row_label_step, 1);
  // A small map gets big cells with their values printed.
  const HeatmapLayout small = heatmap_layout(causal_grid(1, 1, 5));
  EXPECT_GE(small.cell, 30.0);
  EXPECT_TRUE(small.show_values);
  EXPECT_FALSE(big.show_values);
}

TEST_F(HeatmapTest, HugeInputsAreBounded) {
  HeatmapGrid one = causal_grid(1, 1, 200);
  const HeatmapLayout L = heatmap_layout(one);
  EXPECT_GE(L.cell, 8.0);
  EXPECT_EQ(L.row_label_step, L.cell >= 10 ? 1 : 2);
  // Cells under 10 px label every k-th row and column.
  const HeatmapLayout L300 = heatmap_layout(causal_grid(1, 1, 300));
  EXPECT_GE(L300.cell, 8.0);
  EXPECT_LT(L300.cell, 10.0);
  EXPECT_GT(L300.row_label_step, 1);
  EXPECT_GT(L300.col_label_step, 1);
  const std::string p = path("big.png");
  write_heatmap_png(p, one);
  const std::string b = read_bytes(p);
  ASSERT_GE(b.size(), 24u);
  EXPECT_LE(be32(b, 16), 2600u);
  EXPECT_LE(be32(b, 20), 2600u);

  // Far more cells than pixels: still bounded, each pixel showing the largest weight it covers.
  HeatmapGrid huge;
  huge.title = "huge";
  huge.rows = 1;
  huge.cols = 2;
  for (int k = 0; k < 2; ++k) huge.panels.emplace_back(Shape{100, 5000}, 0.001f);
  huge.panels[0][0] = 1.0f;
  const HeatmapLayout H = heatmap_layout(huge);
  EXPECT_LT(H.cell, 1.0);
  EXPECT_LE(H.width, 4100);
  EXPECT_LE(H.height, 4100);
  const Canvas c = render_heatmap(huge);
  EXPECT_EQ(c.width(), H.width);
  EXPECT_EQ(c.at(H.panel_x[0], H.panel_y[0]), kColormapHigh);  // max pooling keeps the peak
  // The SVG embeds pictures instead of millions of rects.
  const std::string svg = heatmap_svg(huge);
  EXPECT_EQ(count_of(svg, "class=\"cell\""), 0u);
  EXPECT_EQ(count_of(svg, "<image "), 2u);
  EXPECT_LT(svg.size(), 8u << 20);
  std::string why;
  EXPECT_TRUE(balanced_xml(svg, &why)) << why;
}

TEST_F(HeatmapTest, BadGridsAreRefusedWithAReason) {
  HeatmapGrid empty;
  empty.title = "nothing";
  EXPECT_NE(error_of(empty).find("no panels"), std::string::npos) << error_of(empty);
  EXPECT_THROW(write_heatmap_png(path("e.png"), empty), Error);
  EXPECT_THROW(heatmap_svg(empty), Error);
  EXPECT_FALSE(fs::exists(path("e.png")));

  HeatmapGrid g = causal_grid(1, 2, 3);
  g.panels[1] = causal_map(4);
  EXPECT_NE(error_of(g).find("panel 1"), std::string::npos) << error_of(g);
  g = causal_grid(1, 2, 3);
  g.cols = 3;
  EXPECT_NE(error_of(g).find("2 panels"), std::string::npos) << error_of(g);
  g = causal_grid(1, 1, 3);
  g.row_labels.pop_back();
  EXPECT_NE(error_of(g).find("row labels"), std::string::npos) << error_of(g);
  g = causal_grid(1, 1, 3);
  g.col_labels.push_back("extra");
  EXPECT_NE(error_of(g).find("column labels"), std::string::npos) << error_of(g);
  g = causal_grid(1, 1, 3);
  g.vmax = 0;
  EXPECT_NE(error_of(g).find("vmax"), std::string::npos) << error_of(g);
  g = causal_grid(1, 1, 3);
  g.panels[0] = Tensor({3});
  EXPECT_NE(error_of(g).find("[Tq, Tk]"), std::string::npos) << error_of(g);
  g = causal_grid(1, 1, 3);
  g.row_titles = {"a", "b"};
  EXPECT_NE(error_of(g).find("row titles"), std::string::npos) << error_of(g);

  // Unwritable paths are named.
  const std::string bad = path("missing-dir/h.png");
  try {
    write_heatmap_png(bad, causal_grid(1, 1, 3));
    FAIL() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(bad), std::string::npos) << e.what();
  }
}

TEST_F(HeatmapTest, GridFromTitledPanelsAndDefaultLabels) {
  std::vector<HeatmapPanel> panels;
  for (int k = 0; k < 6; ++k) panels.push_back({"head " + std::to_string(k), causal_map(3)});
  // 6 panels do not fill rows of 4.
  try {
    heatmap_grid("t", {}, {}, panels, 4);
    FAIL() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("6 panels"), std::string::npos) << e.what();
  }
  const HeatmapGrid h = heatmap_grid("t", {}, {}, panels, 3);
  EXPECT_EQ(h.rows, 2);
  EXPECT_EQ(h.cols, 3);
  const std::string svg = heatmap_svg(h);
  EXPECT_NE(svg.find(">head 5</text>"), std::string::npos);
  EXPECT_NE(svg.find("<title>2 → 1: "), std::string::npos);  // index labels
}

}  // namespace
}  // namespace attnscope
