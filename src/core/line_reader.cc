#include "core/line_reader.h"

namespace attnscope {

bool read_line(std::istream& in, std::string& line, size_t max_bytes, bool* cut) {
  line.clear();
  bool over = false, any = false;
  std::streambuf* sb = in.rdbuf();
  if (sb == nullptr || !in.good()) {
    in.setstate(std::ios::failbit);
    return false;
  }
  for (;;) {
    const int c = sb->sbumpc();
    if (c == std::char_traits<char>::eof()) {
      in.setstate(std::ios::eofbit);
      break;
    }
    any = true;
    if (c == '\n') break;
    if (line.size() < max_bytes) {
      line.push_back(static_cast<char>(c));
    } else {
      over = true;
    }
  }
  if (cut != nullptr) *cut = over;
  if (!any) in.setstate(std::ios::failbit);
  return any;
}

}  // namespace attnscope
