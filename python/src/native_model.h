// A model directory as the Python module drives it: the model, its tokenizers, and one engine
// call at a time. Every call into the engine goes through run(), which releases the GIL (other
// Python threads run meanwhile) and then takes this model's lock (its activation buffers and
// decoder cache serve one call at a time); two models work in parallel.
//
// The tokenizers are touched here and nowhere else in the module: load_tokenizers() says what a
// directory holds, and encode / decode / pieces are all the module asks of them, so another kind
// of tokenizer is a change to this file only.
#pragma once

#include <pybind11/pybind11.h>

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "decode/translate.h"
#include "io/model_dir.h"
#include "nn/seq2seq_model.h"
#include "runtime.h"

namespace attnscope::python {

namespace py = pybind11;

enum class Side { kSource, kTarget };
// "source" | "target"; anything else is a ValueError.
Side side_from_name(const std::string& name);

class NativeModel {
 public:
  // Reads dir (attnscope::Error naming the file that is missing or wrong).
  explicit NativeModel(std::string dir);

  const std::string& dir() const { return dir_; }
  const Seq2SeqModel& model() const { return *model_; }

  // f(model) with the GIL released and this model's lock held; returns what f returns. f must not
  // touch Python objects.
  template <typename F>
  auto run(F&& f) {
    py::gil_scoped_release release;
    std::lock_guard<std::mutex> lock(mu_);
    apply_thread_setting();
    return f(*model_);
  }

  // Text and ids.
  std::vector<int32_t> encode(const std::string& text, Side side) const;  // pieces, no specials
  std::string decode(const std::vector<int32_t>& ids, Side side) const;   // specials skipped
  std::vector<std::string> pieces(const std::vector<int32_t>& ids, Side side) const;
  int vocab_size(Side side) const;
  // The source as the model sees it: pieces + eos, cut to max_len (decode/translate.h).
  std::vector<int32_t> source_ids(const std::string& text) const;

  // translate_sentences over this model (GIL released).
  std::vector<Translation> translate(const std::vector<std::string>& sentences,
                                     const TranslateOptions& opt);

 private:
  const TextTokenizer& tokenizer(Side side) const {
    return side == Side::kSource ? *tok_.src : *tok_.tgt;
  }

  std::string dir_;
  std::unique_ptr<Seq2SeqModel> model_;
  TokenizerPair tok_;
  std::mutex mu_;
};

}  // namespace attnscope::python
