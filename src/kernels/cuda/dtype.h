// The element types the device kernels read and write: fp32 (the exact path, equal to the CPU's)
// and bf16 (the fast path: tensor-core products with fp32 accumulation, fp32 statistics).
#pragma once

#include <cstddef>

namespace attnscope::cuda {

enum class DType { kF32, kBF16 };

inline size_t dtype_size(DType t) {
  return t == DType::kF32 ? 4 : 2;
}
inline const char* dtype_name(DType t) {
  return t == DType::kF32 ? "fp32" : "bf16";
}

}  // namespace attnscope::cuda
