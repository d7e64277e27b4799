#include "app/text_lines.h"

#include <iostream>

#include <fmt/format.h>

#include "core/error.h"
#include "core/line_reader.h"

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
  if (!read_line(*in_, line, kMaxLineBytes, &cut_)) return false;
  ++line_number_;
  if (cut_) {
    if (cut_lines_++ == 0) first_cut_ = line_number_;
    // Not in the middle of a character: drop a sequence the cut left incomplete.
    while (!line.empty() && (static_cast<unsigned char>(line.back()) & 0xC0) == 0x80)
      line.pop_back();
    if (!line.empty() && static_cast<unsigned char>(line.back()) >= 0xC0) line.pop_back();
    return true;
  }
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return true;
}

std::string TextLines::cut_note() const {
  if (cut_lines_ == 0) return "";
  return fmt::format("{} line(s) of {} were longer than {} MiB and were cut (first: {}:{})",
                     cut_lines_, name_, kMaxLineBytes >> 20, name_, first_cut_);
}

}  // namespace attnscope::app
