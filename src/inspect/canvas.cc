#include "inspect/canvas.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <mutex>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/utf8.h"

// stb's single-file libraries: the implementations live here and nowhere else, with static
// linkage so they cannot clash with another copy. Their own warnings are not ours.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wall"
#pragma GCC diagnostic ignored "-Wextra"
#pragma GCC diagnostic ignored "-Wpedantic"
#pragma GCC diagnostic ignored "-Wshadow"
#pragma GCC diagnostic ignored "-Wconversion"
#pragma GCC diagnostic ignored "-Wsign-conversion"
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wdouble-promotion"
#pragma GCC diagnostic ignored "-Wcast-qual"
#pragma GCC diagnostic ignored "-Wold-style-cast"
#pragma GCC diagnostic ignored "-Wimplicit-fallthrough"
#define STB_IMAGE_WRITE_STATIC
#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STBI_WRITE_NO_STDIO
#include <stb/stb_image_write.h>
#define STB_IMAGE_STATIC
#define STB_IMAGE_IMPLEMENTATION
#define STBI_ONLY_PNG
#define STBI_NO_STDIO
#include <stb/stb_image.h>
#define STBTT_STATIC
#define STB_TRUETYPE_IMPLEMENTATION
#include <stb/stb_truetype.h>
#define STB_EASY_FONT_IMPLEMENTATION  // (stb_easy_font is all static inline already)
#include <stb/stb_easy_font.h>
#pragma GCC diagnostic pop

namespace attnscope {

// ---------------------------------------------------------------------------------------------
// Font

struct Font::Impl {
  std::vector<unsigned char> ttf;  // the file's bytes (stbtt reads them in place)
  stbtt_fontinfo info{};
  bool truetype = false;
  int ascent = 0, descent = 0;  // font units; descent ≤ 0 as stbtt reports it
  int fallback_glyph = 0;       // '?'

