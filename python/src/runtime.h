// The engine's threads as the module runs them.
//
// The CLI re-executes itself with OMP_WAIT_POLICY=passive and OPENBLAS_THREAD_TIMEOUT=4 (unless
// set) because libgomp and OpenBLAS read them once, when they load. A module cannot re-execute
// the interpreter: attnscope/__init__.py sets them before it imports NumPy or this extension,
// which is in time unless another module loaded those libraries first (runtime_info() says).
//
// OpenMP's thread count is a per-thread setting in libgomp (each Python thread that calls in is
// an initial thread of its own), so set_num_threads() is stored here and applied by every engine
// call on the thread that makes it.
#pragma once

#include <pybind11/pybind11.h>

namespace attnscope::python {

namespace py = pybind11;

// Applies set_num_threads (when one was set) to the calling thread's OpenMP and to OpenBLAS.
void apply_thread_setting();

void register_runtime(py::module_& m);

}  // namespace attnscope::python
