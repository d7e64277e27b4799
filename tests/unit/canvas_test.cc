// Canvas, Font, the colormap and PNG output: pixels land where asked, text has ink where its
// box is, rotated text is rotated, PNG files are real PNGs (signature, IHDR, decodable), failures
// name the path, and a missing font falls back instead of failing.
#include "inspect/canvas.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

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

// Bounding box of pixels that differ from white: {x0, y0, x1, y1} (inclusive), or all -1.
struct Box {
  int x0 = -1, y0 = -1, x1 = -1, y1 = -1;
  bool empty() const { return x0 < 0; }
  int w() const { return x1 - x0 + 1; }
  int h() const { return y1 - y0 + 1; }
};
Box ink_box(const Canvas& c) {
  Box b;
  for (int y = 0; y < c.height(); ++y)
    for (int x = 0; x < c.width(); ++x)
      if (!(c.at(x, y) == kWhite)) {
        if (b.empty()) b = {x, y, x, y};
        b.x0 = std::min(b.x0, x), b.y0 = std::min(b.y0, y);
        b.x1 = std::max(b.x1, x), b.y1 = std::max(b.y1, y);
      }
  return b;
}

class CanvasTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           ("attnscope_canvas_" + std::to_string(::getpid()) + "_" + info->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  fs::path dir_;
};

TEST(CanvasUtf8, DecodesAndReplacesMalformedBytes) {
  EXPECT_EQ(decode_utf8("aé▁😀"), (std::u32string{U'a', U'é', U'▁', U'😀'}));
  EXPECT_EQ(decode_utf8("a\xff"), (std::u32string{U'a', 0xFFFD}));
  EXPECT_EQ(decode_utf8("\xc3"), std::u32string{0xFFFD});                // truncated
  EXPECT_EQ(decode_utf8("\xc0\xaf"), (std::u32string{0xFFFD, 0xFFFD}));  // overlong
  EXPECT_EQ(decode_utf8("\xed\xa0\x80").front(), char32_t{0xFFFD});      // surrogate
  const std::string s = "ção ▁livro → 😀";
  EXPECT_EQ(encode_utf8(decode_utf8(s)), s);
}

TEST(Colormap, EndsMonotoneAndHex) {
  EXPECT_EQ(colormap(0.0f), kColormapLow);
  EXPECT_EQ(colormap(1.0f), kColormapHigh);
  EXPECT_EQ(colormap(-3.0f), kColormapLow);
  EXPECT_EQ(colormap(7.0f), kColormapHigh);
  EXPECT_EQ(colormap(std::nanf("")), kColormapLow);
  // Light = low: luminance falls steadily from 0 to 1.
  float prev = luminance(colormap(0.0f));
  EXPECT_GT(prev, 0.9f);
  for (int i = 1; i <= 100; ++i) {
    const float l = luminance(colormap(static_cast<float>(i) / 100.0f));
    EXPECT_LT(l, prev) << "at " << i;
    prev = l;
  }
  EXPECT_LT(prev, 0.03f);
  EXPECT_EQ(to_hex({255, 16, 1}), "#ff1001");
  EXPECT_EQ(colormap_hex(0.0f), "#ffffd9");
  EXPECT_EQ(colormap_hex(1.0f), "#081d58");
  EXPECT_EQ(text_color_on(kColormapLow), kBlack);
  EXPECT_EQ(text_color_on(kColormapHigh), kWhite);
}

TEST_F(CanvasTest, RejectsBadSizes) {
  EXPECT_THROW(Canvas(0, 10), Error);
  EXPECT_THROW(Canvas(10, -1), Error);
  EXPECT_THROW(Canvas(Canvas::kMaxSide + 1, 10), Error);
}

