// Our own reader and writer of the safetensors format (https://github.com/huggingface/safetensors):
//
//   8 bytes   N, the header length (unsigned, little-endian)
//   N bytes   a JSON object {name: {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]},
//             ..., optional "__metadata__": {string: string}}, padded with spaces
//   the rest  the data buffer; offsets are relative to its start, values little-endian, row-major
//
// The reader accepts F32, F64, F16, BF16, I64, I32, U8 and BOOL and converts everything to fp32
// (integers must be exactly representable). It validates every byte it is given and throws
// attnscope::Error naming the file (and the tensor) instead of crashing or reading out of bounds.
// The writer writes F32 only, pads the header to a multiple of 8 bytes and replaces the file
// atomically (core/atomic_file.h), so a crash mid-write never leaves a truncated file behind.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace attnscope {

struct SafetensorsFile {
  std::map<std::string, Tensor> tensors;
  std::map<std::string, std::string> dtypes;  // name → the dtype the file stores ("F16", …)
  std::map<std::string, std::string> metadata;
};

SafetensorsFile read_safetensors(const std::string& path);

// Tensors are written in the order given (header and data); names must be unique, non-empty and
// not "__metadata__".
void write_safetensors(const std::string& path,
                       const std::vector<std::pair<std::string, const Tensor*>>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace attnscope
