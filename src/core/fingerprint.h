// Fingerprints: a 64-bit value of a sequence of bytes, for checking that copies agree — the
// ranks of a data-parallel run compare their options, data and weights by them. Not a
// cryptographic hash: it finds accidents (another file, another flag, a diverged replica), not
// forgeries.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace attnscope {

class Fingerprint {
 public:
  // Each piece is added with its length, so ("ab", "c") and ("a", "bc") differ.
  Fingerprint& add(std::string_view bytes);
  Fingerprint& add_bytes(const void* data, size_t bytes);
  Fingerprint& add(int64_t v);
  Fingerprint& add(double v);  // by its bits
  uint64_t value() const { return h_; }
  std::string hex() const;  // 16 hex digits

 private:
  void mix(uint64_t word);
  uint64_t h_ = 0x6A09E667F3BCC908ull;
};

}  // namespace attnscope
