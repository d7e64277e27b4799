#include "native_model.h"

#include "core/error.h"

namespace attnscope::python {

Side side_from_name(const std::string& name) {
  if (name == "source") return Side::kSource;
  if (name == "target") return Side::kTarget;
  throw py::value_error("side must be \"source\" or \"target\", not \"" + name + "\"");
}

NativeModel::NativeModel(std::string dir)
    : dir_(std::move(dir)), model_(load_model(dir_)), tok_(load_tokenizers(dir_)) {}

std::vector<int32_t> NativeModel::encode(const std::string& text, Side side) const {
  return tokenizer(side).encode(text);
}

std::string NativeModel::decode(const std::vector<int32_t>& ids, Side side) const {
  return tokenizer(side).decode(ids);
}

std::vector<std::string> NativeModel::pieces(const std::vector<int32_t>& ids, Side side) const {
  return tokenizer(side).pieces(ids);
}

int NativeModel::vocab_size(Side side) const {
  return tokenizer(side).vocab_size();
}

std::vector<int32_t> NativeModel::source_ids(const std::string& text) const {
  const ModelInfo info = model_->info();
  return encode_source(*tok_.src, text, info.max_len, info.eos_id);
}

std::vector<Translation> NativeModel::translate(const std::vector<std::string>& sentences,
                                                const TranslateOptions& opt) {
  return run([&](Seq2SeqModel& m) {
    return translate_sentences(m, *tok_.src, *tok_.tgt, sentences, opt);
  });
}

}  // namespace attnscope::python
