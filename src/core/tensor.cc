#include "core/tensor.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "core/checked_math.h"
#include "core/error.h"
#include "core/memory_limit.h"

namespace attnscope {

std::string shape_str(const Shape& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

int64_t shape_numel(const Shape& shape) {
  int64_t n = 0;
  if (!checked_numel(shape, n)) {
    for (int64_t d : shape)
      ATTN_CHECK(d >= 0, "negative dimension in shape {}", attnscope::shape_str(shape));
    fail("shape {} has too many elements (the product of its non-zero dimensions exceeds {})",
         attnscope::shape_str(shape), kMaxElements);
  }
  return n;
}

namespace {
// Storage for n floats, counted against the memory cap (core/memory_limit.h) while it lives.
std::shared_ptr<float[]> allocate(int64_t n, const Shape& shape) {
  // n ≤ kMaxElements (shape_numel), so the byte count below cannot overflow.
  ATTN_CHECK(n >= 0 && n <= kMaxElements, "cannot allocate a tensor of {} elements", n);
  const size_t bytes =
      (static_cast<size_t>(std::max<int64_t>(n, 1)) * sizeof(float) + 63) / 64 * 64;
  const auto counted = static_cast<int64_t>(bytes);
  reserve_tensor_bytes(counted, shape_str(shape));
  void* p = std::aligned_alloc(64, bytes);
  if (!p) {
    release_tensor_bytes(counted);
    fail("cannot allocate a tensor of shape {} ({}): out of memory", shape_str(shape),
         format_bytes(counted));
  }
  return std::shared_ptr<float[]>(static_cast<float*>(p), [counted](float* q) {
    std::free(q);
    release_tensor_bytes(counted);
  });
}
}  // namespace

Tensor::Tensor(Shape shape) : Tensor(std::move(shape), 0.0f) {}

Tensor::Tensor(Shape shape, float fill_value) {
  resize(std::move(shape));
  fill(fill_value);
}

Tensor Tensor::from(Shape shape, const std::vector<float>& values) {
  Tensor t(std::move(shape));
  ATTN_CHECK(static_cast<int64_t>(values.size()) == t.numel(),
             "Tensor::from: {} values for shape {}", values.size(), t.shape_str());
  std::copy(values.begin(), values.end(), t.data());
  return t;
}

int64_t Tensor::dim(int i) const {
  const int r = rank();
  const int j = i < 0 ? i + r : i;
  ATTN_CHECK(j >= 0 && j < r, "dimension {} out of range for shape {}", i, shape_str());
  return shape_[static_cast<size_t>(j)];
}

std::vector<float> Tensor::to_vector() const {
  return std::vector<float>(data(), data() + numel_);
}

void Tensor::resize(Shape shape) {
  const int64_t n = shape_numel(shape);
  if (n > capacity_ || !storage_) {
    storage_ = allocate(n, shape);
    capacity_ = std::max<int64_t>(n, 1);
  }
  shape_ = std::move(shape);
  numel_ = n;
}

void Tensor::resize_zero(Shape shape) {
  resize(std::move(shape));
  zero();
}

void Tensor::zero() {
  if (numel_) std::memset(data(), 0, static_cast<size_t>(numel_) * sizeof(float));
}

void Tensor::fill(float v) {
  std::fill(data(), data() + numel_, v);
}

Tensor Tensor::clone() const {
  Tensor t(shape_);
  if (numel_) std::memcpy(t.data(), data(), static_cast<size_t>(numel_) * sizeof(float));
  return t;
}

Tensor Tensor::view(Shape shape) const {
  ATTN_CHECK(shape_numel(shape) == numel_, "cannot view {} as {}", shape_str(),
             attnscope::shape_str(shape));
  Tensor t = *this;
  t.shape_ = std::move(shape);
  return t;
}

Tensor Tensor::slice(int64_t i) const {
  ATTN_CHECK(rank() >= 1 && i >= 0 && i < shape_[0], "cannot take entry {} of the first axis of {}",
             i, shape_str());
  Tensor t;
  t.shape_.assign(shape_.begin() + 1, shape_.end());
  t.numel_ = shape_numel(t.shape_);
  t.capacity_ = t.numel_;
  // The aliasing constructor: owns the whole block, points at entry i.
  t.storage_ = std::shared_ptr<float[]>(storage_, storage_.get() + i * t.numel_);
  return t;
}

}  // namespace attnscope