  float scale(float size) const { return stbtt_ScaleForMappingEmToPixels(&info, size); }
  int glyph(char32_t cp) const {
    if (cp == '\t' || cp == '\n' || cp == '\r') cp = ' ';
    const int g = stbtt_FindGlyphIndex(&info, static_cast<int>(cp));
    return g != 0 || cp == ' ' ? g : fallback_glyph;
  }
};

namespace {

// stb_easy_font draws ASCII with capitals 7 units tall above a baseline at y = 7 and
// descenders 2 units below. DejaVu's capitals are 0.729 em tall; scale to match.
constexpr float kEasyUnitsPerEm = 7.0f / 0.729f;
constexpr float kEasyAscent = 8.0f, kEasyDescent = 3.0f, kEasyBaseline = 7.0f;

std::string to_ascii(std::string_view utf8) {
  std::string out;
  for (char32_t cp : decode_utf8(utf8)) {
    if (cp == '\t' || cp == '\n' || cp == '\r') cp = ' ';
    out.push_back(cp >= 32 && cp < 127 ? static_cast<char>(cp) : '?');
  }
  return out;
}

}  // namespace

Font::~Font() = default;

std::shared_ptr<const Font> Font::load(const std::string& ttf_path) {
  std::shared_ptr<Font> f(new Font());
  f->impl_ = std::make_unique<Impl>();
  std::ifstream in(ttf_path, std::ios::binary);
  if (in) {
    std::vector<unsigned char> bytes((std::istreambuf_iterator<char>(in)),
                                     std::istreambuf_iterator<char>());
    Impl& im = *f->impl_;
    im.ttf = std::move(bytes);
    const int offset = im.ttf.empty() ? -1 : stbtt_GetFontOffsetForIndex(im.ttf.data(), 0);
    if (offset >= 0 && stbtt_InitFont(&im.info, im.ttf.data(), offset) != 0) {
      int gap = 0;
      stbtt_GetFontVMetrics(&im.info, &im.ascent, &im.descent, &gap);
      im.fallback_glyph = stbtt_FindGlyphIndex(&im.info, '?');
      im.truetype = im.ascent > 0;
    }
    if (im.truetype) {
      f->path_ = ttf_path;
    } else {
      im.ttf.clear();
    }
  }
  return f;
}

std::shared_ptr<const Font> Font::default_font() {
  static const std::shared_ptr<const Font> font = load(kDefaultPath);
  return font;
}

bool Font::is_truetype() const {
  return impl_->truetype;
}

float Font::ascent(float size) const {
  if (impl_->truetype) return static_cast<float>(impl_->ascent) * impl_->scale(size);
  return kEasyAscent * size / kEasyUnitsPerEm;
}

float Font::descent(float size) const {
  if (impl_->truetype) return -static_cast<float>(impl_->descent) * impl_->scale(size);
  return kEasyDescent * size / kEasyUnitsPerEm;
}

float Font::text_width(std::string_view utf8, float size) const {
  if (!impl_->truetype) {
    std::string ascii = to_ascii(utf8);
    if (ascii.empty()) return 0.0f;
    return static_cast<float>(stb_easy_font_width(ascii.data())) * size / kEasyUnitsPerEm;
  }
  const float scale = impl_->scale(size);
  float x = 0;
  int prev = -1;
  for (char32_t cp : decode_utf8(utf8)) {
    const int g = impl_->glyph(cp);
    if (prev >= 0)
      x += scale * static_cast<float>(stbtt_GetGlyphKernAdvance(&impl_->info, prev, g));
    int advance = 0, lsb = 0;
    stbtt_GetGlyphHMetrics(&impl_->info, g, &advance, &lsb);
    x += scale * static_cast<float>(advance);
    prev = g;
  }
  return x;
}

TextMask Font::render(std::string_view utf8, float size) const {
  constexpr int kPad = 2;
  TextMask m;
  m.ascent = ascent(size);
  m.descent = descent(size);
  const float width = text_width(utf8, size);
  m.width = static_cast<int>(std::ceil(width)) + 2 * kPad;
  m.height = static_cast<int>(std::ceil(m.ascent) + std::ceil(m.descent)) + 2 * kPad;
  m.origin_x = static_cast<float>(kPad);
  m.baseline = static_cast<float>(kPad) + std::ceil(m.ascent);
  m.alpha.assign(static_cast<size_t>(m.width) * static_cast<size_t>(m.height), 0);
  auto put = [&m](int x, int y, int a) {
    if (x < 0 || y < 0 || x >= m.width || y >= m.height || a <= 0) return;
    uint8_t& p = m.alpha[static_cast<size_t>(y) * static_cast<size_t>(m.width) + x];
    p = static_cast<uint8_t>(std::min(255, std::max(static_cast<int>(p), a)));
  };

  if (!impl_->truetype) {
    std::string ascii = to_ascii(utf8);
    if (ascii.empty()) return m;
    std::vector<char> buf(ascii.size() * 270 * 4 + 64);  // ≤ 30 quads × 4 vertices per char
    const int quads =
        stb_easy_font_print(0, 0, ascii.data(), nullptr, buf.data(), static_cast<int>(buf.size()));
    const float s = size / kEasyUnitsPerEm;
    std::vector<float> cover(m.alpha.size(), 0.0f);
    for (int q = 0; q < quads; ++q) {
      float v[16];
      std::memcpy(v, buf.data() + static_cast<size_t>(q) * 64, sizeof v);
      // Vertices are (x, y, z, rgba) × 4 of an axis-aligned rectangle.
      const float x0 = m.origin_x + std::min(v[0], v[8]) * s;
      const float x1 = m.origin_x + std::max(v[0], v[8]) * s;
      const float y0 = m.baseline + (std::min(v[1], v[9]) - kEasyBaseline) * s;
      const float y1 = m.baseline + (std::max(v[1], v[9]) - kEasyBaseline) * s;
      for (int y = std::max(0, static_cast<int>(y0));
           y < std::min(m.height, static_cast<int>(std::ceil(y1))); ++y) {
        const float cy =
            std::min(y1, static_cast<float>(y + 1)) - std::max(y0, static_cast<float>(y));
        for (int x = std::max(0, static_cast<int>(x0));
             x < std::min(m.width, static_cast<int>(std::ceil(x1))); ++x) {
          const float cx =
              std::min(x1, static_cast<float>(x + 1)) - std::max(x0, static_cast<float>(x));
          cover[static_cast<size_t>(y) * static_cast<size_t>(m.width) + x] += cx * cy;
        }
      }
    }
    for (size_t i = 0; i < cover.size(); ++i)
      m.alpha[i] = static_cast<uint8_t>(std::lround(255.0f * std::min(1.0f, cover[i])));
    return m;
  }

  const float scale = impl_->scale(size);
  float pen = 0;
  int prev = -1;
  const int base = static_cast<int>(m.baseline);
  for (char32_t cp : decode_utf8(utf8)) {
    const int g = impl_->glyph(cp);
    if (prev >= 0)
      pen += scale * static_cast<float>(stbtt_GetGlyphKernAdvance(&impl_->info, prev, g));
    const float pen_floor = std::floor(pen);
    int bw = 0, bh = 0, xoff = 0, yoff = 0;
    unsigned char* bmp = stbtt_GetGlyphBitmapSubpixel(&impl_->info, scale, scale, pen - pen_floor,
                                                      0.0f, g, &bw, &bh, &xoff, &yoff);
    if (bmp != nullptr) {
      const int gx = kPad + static_cast<int>(pen_floor) + xoff, gy = base + yoff;
      for (int y = 0; y < bh; ++y)
        for (int x = 0; x < bw; ++x) put(gx + x, gy + y, bmp[y * bw + x]);
      stbtt_FreeBitmap(bmp, nullptr);
    }
    int advance = 0, lsb = 0;
    stbtt_GetGlyphHMetrics(&impl_->info, g, &advance, &lsb);
    pen += scale * static_cast<float>(advance);
    prev = g;
  }
  return m;
}

// ---------------------------------------------------------------------------------------------
// Files

Image read_png(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("cannot read PNG {}: cannot open it", path);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  int w = 0, h = 0, n = 0;
  unsigned char* px = stbi_load_from_memory(reinterpret_cast<const unsigned char*>(bytes.data()),
                                            static_cast<int>(bytes.size()), &w, &h, &n, 3);
  if (px == nullptr) fail("cannot read PNG {}: {}", path, stbi_failure_reason());
  Image img;
  img.width = w;
  img.height = h;
  img.rgb.assign(px, px + static_cast<size_t>(w) * static_cast<size_t>(h) * 3);
  stbi_image_free(px);
  return img;
}

// ---------------------------------------------------------------------------------------------
// Canvas

Canvas::Canvas(int width, int height, Rgb background, std::shared_ptr<const Font> font)
    : width_(width), height_(height), font_(std::move(font)) {
  ATTN_CHECK(width >= 1 && height >= 1 && width <= kMaxSide && height <= kMaxSide,
             "canvas size {}x{} is out of range (1..{} per side)", width, height, kMaxSide);
  if (!font_) font_ = Font::default_font();
  rgb_.resize(static_cast<size_t>(width) * static_cast<size_t>(height) * 3);
  for (size_t i = 0; i < rgb_.size(); i += 3) {
    rgb_[i] = background.r;
    rgb_[i + 1] = background.g;
    rgb_[i + 2] = background.b;
  }
}

Rgb Canvas::at(int x, int y) const {
  const size_t i = (static_cast<size_t>(y) * static_cast<size_t>(width_) + x) * 3;
  return {rgb_[i], rgb_[i + 1], rgb_[i + 2]};
}

void Canvas::set(int x, int y, Rgb c) {
  if (x < 0 || y < 0 || x >= width_ || y >= height_) return;
  const size_t i = (static_cast<size_t>(y) * static_cast<size_t>(width_) + x) * 3;
  rgb_[i] = c.r;
  rgb_[i + 1] = c.g;
  rgb_[i + 2] = c.b;
}

void Canvas::blend(int x, int y, Rgb c, float alpha) {
  if (x < 0 || y < 0 || x >= width_ || y >= height_ || !(alpha > 0.0f)) return;
  if (alpha >= 1.0f) return set(x, y, c);
  const size_t i = (static_cast<size_t>(y) * static_cast<size_t>(width_) + x) * 3;
  auto mix = [alpha](uint8_t dst, uint8_t src) {
    return static_cast<uint8_t>(
        std::lround(static_cast<float>(dst) + (static_cast<float>(src) - dst) * alpha));
  };
  rgb_[i] = mix(rgb_[i], c.r);
  rgb_[i + 1] = mix(rgb_[i + 1], c.g);
  rgb_[i + 2] = mix(rgb_[i + 2], c.b);
}

void Canvas::fill_rect(int x, int y, int w, int h, Rgb c) {
  const int x0 = std::max(0, x), y0 = std::max(0, y);
  const int x1 = std::min(width_, x + std::max(0, w)), y1 = std::min(height_, y + std::max(0, h));
  for (int yy = y0; yy < y1; ++yy)
    for (int xx = x0; xx < x1; ++xx) set(xx, yy, c);
}

void Canvas::stroke_rect(int x, int y, int w, int h, Rgb c, int thickness) {
  fill_rect(x, y, w, thickness, c);
  fill_rect(x, y + h - thickness, w, thickness, c);
  fill_rect(x, y, thickness, h, c);
  fill_rect(x + w - thickness, y, thickness, h, c);
}

void Canvas::line(float x0, float y0, float x1, float y1, Rgb c, float width) {
  if (!std::isfinite(x0) || !std::isfinite(y0) || !std::isfinite(x1) || !std::isfinite(y1)) return;
  const float half = std::max(0.5f, width * 0.5f);
  const float dx = x1 - x0, dy = y1 - y0;
  const float len2 = dx * dx + dy * dy;
  const int bx0 = std::max(0, static_cast<int>(std::floor(std::min(x0, x1) - half - 1)));
  const int by0 = std::max(0, static_cast<int>(std::floor(std::min(y0, y1) - half - 1)));
  const int bx1 = std::min(width_ - 1, static_cast<int>(std::ceil(std::max(x0, x1) + half + 1)));
  const int by1 = std::min(height_ - 1, static_cast<int>(std::ceil(std::max(y0, y1) + half + 1)));
  for (int y = by0; y <= by1; ++y) {
    for (int x = bx0; x <= bx1; ++x) {
      const float px = static_cast<float>(x) + 0.5f, py = static_cast<float>(y) + 0.5f;
      float t = len2 > 0 ? ((px - x0) * dx + (py - y0) * dy) / len2 : 0.0f;
      t = std::clamp(t, 0.0f, 1.0f);
      const float ex = px - (x0 + t * dx), ey = py - (y0 + t * dy);
      const float d = std::sqrt(ex * ex + ey * ey);
      blend(x, y, c, std::clamp(half + 0.5f - d, 0.0f, 1.0f));
    }
  }
}

void Canvas::fill_circle(float cx, float cy, float radius, Rgb c) {
  if (!std::isfinite(cx) || !std::isfinite(cy) || !(radius > 0)) return;
  const int x0 = std::max(0, static_cast<int>(std::floor(cx - radius - 1)));
  const int y0 = std::max(0, static_cast<int>(std::floor(cy - radius - 1)));
  const int x1 = std::min(width_ - 1, static_cast<int>(std::ceil(cx + radius + 1)));
  const int y1 = std::min(height_ - 1, static_cast<int>(std::ceil(cy + radius + 1)));
  for (int y = y0; y <= y1; ++y) {
    for (int x = x0; x <= x1; ++x) {
      const float ex = static_cast<float>(x) + 0.5f - cx, ey = static_cast<float>(y) + 0.5f - cy;
      blend(x, y, c, std::clamp(radius + 0.5f - std::sqrt(ex * ex + ey * ey), 0.0f, 1.0f));
    }
  }
}

void Canvas::text(float x, float y, std::string_view utf8, float size, Rgb c, HAlign h, VAlign v,
                  float angle_deg) {
  if (utf8.empty() || !(size > 0) || !std::isfinite(x) || !std::isfinite(y)) return;
  const TextMask m = font_->render(utf8, size);
  const float w = font_->text_width(utf8, size);  // the advance width
  float ax = m.origin_x;
  if (h == HAlign::kCenter) ax += w / 2;
  if (h == HAlign::kRight) ax += w;
  const float top = m.baseline - m.ascent, bottom = m.baseline + m.descent;
  float ay = top;
  if (v == VAlign::kMiddle) ay = (top + bottom) / 2;
  if (v == VAlign::kBaseline) ay = m.baseline;
  if (v == VAlign::kBottom) ay = bottom;
  if (angle_deg != 0.0f) {
    // Whole-pixel anchors keep right-angle rotations exact (no resampling blur).
    ax = std::round(ax), ay = std::round(ay), x = std::round(x), y = std::round(y);
  }
  draw_mask(m, ax, ay, x, y, c, angle_deg);
}

// Mask point (u, v) lands on (x, y) + R·(u − ax, v − ay), R the counter-clockwise rotation on
// screen (y down). Each canvas pixel samples the mask bilinearly at its preimage.
void Canvas::draw_mask(const TextMask& m, float ax, float ay, float x, float y, Rgb c,
                       float angle_deg) {
  float a = std::fmod(angle_deg, 360.0f);
  if (a < 0) a += 360.0f;
  if (a == 0.0f) {
    const int ix = static_cast<int>(std::lround(x - ax)),
              iy = static_cast<int>(std::lround(y - ay));
    for (int v = 0; v < m.height; ++v)
      for (int u = 0; u < m.width; ++u) {
        const uint8_t al = m.alpha[static_cast<size_t>(v) * static_cast<size_t>(m.width) + u];
        if (al != 0) blend(ix + u, iy + v, c, static_cast<float>(al) / 255.0f);
      }
    return;
  }
  const double rad = static_cast<double>(a) * 3.14159265358979323846 / 180.0;
  auto snap = [](double t) { return std::fabs(t) < 1e-9 ? 0.0 : t; };
  const auto cs = static_cast<float>(snap(std::cos(rad))),
             sn = static_cast<float>(snap(std::sin(rad)));
  // Bounding box of the rotated mask.
  float minx = 1e30f, miny = 1e30f, maxx = -1e30f, maxy = -1e30f;
  for (int k = 0; k < 4; ++k) {
    const float du = static_cast<float>(k & 1 ? m.width : 0) - ax;
    const float dv = static_cast<float>(k & 2 ? m.height : 0) - ay;
    const float px = x + du * cs + dv * sn, py = y - du * sn + dv * cs;
    minx = std::min(minx, px), maxx = std::max(maxx, px);
    miny = std::min(miny, py), maxy = std::max(maxy, py);
  }
  auto sample = [&m](int u, int v) -> float {
    if (u < 0 || v < 0 || u >= m.width || v >= m.height) return 0.0f;
    return m.alpha[static_cast<size_t>(v) * static_cast<size_t>(m.width) + u];
  };
  const int x0 = std::max(0, static_cast<int>(std::floor(minx)));
  const int x1 = std::min(width_ - 1, static_cast<int>(std::ceil(maxx)));
  const int y0 = std::max(0, static_cast<int>(std::floor(miny)));
  const int y1 = std::min(height_ - 1, static_cast<int>(std::ceil(maxy)));
  for (int py = y0; py <= y1; ++py) {
    for (int px = x0; px <= x1; ++px) {
      const float dx = static_cast<float>(px) + 0.5f - x, dy = static_cast<float>(py) + 0.5f - y;
      // Inverse rotation, then to mask pixel-centre coordinates.
      const float u = ax + dx * cs - dy * sn - 0.5f, v = ay + dx * sn + dy * cs - 0.5f;
      const float fu = std::floor(u), fv = std::floor(v);
      const int iu = static_cast<int>(fu), iv = static_cast<int>(fv);
      const float tu = u - fu, tv = v - fv;
      const float al = (sample(iu, iv) * (1 - tu) + sample(iu + 1, iv) * tu) * (1 - tv) +
                       (sample(iu, iv + 1) * (1 - tu) + sample(iu + 1, iv + 1) * tu) * tv;
      if (al > 0.5f) blend(px, py, c, al / 255.0f);
    }
  }
}

std::string Canvas::encode_png() const {
  // Our pictures are flat colours: PNG's "none" row filter compresses them best and skips
  // stb's per-row trial of all five filters. (Set once, thread-safely; the settings are static
  // to this file.)
  static const bool configured = [] {
    stbi_write_force_png_filter = 0;
    stbi_write_png_compression_level = 6;
    return true;
  }();
  (void)configured;
  std::string out;
  auto sink = [](void* ctx, void* data, int size) {
    static_cast<std::string*>(ctx)->append(static_cast<const char*>(data),
                                           static_cast<size_t>(size));
  };
  const int ok = stbi_write_png_to_func(sink, &out, width_, height_, 3, rgb_.data(), width_ * 3);
  ATTN_CHECK(ok != 0, "PNG encoding of a {}x{} canvas failed", width_, height_);
  return out;
}

void Canvas::save_png(const std::string& path) const {
  write_file_atomically(path, encode_png());
}

}  // namespace attnscope