TEST_F(CanvasTest, FillRectClipsAndSetsExactPixels) {
  Canvas c(20, 10, kWhite);
  c.fill_rect(-5, 2, 10, 3, {10, 20, 30});
  c.fill_rect(18, 8, 10, 10, {1, 2, 3});  // mostly outside
  EXPECT_EQ(c.at(0, 2), (Rgb{10, 20, 30}));
  EXPECT_EQ(c.at(4, 4), (Rgb{10, 20, 30}));
  EXPECT_EQ(c.at(5, 2), kWhite);
  EXPECT_EQ(c.at(4, 5), kWhite);
  EXPECT_EQ(c.at(19, 9), (Rgb{1, 2, 3}));
  EXPECT_EQ(c.at(17, 9), kWhite);
  c.set(100, 100, kBlack);  // ignored, no crash
  c.blend(3, 0, kBlack, 0.5f);
  EXPECT_EQ(c.at(3, 0), (Rgb{128, 128, 128}));
}

TEST_F(CanvasTest, LineStaysNearItsSegment) {
  Canvas c(50, 50, kWhite);
  c.line(5.5f, 20.5f, 44.5f, 20.5f, kBlack, 1.0f);
  EXPECT_EQ(c.at(25, 20), kBlack);
  const Box b = ink_box(c);
  EXPECT_GE(b.x0, 4);
  EXPECT_LE(b.x1, 45);
  EXPECT_GE(b.y0, 19);
  EXPECT_LE(b.y1, 21);
  Canvas d(50, 50, kWhite);
  d.line(5, 5, 45, 45, kBlack, 2.0f);
  EXPECT_EQ(d.at(25, 25), kBlack);
  EXPECT_EQ(d.at(40, 10), kWhite);
}

TEST_F(CanvasTest, TextInkStaysInItsBoxAndFollowsAlignment) {
  Canvas c(300, 60, kWhite);
  const float size = 16;
  const std::string s = "Hello, livro";
  c.text(20, 10, s, size, kBlack);
  const Box b = ink_box(c);
  ASSERT_FALSE(b.empty());
  const float w = c.text_width(s, size);
  EXPECT_GT(w, 60.0f);
  EXPECT_GE(b.x0, 19);
  EXPECT_LE(b.x1, 20 + static_cast<int>(std::ceil(w)) + 1);
  EXPECT_GE(b.y0, 10);
  EXPECT_LE(b.y1, 10 + static_cast<int>(std::ceil(c.line_height(size))) + 1);
  EXPECT_GT(b.w(), static_cast<int>(w) - 6);  // ink spans the advance width (less side bearings)

  Canvas r(300, 60, kWhite);
  r.text(280, 10, s, size, kBlack, HAlign::kRight, VAlign::kTop);
  const Box br = ink_box(r);
  EXPECT_LE(br.x1, 281);
  EXPECT_GE(br.x1, 270);
  Canvas m(300, 60, kWhite);
  m.text(150, 30, s, size, kBlack, HAlign::kCenter, VAlign::kMiddle);
  const Box bm = ink_box(m);
  EXPECT_NEAR((bm.x0 + bm.x1) / 2.0, 150.0, 3.0);
  EXPECT_NEAR((bm.y0 + bm.y1) / 2.0, 30.0, 4.0);
}

TEST_F(CanvasTest, RotatedTextIsRotated) {
  const std::string s = "primeiro livro";
  Canvas h(200, 200, kWhite), v(200, 200, kWhite), d(200, 200, kWhite);
  h.text(20, 100, s, 14, kBlack, HAlign::kLeft, VAlign::kMiddle);
  v.text(100, 180, s, 14, kBlack, HAlign::kLeft, VAlign::kMiddle, 90.0f);
  d.text(40, 160, s, 14, kBlack, HAlign::kLeft, VAlign::kMiddle, 45.0f);
  const Box bh = ink_box(h), bv = ink_box(v), bd = ink_box(d);
  ASSERT_FALSE(bh.empty() || bv.empty() || bd.empty());
  // 90°: as tall as the horizontal one is wide, reading upwards from the anchor.
  EXPECT_NEAR(bv.h(), bh.w(), 2);
  EXPECT_NEAR(bv.w(), bh.h(), 2);
  EXPECT_LE(bv.y1, 181);
  EXPECT_LT(bv.y0, 100);
  EXPECT_NEAR((bv.x0 + bv.x1) / 2.0, 100.0, 4.0);
  // 45°: a square-ish box, rising to the right.
  EXPECT_NEAR(bd.w(), bd.h(), 12);
  EXPECT_GT(bd.w(), bh.w() / 2);
  EXPECT_LE(bd.y1, 170);
  EXPECT_GE(bd.x0, 35);
}

