// Canvas: an RGB raster to draw attnscope's pictures on, saved as PNG.
//
// Text is UTF-8. It is drawn with DejaVu Sans through stb_truetype when Debian's
// fonts-dejavu-core is installed (/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf), so labels
// like "ção" or SentencePiece's "▁" come out as written; when the font file is missing, text
// falls back to stb_easy_font's built-in ASCII strokes (any other character shows as '?').
// Drawing text never fails.
//
// Coordinates are pixels, x to the right and y down; (0, 0) is the top-left corner. Drawing
// outside the canvas is clipped.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "inspect/colormap.h"

namespace attnscope {

// A greyscale coverage mask (0 = clear, 255 = full ink) of one line of text.
struct TextMask {
  int width = 0, height = 0;
  std::vector<uint8_t> alpha;     // [height, width]
  float origin_x = 0;             // where the pen started, in mask pixels
  float baseline = 0;             // the baseline's y, in mask pixels
  float ascent = 0, descent = 0;  // above / below the baseline (both ≥ 0)
};

class Font {
 public:
  static constexpr const char* kDefaultPath = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";
  // The font at ttf_path, or the built-in ASCII fallback when the file is missing or unreadable.
  static std::shared_ptr<const Font> load(const std::string& ttf_path);
  // load(kDefaultPath), loaded once per process.
  static std::shared_ptr<const Font> default_font();

  ~Font();
  Font(const Font&) = delete;
  Font& operator=(const Font&) = delete;

  bool is_truetype() const;
  const std::string& path() const { return path_; }  // empty for the fallback

  // size is the em size in pixels (a 12 px font has capitals about 9 px tall).
  float ascent(float size) const;
  float descent(float size) const;  // ≥ 0
  float line_height(float size) const { return ascent(size) + descent(size); }
  float text_width(std::string_view utf8, float size) const;
  TextMask render(std::string_view utf8, float size) const;

  struct Impl;

 private:
  Font() = default;
  std::string path_;
  std::unique_ptr<Impl> impl_;
};

enum class HAlign { kLeft, kCenter, kRight };
enum class VAlign { kTop, kMiddle, kBaseline, kBottom };

// A decoded image (for checks and tests).
struct Image {
  int width = 0, height = 0;
  std::vector<uint8_t> rgb;  // [height, width, 3]
  Rgb at(int x, int y) const {
    const size_t i = (static_cast<size_t>(y) * static_cast<size_t>(width) + x) * 3;
    return {rgb[i], rgb[i + 1], rgb[i + 2]};
  }
};

// Reads an 8-bit PNG as RGB; throws attnscope::Error naming the path when it cannot.
Image read_png(const std::string& path);

class Canvas {
 public:
  // Throws attnscope::Error unless 1 ≤ width, height ≤ kMaxSide.
  Canvas(int width, int height, Rgb background = kWhite,
         std::shared_ptr<const Font> font = Font::default_font());
  static constexpr int kMaxSide = 16384;

  int width() const { return width_; }
  int height() const { return height_; }
  const Font& font() const { return *font_; }
  const std::vector<uint8_t>& rgb() const { return rgb_; }  // [height, width, 3]
  Rgb at(int x, int y) const;                               // (x, y) must be inside

  void set(int x, int y, Rgb c);
  // Mixes c over the pixel with coverage alpha ∈ [0, 1].
  void blend(int x, int y, Rgb c, float alpha);
  void fill_rect(int x, int y, int w, int h, Rgb c);
  void stroke_rect(int x, int y, int w, int h, Rgb c, int thickness = 1);
  // A segment of the given width, with anti-aliased edges, between pixel-space points (pixel
  // (i, j) covers [i, i+1) × [j, j+1), so x = i + 0.5 is its centre).
  void line(float x0, float y0, float x1, float y1, Rgb c, float width = 1.0f);
  void fill_circle(float cx, float cy, float radius, Rgb c);

  // Draws one line of text of em size `size`. (x, y) is the anchor: the point of the text's
  // line box picked by h and v (kLeft/kTop = its top-left corner). angle_deg rotates the text
  // counter-clockwise about the anchor: 90 reads bottom to top, 45 rises to the right.
  void text(float x, float y, std::string_view utf8, float size, Rgb c, HAlign h = HAlign::kLeft,
            VAlign v = VAlign::kTop, float angle_deg = 0.0f);
  float text_width(std::string_view utf8, float size) const {
    return font_->text_width(utf8, size);
  }
  float line_height(float size) const { return font_->line_height(size); }

  // The PNG file's bytes.
  std::string encode_png() const;
  // Writes the PNG atomically (core/atomic_file.h); throws attnscope::Error naming the path on
  // failure.
  void save_png(const std::string& path) const;

 private:
  void draw_mask(const TextMask& m, float ax, float ay, float x, float y, Rgb c, float angle_deg);

  int width_, height_;
  std::vector<uint8_t> rgb_;
  std::shared_ptr<const Font> font_;
};

}  // namespace attnscope
