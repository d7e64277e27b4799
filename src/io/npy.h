// NumPy .npy files (format version 1.0, little-endian float32, C order), for users who load
// attention maps with numpy.load.
#pragma once

#include <string>

#include "core/tensor.h"

namespace attnscope {

// The whole file as bytes: magic, header dict padded to a multiple of 64, data.
std::string npy_bytes(const Tensor& t);
// Writes npy_bytes(t) to path (temporary name, then rename).
void write_npy(const std::string& path, const Tensor& t);

}  // namespace attnscope
