// The parts of the extension module attnscope._attnscope (module.cc puts them together).
#pragma once

#include <pybind11/pybind11.h>

namespace attnscope::python {

namespace py = pybind11;

void register_models(py::module_& m);   // _Model, _Translation (bind_model.cc)
void register_explain(py::module_& m);  // _explain (bind_explain.cc)
void register_train(py::module_& m);    // TrainArgs, _train (bind_train.cc)

}  // namespace attnscope::python
