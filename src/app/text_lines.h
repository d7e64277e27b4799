// The lines of a text file or of stdin, as the CLI's sentence inputs read them: a trailing '\r'
// (a file written on Windows) is dropped and lines are numbered for error messages. A line keeps
// at most kMaxLineBytes (core/line_reader.h): a longer one is cut while it is read, so one
// endless line cannot take the memory; the commands say so (cut_note) or refuse it.
#pragma once

#include <cstdint>
#include <fstream>
#include <istream>
#include <string>

namespace attnscope::app {

class TextLines {
 public:
  // "" or "-" reads stdin (named "stdin" in messages). Throws attnscope::Error naming a file it
  // cannot open.
  explicit TextLines(const std::string& path);
  TextLines(const TextLines&) = delete;
  TextLines& operator=(const TextLines&) = delete;

  // The next line into `line`; false at the end of the input.
  bool next(std::string& line);
  const std::string& name() const { return name_; }
  int64_t line_number() const { return line_number_; }  // of the line next() gave, from 1
  bool cut() const { return cut_; }                     // the line next() gave was cut
  // "N line(s) of NAME were longer than 1 MiB and were cut (first: NAME:L)", or "" when none was.
  std::string cut_note() const;

 private:
  std::ifstream file_;
  std::istream* in_ = nullptr;
  std::string name_;
  int64_t line_number_ = 0;
  bool cut_ = false;
  int64_t cut_lines_ = 0, first_cut_ = 0;
};

}  // namespace attnscope::app
