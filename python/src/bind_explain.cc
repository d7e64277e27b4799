// attnscope._attnscope._explain: `attnscope explain` as data (attnscope/explain.py wraps it).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>

#include "bindings.h"
#include "inspect/explain.h"

namespace attnscope::python {

namespace {

const char* axis_name(ExplainAxis a) {
  switch (a) {
    case ExplainAxis::kToken:
      return "token";
    case ExplainAxis::kQuery:
      return "query";
    case ExplainAxis::kKey:
      return "key";
    case ExplainAxis::kNone:
      break;
  }
  return "";
}

py::array_t<float> values_array(const ExplainStep& s) {
  py::array_t<float> a(std::vector<py::ssize_t>(s.shape.begin(), s.shape.end()));
  std::copy(s.values.begin(), s.values.end(), a.mutable_data());
  return a;
}

}  // namespace

void register_explain(py::module_& m) {
  m.def(
      "_explain",
      [](int64_t batch, int64_t length, int64_t dim, int64_t heads, bool causal, int64_t pad,
         uint64_t seed) {
        ExplainOptions o;
        o.batch = batch;
        o.len = length;
        o.dim = dim;
        o.heads = heads;
        o.causal = causal;
        o.pad = pad;
        o.seed = seed;
        ExplainResult r;
        std::string text, json;
        {
          py::gil_scoped_release release;
          r = explain_steps(o);
          text = render_explain_text(r);
          json = render_explain_json(r);
        }
        py::list steps;
        for (const ExplainStep& s : r.steps) {
          py::dict d;
          d["name"] = s.name;
          d["title"] = s.title;
          d["shape"] = py::tuple(py::cast(s.shape));
          d["detail"] = s.detail;
          d["values"] = values_array(s);
          d["note"] = s.note;
          d["rows"] = axis_name(s.rows);
          d["cols"] = axis_name(s.cols);
          d["row_sums"] = s.row_sums;
          steps.append(d);
        }
        py::dict out;
        out["steps"] = steps;
        out["text"] = text;
        out["json"] = json;
        out["d_k"] = r.d_k;
        out["max_diff_out"] = r.max_diff_out;
        out["max_diff_weights"] = r.max_diff_weights;
        out["reading"] = r.reading;
        return out;
      },
      py::arg("batch"), py::arg("length"), py::arg("dim"), py::arg("heads"), py::arg("causal"),
      py::arg("pad"), py::arg("seed"));
}

}  // namespace attnscope::python
