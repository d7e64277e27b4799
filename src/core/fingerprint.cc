#include "core/fingerprint.h"

#include <fmt/format.h>

#include <cstring>

#include "core/rng.h"

namespace attnscope {

void Fingerprint::mix(uint64_t word) {
  h_ = counter_hash(h_, word);
}

Fingerprint& Fingerprint::add_bytes(const void* data, size_t bytes) {
  mix(static_cast<uint64_t>(bytes));
  const auto* p = static_cast<const unsigned char*>(data);
  size_t i = 0;
  for (; i + 8 <= bytes; i += 8) {
    uint64_t w;
    std::memcpy(&w, p + i, 8);
    mix(w);
  }
  if (i < bytes) {
    uint64_t w = 0;
    std::memcpy(&w, p + i, bytes - i);
    mix(w);
  }
  return *this;
}

Fingerprint& Fingerprint::add(std::string_view bytes) {
  return add_bytes(bytes.data(), bytes.size());
}

Fingerprint& Fingerprint::add(int64_t v) {
  mix(static_cast<uint64_t>(v));
  return *this;
}

Fingerprint& Fingerprint::add(double v) {
  uint64_t bits;
  std::memcpy(&bits, &v, sizeof bits);
  mix(bits);
  return *this;
}

std::string Fingerprint::hex() const {
  return fmt::format("{:016x}", h_);
}

}  // namespace attnscope
