// The compiled half of the attnscope Python package: attnscope._attnscope. The package's Python
// files (python/attnscope/) give it the interface users call; see docs/python.md.
#include <pybind11/pybind11.h>

#include "arrays.h"
#include "bindings.h"
#include "core/error.h"
#include "runtime.h"

namespace py = pybind11;

PYBIND11_MODULE(_attnscope, m) {
  m.doc() = "attnscope's engine (C++): models, translation with attention, analyses, training.";
  // Every attnscope::Error (a bad model directory, a bad option, a broken file) arrives as
  // attnscope.Error with the engine's message; pybind11 turns any other C++ exception into a
  // Python one too (std::bad_alloc: MemoryError, others: RuntimeError), never a crash.
  py::register_exception<attnscope::Error>(m, "Error", PyExc_RuntimeError);
  attnscope::python::register_buffer(m);
  attnscope::python::register_runtime(m);
  attnscope::python::register_models(m);
  attnscope::python::register_explain(m);
  attnscope::python::register_train(m);
}
