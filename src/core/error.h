// Errors that name the culprit: every failure the user can cause (a bad file, a bad shape, a
// bad argument) is an attnscope::Error with a message that says what and where.
#pragma once

#include <fmt/format.h>

#include <stdexcept>
#include <string>

namespace attnscope {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

template <typename... Args>
[[noreturn]] void fail(fmt::format_string<Args...> f, Args&&... args) {
  throw Error(fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace attnscope

// ATTN_CHECK(cond, "format {}", args...): throws attnscope::Error with the message when cond fails.
#define ATTN_CHECK(cond, ...)                    \
  do {                                           \
    if (!(cond)) ::attnscope::fail(__VA_ARGS__); \
  } while (0)
