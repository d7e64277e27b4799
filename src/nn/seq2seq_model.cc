#include "nn/seq2seq_model.h"

#include "core/error.h"

namespace attnscope {

void Seq2SeqModel::no_value_vectors() const {
  fail(
      "an {} model has no value vectors and output projection per head to weigh its attention "
      "with",
      info().arch);
}

Tensor Seq2SeqModel::attention_values(AttentionKind, int64_t) const {
  no_value_vectors();
}

const Tensor& Seq2SeqModel::attention_output_weight(AttentionKind, int64_t) const {
  no_value_vectors();
}

void Seq2SeqModel::check_extra_tensor(const std::string& file, const std::string& name,
                                      const Tensor& t) const {
  const std::string hint = unexpected_tensor_hint(name);
  fail("{}: unexpected tensor \"{}\" {}{}", file, name, t.shape_str(),
       hint.empty() ? "" : " (" + hint + ")");
}

std::string Seq2SeqModel::unexpected_tensor_hint(const std::string&) const {
  return {};
}

}  // namespace attnscope
