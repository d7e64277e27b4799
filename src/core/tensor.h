// Tensor: fp32 values, a row-major shape, 64-byte aligned contiguous storage.
//
// Copies share storage (like a PyTorch tensor handle); clone() copies the values. view() gives
// the same storage another shape; slice(i) one entry of the first axis. resize() keeps the storage
// when it is large enough, so an activation buffer that is resized to the same or a smaller shape
// on every step never allocates after the first one (see nn/ for how modules plan their buffers).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

namespace attnscope {

using Shape = std::vector<int64_t>;

std::string shape_str(const Shape& shape);  // "[2, 3, 4]"
int64_t shape_numel(const Shape& shape);

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(Shape shape);  // zero-filled
  Tensor(Shape shape, float fill);
  static Tensor from(Shape shape, const std::vector<float>& values);

  const Shape& shape() const { return shape_; }
  int rank() const { return static_cast<int>(shape_.size()); }
  int64_t dim(int i) const;  // negative i counts from the end
  int64_t numel() const { return numel_; }
  bool empty() const { return numel_ == 0; }
  std::string shape_str() const { return attnscope::shape_str(shape_); }

  float* data() { return storage_.get(); }
  const float* data() const { return storage_.get(); }
  float& operator[](int64_t i) { return storage_.get()[i]; }
  float operator[](int64_t i) const { return storage_.get()[i]; }
  std::vector<float> to_vector() const;

  // Reshape, reusing the storage when it has room; values are unspecified after a growth.
  void resize(Shape shape);
  // resize() then zero().
  void resize_zero(Shape shape);
  void zero();
  void fill(float v);
  Tensor clone() const;
  // Same storage, another shape with the same number of elements.
  Tensor view(Shape shape) const;
  // Entry i of the first axis, [A, ...] → [...], sharing this tensor's storage (and keeping all
  // of it alive): per-layer maps that are slices of one [L, ...] block can be handed out whole,
  // without a copy (the Python module's arrays). Growing the slice by resize() detaches it.
  Tensor slice(int64_t i) const;
  // Bytes of storage held (for memory reports).
  int64_t capacity() const { return capacity_; }

 private:
  Shape shape_;
  int64_t numel_ = 0;
  int64_t capacity_ = 0;
  std::shared_ptr<float[]> storage_;
};

// Integer token ids [rows, cols] (row-major), the input side of the model.
struct TokenBatch {
  int64_t rows = 0, cols = 0;
  std::vector<int32_t> ids;
  int32_t at(int64_t r, int64_t c) const { return ids[static_cast<size_t>(r * cols + c)]; }
};

}  // namespace attnscope
