#include "arrays.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "core/error.h"

namespace attnscope::python {

namespace {

std::vector<py::ssize_t> dims(const Shape& shape) {
  return std::vector<py::ssize_t>(shape.begin(), shape.end());
}

// An array over data that `owners` keep alive (its base).
py::array_t<float> view(std::vector<Tensor> owners, const float* data, const Shape& shape,
                        bool writable) {
  py::object base =
      py::cast(new Buffer(std::move(owners)), py::return_value_policy::take_ownership);
  py::array_t<float> a(dims(shape), data, base);  // with a base, pybind11 does not copy
  if (!writable)
    py::detail::array_proxy(a.ptr())->flags &= ~py::detail::npy_api::NPY_ARRAY_WRITEABLE_;
  return a;
}

}  // namespace

int64_t Buffer::numel() const {
  int64_t n = 0;
  for (const Tensor& t : parts_) n += t.numel();
  return n;
}

void register_buffer(py::module_& m) {
  py::class_<Buffer>(m, "Buffer",
                     "Engine memory that NumPy arrays view without a copy (their .base): it "
                     "lives as long as any array over it.")
      .def_property_readonly(
          "address", [](const Buffer& b) { return reinterpret_cast<std::uintptr_t>(b.data()); },
          "Address of the first float (equal to the array's data pointer).")
      .def_property_readonly(
          "nbytes", [](const Buffer& b) { return b.numel() * static_cast<int64_t>(sizeof(float)); })
      .def("__repr__", [](const Buffer& b) {
        return fmt::format("<attnscope.Buffer: {} float32 values of the engine, shared>",
                           b.numel());
      });
}

py::array_t<float> share(const Tensor& t) {
  return view({t}, t.data(), t.shape(), false);
}

py::array_t<float> own(const Tensor& t) {
  return view({t}, t.data(), t.shape(), true);
}

bool contiguous(const std::vector<Tensor>& parts) {
  for (size_t i = 1; i < parts.size(); ++i)
    if (parts[i].shape() != parts[0].shape() ||
        parts[i].data() != parts[0].data() + static_cast<int64_t>(i) * parts[0].numel())
      return false;
  return true;
}

py::array_t<float> stack(const std::vector<Tensor>& parts) {
  ATTN_CHECK(!parts.empty(), "nothing to stack");
  Shape shape = {static_cast<int64_t>(parts.size())};
  shape.insert(shape.end(), parts[0].shape().begin(), parts[0].shape().end());
  if (contiguous(parts)) return view(parts, parts[0].data(), shape, false);
  py::array_t<float> a(dims(shape));
  float* out = a.mutable_data();
  for (const Tensor& p : parts) {
    ATTN_CHECK(p.shape() == parts[0].shape(), "cannot stack {} onto {}", p.shape_str(),
               parts[0].shape_str());
    std::memcpy(out, p.data(), static_cast<size_t>(p.numel()) * sizeof(float));
    out += p.numel();
  }
  return a;
}

}  // namespace attnscope::python
