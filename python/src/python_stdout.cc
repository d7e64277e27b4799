#include "python_stdout.h"

#include <pybind11/pybind11.h>

#include <stdexcept>

namespace attnscope::python {

namespace py = pybind11;

PythonStdout::PythonStdout() {
  cookie_io_functions_t io{};
  io.write = &PythonStdout::write;
  io.close = &PythonStdout::close;
  file_ = fopencookie(this, "w", io);
  if (file_ == nullptr) throw std::runtime_error("cannot open a stream to Python's stdout");
  std::setvbuf(file_, nullptr, _IOLBF, 0);
}

PythonStdout::~PythonStdout() {
  if (file_ != nullptr) std::fclose(file_);  // flushes, then close() passes on the rest
}

ssize_t PythonStdout::write(void* self, const char* data, size_t size) {
  auto* out = static_cast<PythonStdout*>(self);
  out->pending_.append(data, size);
  const size_t end = out->pending_.rfind('\n');
  if (end != std::string::npos) {
    out->emit(out->pending_.substr(0, end + 1));
    out->pending_.erase(0, end + 1);
  }
  return static_cast<ssize_t>(size);
}

int PythonStdout::close(void* self) {
  auto* out = static_cast<PythonStdout*>(self);
  if (!out->pending_.empty()) out->emit(out->pending_);
  out->pending_.clear();
  return 0;
}

void PythonStdout::emit(const std::string& text) {
  // Called from C stdio, which cannot take an exception: a failing sys.stdout loses the text.
  py::gil_scoped_acquire gil;
  try {
    py::object decoded = py::reinterpret_steal<py::object>(
        PyUnicode_DecodeUTF8(text.data(), static_cast<Py_ssize_t>(text.size()), "replace"));
    if (!decoded) throw py::error_already_set();
    py::object stdout_ = py::module_::import("sys").attr("stdout");
    if (stdout_.is_none()) return;
    stdout_.attr("write")(decoded);
    stdout_.attr("flush")();
  } catch (py::error_already_set& e) {
    e.discard_as_unraisable("attnscope: writing to sys.stdout");
  } catch (...) {
  }
}

}  // namespace attnscope::python
