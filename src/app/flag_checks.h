// Checks attached to the CLI's options where each is registered, so that a bad value is refused
// while the command line is parsed — before any file is read, any model loaded, anything trained
// or written — with a message naming the flag (CLI11's "--log-every: Value 0 not in range 1 to …").
//
// CLI::Range alone lets NaN through (every comparison with NaN is false) and takes "inf";
// finite_range does not. Integer flags use CLI::Range, whose conversion already refuses a value
// that does not fit the option's type. Rules between flags (one excludes another, one needs
// another) are CLI11's excludes()/needs() at registration too; the few that depend on values
// (--nbest ≤ --beam) are checked first thing in the command's callback.
#pragma once

#include <CLI/CLI.hpp>

#include <cmath>
#include <string>

#include <fmt/format.h>

namespace attnscope::app {

// A finite number from lo to hi; with below_hi, hi itself is refused too ([lo, hi)).
inline CLI::Validator finite_range(double lo, double hi, bool below_hi = false) {
  const std::string range = fmt::format("{} to {}{}", lo, hi, below_hi ? " (exclusive)" : "");
  return CLI::Validator(
      [lo, hi, below_hi, range](std::string& input) -> std::string {
        double v = 0;
        if (!CLI::detail::lexical_cast(input, v)) return "Value " + input + " is not a number";
        if (!std::isfinite(v) || v < lo || v > hi || (below_hi && v >= hi))
          return fmt::format("Value {} not in range {}", input, range);
        return std::string();
      },
      fmt::format("FLOAT in [{}]", range));
}

// A number written without a sign, for unsigned flags (seeds): CLI11 would take "-1" as 2^64 − 1.
inline CLI::Validator unsigned_number() {
  return CLI::Validator(
      [](std::string& input) -> std::string {
        if (input.empty() || input.find_first_not_of("0123456789") != std::string::npos)
          return "Value " + input + " is not a non-negative integer";
        return std::string();
      },
      "UINT");
}

// The largest sizes a flag may ask for: far beyond any real use, small enough that no product
// of them overflows and that the memory cap (core/memory_limit.h) is what refuses a big plan.
inline constexpr int64_t kMaxCountFlag = int64_t{1} << 40;  // steps, epochs, sentences, …
inline constexpr int64_t kMaxSizeFlag = int64_t{1} << 30;   // tokens per batch, sentences per batch

}  // namespace attnscope::app
