// The colours of attnscope's pictures: one perceptual sequential colormap for attention weights.
//
// The map is ColorBrewer's YlGnBu (9 anchors, interpolated linearly in sRGB): 0 is a near-white
// light yellow, 1 a dark blue. Light = low was chosen so that the zeros of a mask (the look-ahead
// triangle, padding) look blank and the eye goes to where the weight is. Lightness falls
// monotonically from anchor to anchor, so the map stays readable in greyscale.
#pragma once

#include <cstdint>
#include <string>

namespace attnscope {

struct Rgb {
  uint8_t r = 0, g = 0, b = 0;
  bool operator==(const Rgb&) const = default;
};

inline constexpr Rgb kWhite{255, 255, 255};
inline constexpr Rgb kBlack{0, 0, 0};

// The colour of t ∈ [0, 1]; t is clamped, NaN maps to the lowest colour.
Rgb colormap(float t);
inline constexpr Rgb kColormapLow{255, 255, 217};  // colormap(0)
inline constexpr Rgb kColormapHigh{8, 29, 88};     // colormap(1)

// "#rrggbb" (lower-case hex).
std::string to_hex(Rgb c);
inline std::string colormap_hex(float t) {
  return to_hex(colormap(t));
}

// Relative luminance in [0, 1] (sRGB, WCAG formula).
float luminance(Rgb c);
// Black or white, whichever reads better on bg (for numbers printed inside cells).
Rgb text_color_on(Rgb bg);

}  // namespace attnscope
