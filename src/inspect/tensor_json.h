// Tensors as nested JSON arrays, written compactly with float precision ("%.7g"): the form
// attnscope prints for `forward --json` and writes to attention.json.
#pragma once

#include <string>

#include "core/tensor.h"

namespace attnscope {

// Appends data laid out as `shape` (row-major) as nested arrays, e.g. [[1,2],[3,4]].
void append_json_array(std::string& out, const float* data, const Shape& shape);
inline void append_json_array(std::string& out, const Tensor& t) {
  append_json_array(out, t.data(), t.shape());
}

}  // namespace attnscope
