// Engine tensors as NumPy float32 arrays.
//
// An array over tensors the engine allocated for the caller (the attention a translation
// captured, an analysis's result) shares their storage: its base is a Buffer that holds the
// tensors (Tensor copies share storage), so the memory lives as long as any array over it, and
// nothing is copied. Buffers the model keeps and overwrites on its next call (the logits and maps
// of forward()) are copied once, into tensors the array then owns. Arrays over tensors that are
// still shared are read-only: the Result that owns the captured maps draws its viewer and
// pictures from them.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <vector>

#include "core/tensor.h"

namespace attnscope::python {

namespace py = pybind11;

// The owner of the engine memory behind shared arrays (attnscope._attnscope.Buffer).
class Buffer {
 public:
  explicit Buffer(std::vector<Tensor> parts) : parts_(std::move(parts)) {}
  // The address of the first float and the number of floats the arrays see.
  const float* data() const { return parts_.front().data(); }
  int64_t numel() const;

 private:
  std::vector<Tensor> parts_;
};

void register_buffer(py::module_& m);

// One tensor as a read-only array of its shape, without a copy.
py::array_t<float> share(const Tensor& t);

// Tensors of one shape S as one array [parts, ...S]. Without a copy (read-only, base a Buffer)
// when they lie one after another in one block (the captured maps of a kind are slices of one:
// decode/beam_search.h), else copied into a new writable array. parts must not be empty.
py::array_t<float> stack(const std::vector<Tensor>& parts);

// A tensor nobody else holds (a fresh result) as a writable array of its shape, without a copy.
py::array_t<float> own(const Tensor& t);

// Whether stack(parts) shares rather than copies.
bool contiguous(const std::vector<Tensor>& parts);

}  // namespace attnscope::python
