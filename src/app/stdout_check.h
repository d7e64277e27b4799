// Standard output is checked like every file attnscope writes: a full disk (`> /dev/full`), a
// closed pipe or a failing device ends the command with an error naming what was being written
// and a non-zero exit, never a silent success.
#pragma once

#include <string_view>

namespace attnscope::app {

// Makes std::cout write through stdio's stdout and remember why a write failed (main, first).
void install_checked_stdout();
// Flushes stdout (and std::cout) and throws attnscope::Error "cannot write <what> to stdout:
// <reason>" when any write so far failed.
void check_stdout(std::string_view what);
// The same, then closes stdout (a failing close loses data too). The last thing main does.
void finish_stdout();

}  // namespace attnscope::app
