#include "core/python_text.h"

namespace attnscope {

size_t decode_utf8(std::string_view s, size_t i, char32_t* cp) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  size_t len = 0;
  char32_t c = 0;
  if (b0 < 0x80) {
    *cp = b0;
    return 1;
  } else if ((b0 & 0xE0) == 0xC0) {
    len = 2;
    c = b0 & 0x1F;
  } else if ((b0 & 0xF0) == 0xE0) {
    len = 3;
    c = b0 & 0x0F;
  } else if ((b0 & 0xF8) == 0xF0) {
    len = 4;
    c = b0 & 0x07;
  } else {
    *cp = b0;
    return 1;
  }
  if (i + len > s.size()) {
    *cp = b0;
    return 1;
  }
  for (size_t k = 1; k < len; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xC0) != 0x80) {
      *cp = b0;
      return 1;
    }
    c = (c << 6) | (b & 0x3F);
  }
  *cp = c;
  return len;
}

bool is_python_space(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 ||
         c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F ||
         c == 0x205F || c == 0x3000;
}

std::string python_strip(std::string_view s) {
  size_t begin = 0, end = s.size();
  while (begin < end) {  // leading whitespace, code point by code point
    char32_t cp = 0;
    const size_t n = decode_utf8(s, begin, &cp);
    if (!is_python_space(cp)) break;
    begin += n;
  }
  while (end > begin) {  // trailing: step back to the start of the last code point
    size_t start = end - 1;
    while (start > begin && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) --start;
    char32_t cp = 0;
    if (decode_utf8(s, start, &cp) != end - start || !is_python_space(cp)) break;
    end = start;
  }
  return std::string(s.substr(begin, end - begin));
}

}  // namespace attnscope
