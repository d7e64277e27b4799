#include "app/text_lines.h"

#include <iostream>

#include "core/error.h"

namespace attnscope::app {

TextLines::TextLines(const std::string& path) {
  if (path.empty() || path == "-") {
    in_ = &std::cin;
    name_ = "stdin";
    return;
  }
  file_.open(path, std::ios::binary);
  ATTN_CHECK(file_.is_open(), "cannot open {}", path);
  in_ = &file_;
  name_ = path;
}

bool TextLines::next(std::string& line) {
  if (!std::getline(*in_, line)) return false;
  ++line_number_;
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return true;
}

}  // namespace attnscope::app
