#include "inspect/tensor_json.h"

#include <fmt/format.h>

#include <cmath>
#include <iterator>

namespace attnscope {

namespace {
void append_level(std::string& out, const float*& p, const Shape& shape, size_t level) {
  out += '[';
  for (int64_t i = 0; i < shape[level]; ++i) {
    if (i) out += ',';
    if (level + 1 == shape.size()) {
      const float v = *p++;
      // JSON has no NaN/Inf; null marks them (attention weights are never NaN by design).
      if (std::isfinite(v)) {
        fmt::format_to(std::back_inserter(out), "{:.7g}", v);
      } else {
        out += "null";
      }
    } else {
      append_level(out, p, shape, level + 1);
    }
  }
  out += ']';
}
}  // namespace

void append_json_array(std::string& out, const float* data, const Shape& shape) {
  if (shape.empty()) {
    fmt::format_to(std::back_inserter(out), "{:.7g}", *data);
    return;
  }
  const float* p = data;
  append_level(out, p, shape, 0);
}

}  // namespace attnscope
