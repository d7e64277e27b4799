#include "nn/rnn_seq2seq_model.h"

#include "core/error.h"

namespace attnscope {

std::unique_ptr<Seq2SeqModel> RnnConfig::build_model() const {
  return std::make_unique<RnnSeq2SeqModel>(*this);
}

namespace {
struct RnnState : DecoderState {
  RnnDecoderState s;
  void reorder(const std::vector<int64_t>& from) override { s.reorder(from); }
};
}  // namespace

ModelInfo RnnSeq2SeqModel::info() const {
  const RnnConfig& c = model_.config();
  ModelInfo i;
  i.arch = c.arch();
  i.src_vocab = c.src_vocab;
  i.tgt_vocab = c.tgt_vocab;
  i.max_len = c.max_len;
  i.heads = 1;
  i.pad_id = c.pad_id;
  i.bos_id = c.bos_id;
  i.decoder_start_id = c.bos_id;
  i.eos_id = c.eos_id;
  i.unk_id = c.unk_id;
  return i;
}

const Tensor& RnnSeq2SeqModel::forward(const TokenBatch& src, const TokenBatch& tgt_in,
                                       const ForwardOptions&) {
  const Tensor& logits = model_.forward(src, tgt_in);
  alpha_ = &model_.attention();
  return logits;
}

const Tensor& RnnSeq2SeqModel::attention(AttentionKind kind, int64_t layer) const {
  ATTN_CHECK(kind == AttentionKind::kCross && layer == 0,
             "no {} attention layer {}: an rnn-attention model has one cross-attention layer "
             "(its additive attention) and no self-attention",
             attention_kind_name(kind), layer);
  ATTN_CHECK(alpha_ != nullptr, "no attention yet: run forward or decode_step first");
  return *alpha_;
}

std::unique_ptr<DecoderState> RnnSeq2SeqModel::start_decoding(const TokenBatch& src, int64_t expand,
                                                              int64_t) {
  auto state = std::make_unique<RnnState>();
  state->s = model_.start_decoding(src, expand);
  alpha_ = nullptr;
  return state;
}

const Tensor& RnnSeq2SeqModel::decode_step(DecoderState& state,
                                           const std::vector<int32_t>& tokens) {
  auto* s = dynamic_cast<RnnState*>(&state);
  ATTN_CHECK(s != nullptr, "decode_step: the state was not made by this rnn-attention model");
  const Tensor& logits = model_.decode_step(s->s, tokens);
  step_alpha_ = s->s.alpha.clone();
  alpha_ = &step_alpha_;
  return logits;
}

}  // namespace attnscope
