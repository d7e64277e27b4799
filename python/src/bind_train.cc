// attnscope._attnscope.TrainArgs and _train: `attnscope train` from Python (attnscope/train.py
// wraps them). The GIL is released while training; the log and the progress lines go to
// Python's sys.stdout (a Jupyter cell shows them), a progress callback gets a dict per event, and
// Ctrl-C (a kernel interrupt) stops the run at the next progress event with KeyboardInterrupt —
// the last checkpoint stays whole, so train(..., resume=True) continues it.
#include <pybind11/functional.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdio>
#include <memory>

#include "app/progress.h"
#include "app/train_command.h"
#include "bindings.h"
#include "python_stdout.h"
#include "runtime.h"

namespace attnscope::python {

namespace {

using app::TrainArgs;

const char* progress_kind(TrainProgress::Kind k) {
  switch (k) {
    case TrainProgress::Kind::kStep:
      return "step";
    case TrainProgress::Kind::kValidation:
      return "validation";
    case TrainProgress::Kind::kDone:
      return "done";
  }
  return "";
}

py::dict progress_dict(const TrainProgress& p) {
  py::dict d;
  d["kind"] = progress_kind(p.kind);
  d["step"] = p.step;
  d["max_steps"] = p.max_steps;
  d["epoch"] = p.epoch;
  d["epochs"] = p.epochs;
  d["loss"] = p.loss;
  d["lr"] = p.lr;
  d["tokens_per_s"] = p.tokens_per_s;
  d["elapsed_s"] = p.elapsed_s;
  d["fraction_done"] = p.fraction_done;
  d["valid_loss"] = py::none();
  d["bleu"] = py::none();
  d["chrf"] = py::none();
  if (p.validation) {
    d["valid_loss"] = p.validation->loss;
    if (p.validation->bleu) d["bleu"] = *p.validation->bleu;
    if (p.validation->chrf) d["chrf"] = *p.validation->chrf;
  }
  d["improved"] = p.improved;
  d["stop_reason"] = p.stop_reason;
  return d;
}

struct FileCloser {
  void operator()(std::FILE* f) const {
    if (f != nullptr) std::fclose(f);
  }
};

}  // namespace

void register_train(py::module_& m) {
  py::class_<TrainArgs>(m, "TrainArgs",
                        "The options of `attnscope train`, one attribute per flag "
                        "(--batch-tokens is batch_tokens), with the CLI's defaults.")
      .def(py::init<>())
      .def_readwrite("data", &TrainArgs::data)
      .def_readwrite("src_file", &TrainArgs::src_file)
      .def_readwrite("tgt_file", &TrainArgs::tgt_file)
      .def_readwrite("valid", &TrainArgs::valid)
      .def_readwrite("out", &TrainArgs::out)
      .def_readwrite("config", &TrainArgs::config)
      .def_readwrite("arch", &TrainArgs::arch)
      .def_property(
          "src_col", [](const TrainArgs& a) { return a.columns.src_col; },
          [](TrainArgs& a, int v) { a.columns.src_col = v; })
      .def_property(
          "tgt_col", [](const TrainArgs& a) { return a.columns.tgt_col; },
          [](TrainArgs& a, int v) { a.columns.tgt_col = v; })
      .def_property(
          "reverse", [](const TrainArgs& a) { return a.columns.reverse; },
          [](TrainArgs& a, bool v) { a.columns.reverse = v; })
      .def_readwrite("resume", &TrainArgs::resume)
      .def_readwrite("separate_vocab", &TrainArgs::separate_vocab)
      .def_readwrite("split_dev", &TrainArgs::split_dev)
      .def_readwrite("steps", &TrainArgs::steps)
      .def_readwrite("epochs", &TrainArgs::epochs)
      .def_readwrite("minutes", &TrainArgs::minutes)
      .def_readwrite("vocab", &TrainArgs::vocab)
      .def_readwrite("spm_type", &TrainArgs::spm_type)
      .def_readwrite("spm", &TrainArgs::spm)
      .def_readwrite("tgt_spm", &TrainArgs::tgt_spm)
      .def_readwrite("batch_tokens", &TrainArgs::batch_tokens)
      .def_readwrite("accumulate", &TrainArgs::accumulate)
      .def_readwrite("warmup", &TrainArgs::warmup)
      .def_readwrite("valid_every", &TrainArgs::valid_every)
      .def_readwrite("log_every", &TrainArgs::log_every)
      .def_readwrite("patience", &TrainArgs::patience)
      .def_readwrite("valid_bleu_sentences", &TrainArgs::valid_bleu_sentences)
      .def_readwrite("lr", &TrainArgs::lr)
      .def_readwrite("label_smoothing", &TrainArgs::label_smoothing)
      .def_readwrite("clip_norm", &TrainArgs::clip_norm)
      .def_readwrite("dropout", &TrainArgs::dropout)
      .def_readwrite("weight_decay", &TrainArgs::weight_decay)
      .def_readwrite("schedule", &TrainArgs::schedule)
      .def_readwrite("norm", &TrainArgs::norm)
      .def_readwrite("seed", &TrainArgs::seed);

  m.def(
      "_train",
      [](const TrainArgs& a, bool echo, const py::object& callback) {
        // The log: Python's stdout when echoing, else nowhere.
        std::unique_ptr<PythonStdout> stdout_stream;
        std::unique_ptr<std::FILE, FileCloser> devnull;
        std::FILE* log = nullptr;
        if (echo) {
          stdout_stream = std::make_unique<PythonStdout>();
          log = stdout_stream->file();
        } else {
          devnull.reset(std::fopen("/dev/null", "w"));
          if (!devnull) throw py::value_error("cannot open /dev/null for the training log");
          log = devnull.get();
        }
        app::TrainingProgress printer(log, a.out);
        const auto progress = [&](const TrainProgress& p) {
          if (echo) printer(p);
          py::gil_scoped_acquire gil;
          if (PyErr_CheckSignals() != 0) throw py::error_already_set();  // Ctrl-C
          if (!callback.is_none()) callback(progress_dict(p));
        };
        TrainerState s;
        {
          py::gil_scoped_release release;
          apply_thread_setting();
          s = app::run_train(a, progress, log);
          std::fflush(log);
        }
        py::dict d;
        d["out"] = a.out;
        d["steps"] = s.step;
        d["epoch"] = s.epoch;
        d["best_step"] = s.best_step;
        d["best_metric"] = s.best_metric;
        d["elapsed_s"] = s.elapsed_s;
        d["tokens_seen"] = s.tokens_seen;
        return d;
      },
      py::arg("args"), py::arg("echo"), py::arg("callback"));
}

}  // namespace attnscope::python
