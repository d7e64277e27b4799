#include "io/npy.h"

#include <cstring>

#include "core/atomic_file.h"

namespace attnscope {

std::string npy_bytes(const Tensor& t) {
  // As numpy writes it: (3,) for one dimension, (2, 3) for more, () for a scalar.
  std::string shape = "(";
  for (int64_t i = 0; i < t.rank(); ++i) {
    if (i) shape += ", ";
    shape += std::to_string(t.shape()[static_cast<size_t>(i)]);
  }
  if (t.rank() == 1) shape += ",";
  shape += ")";
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape + ", }";
  // magic (6) + version (2) + header length (2) + header + '\n' ≡ 0 mod 64
  const size_t unpadded = 10 + header.size() + 1;
  header.append((64 - unpadded % 64) % 64, ' ');
  header += '\n';
  std::string out("\x93NUMPY\x01\x00", 8);
  const uint16_t len = static_cast<uint16_t>(header.size());
  out += static_cast<char>(len & 0xff);
  out += static_cast<char>(len >> 8);
  out += header;
  const size_t bytes = static_cast<size_t>(t.numel()) * sizeof(float);
  const size_t at = out.size();
  out.resize(at + bytes);
  if (bytes) std::memcpy(out.data() + at, t.data(), bytes);
  return out;
}

void write_npy(const std::string& path, const Tensor& t) {
  const std::string bytes = npy_bytes(t);
  write_file_atomically(path, bytes);
}

}  // namespace attnscope