TEST_F(CanvasTest, UnicodeTextDrawsWithTheTrueTypeFont) {
  auto font = Font::default_font();
  if (!font->is_truetype()) GTEST_SKIP() << "fonts-dejavu-core is not installed";
  // Accents and SentencePiece's ▁ have their own glyphs (not the '?' stand-in).
  for (const char* s : {"é", "ç", "ã", "▁"}) {
    const TextMask a = font->render(s, 20), q = font->render("?", 20);
    EXPECT_NE(a.alpha, q.alpha) << s;
    EXPECT_GT(std::count_if(a.alpha.begin(), a.alpha.end(), [](uint8_t x) { return x > 128; }), 3)
        << s;
  }
  Canvas c(200, 40, kWhite);
  c.text(5, 5, "▁ção → 😀 \xff", 16, kBlack);  // unknown glyphs and bad bytes: no crash
  EXPECT_FALSE(ink_box(c).empty());
}

TEST_F(CanvasTest, MissingFontFallsBackToAsciiAndNeverFails) {
  auto fb = Font::load(path("no-such-font.ttf"));
  EXPECT_FALSE(fb->is_truetype());
  EXPECT_EQ(fb->path(), "");
  // A file that is not a font falls back too.
  std::ofstream(path("junk.ttf")) << "not a font";
  EXPECT_FALSE(Font::load(path("junk.ttf"))->is_truetype());

  Canvas c(200, 40, kWhite, fb);
  c.text(5, 5, "Olá ção ▁x", 14, kBlack);
  const Box b = ink_box(c);
  ASSERT_FALSE(b.empty());
  EXPECT_LE(b.y1, 5 + static_cast<int>(std::ceil(fb->line_height(14))) + 1);
  // Non-ASCII shows as '?': "é" and "?" draw the same strokes.
  EXPECT_EQ(fb->render("é", 14).alpha, fb->render("?", 14).alpha);
  EXPECT_FLOAT_EQ(fb->text_width("ção", 14), fb->text_width("??o", 14));
  Canvas r(100, 100, kWhite, fb);
  r.text(50, 90, "abc", 12, kBlack, HAlign::kLeft, VAlign::kMiddle, 90.0f);
  const Box br = ink_box(r);
  ASSERT_FALSE(br.empty());
  EXPECT_GT(br.h(), br.w());
}

TEST_F(CanvasTest, SavesARealPngAtomically) {
  Canvas c(37, 23, kWhite);
  c.fill_rect(0, 0, 10, 5, {200, 10, 30});
  c.text(2, 8, "ok", 10, kBlack);
  const std::string p = path("a.png");
  c.save_png(p);
  EXPECT_TRUE(test::temp_files_beside(p).empty());
  const std::string b = read_bytes(p);
  ASSERT_GE(b.size(), 33u);
  EXPECT_EQ(b.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  EXPECT_EQ(b.substr(12, 4), "IHDR");
  EXPECT_EQ(be32(b, 16), 37u);
  EXPECT_EQ(be32(b, 20), 23u);
  EXPECT_EQ(c.encode_png(), b);

  const Image img = read_png(p);
  ASSERT_EQ(img.width, 37);
  ASSERT_EQ(img.height, 23);
  EXPECT_EQ(img.rgb, c.rgb());
  EXPECT_EQ(img.at(3, 3), (Rgb{200, 10, 30}));
  EXPECT_EQ(img.at(30, 3), kWhite);
}

TEST_F(CanvasTest, SaveFailureNamesThePath) {
  Canvas c(4, 4);
  const std::string p = path("no-such-dir/x.png");
  try {
    c.save_png(p);
    FAIL() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(p));
  EXPECT_THROW(read_png(path("missing.png")), Error);
  std::ofstream(path("bad.png")) << "not a png";
  try {
    read_png(path("bad.png"));
    FAIL() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("bad.png"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace attnscope
