// Lines of text read with a bound on what is kept: a line longer than max_bytes keeps its first
// max_bytes and the rest is read and dropped, so a 10 MB line (or a file without a newline) costs
// max_bytes of memory, not its length. Every reader of lines (the CLI's sentence inputs, the
// corpus readers) goes through here.
#pragma once

#include <cstddef>
#include <istream>
#include <string>

namespace attnscope {

// The most any line keeps: a sentence is far shorter; anything longer is cut (or, where a cut
// would change a result, refused) by the caller, which is told by `cut`.
inline constexpr size_t kMaxLineBytes = size_t{1} << 20;

// Reads one line (without its "\n") into `line`; false at the end of the input. *cut says whether
// the line was longer than max_bytes (line then holds its first max_bytes bytes).
bool read_line(std::istream& in, std::string& line, size_t max_bytes, bool* cut);

}  // namespace attnscope
