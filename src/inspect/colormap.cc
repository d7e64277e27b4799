#include "inspect/colormap.h"

#include <array>
#include <cmath>

#include <fmt/format.h>

namespace attnscope {
namespace {

// ColorBrewer YlGnBu, 9 classes, light → dark.
constexpr std::array<Rgb, 9> kAnchors{{
    {255, 255, 217},
    {237, 248, 177},
    {199, 233, 180},
    {127, 205, 187},
    {65, 182, 196},
    {29, 145, 192},
    {34, 94, 168},
    {37, 52, 148},
    {8, 29, 88},
}};

uint8_t lerp_u8(uint8_t a, uint8_t b, float f) {
  const float v = static_cast<float>(a) + (static_cast<float>(b) - static_cast<float>(a)) * f;
  return static_cast<uint8_t>(std::lround(std::fmin(255.0f, std::fmax(0.0f, v))));
}

float linear_channel(uint8_t c) {
  const float s = static_cast<float>(c) / 255.0f;
  return s <= 0.04045f ? s / 12.92f : std::pow((s + 0.055f) / 1.055f, 2.4f);
}

}  // namespace

Rgb colormap(float t) {
  if (!(t > 0.0f)) return kAnchors.front();  // also NaN
  if (t >= 1.0f) return kAnchors.back();
  const float pos = t * static_cast<float>(kAnchors.size() - 1);
  const auto i = static_cast<size_t>(pos);
  const float f = pos - static_cast<float>(i);
  const Rgb a = kAnchors[i], b = kAnchors[i + 1];
  return {lerp_u8(a.r, b.r, f), lerp_u8(a.g, b.g, f), lerp_u8(a.b, b.b, f)};
}

std::string to_hex(Rgb c) {
  return fmt::format("#{:02x}{:02x}{:02x}", c.r, c.g, c.b);
}

float luminance(Rgb c) {
  return 0.2126f * linear_channel(c.r) + 0.7152f * linear_channel(c.g) +
         0.0722f * linear_channel(c.b);
}

Rgb text_color_on(Rgb bg) {
  // Contrast against black is (L + 0.05) / 0.05, against white 1.05 / (L + 0.05); they are
  // equal at L ≈ 0.179.
  return luminance(bg) > 0.179f ? kBlack : kWhite;
}

}  // namespace attnscope
