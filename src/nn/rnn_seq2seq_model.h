// arch "rnn-attention" behind the Seq2SeqModel interface: RnnAttentionModel (float) with its
// α shown as cross-attention of one layer and one head. It has no self-attention
// (num_layers(kEncoderSelf) == num_layers(kDecoderSelf) == 0) and no dropout:
// ForwardOptions::training is ignored. It has no value vectors (info().value_vectors is false).
#pragma once

#include "nn/rnn_attention_model.h"
#include "nn/seq2seq_model.h"

namespace attnscope {

class RnnSeq2SeqModel : public Seq2SeqModel {
 public:
  explicit RnnSeq2SeqModel(const RnnConfig& cfg) : model_(cfg) {}

  const RnnConfig& config() const override { return model_.config(); }
  RnnAttentionModel& rnn() { return model_; }

  ModelInfo info() const override;
  void init_weights(uint64_t seed) override { model_.init_weights(seed); }
  void visit_params(const ParamVisitor& f) override { model_.visit_params(f); }
  int64_t num_params() override { return model_.num_params(); }
  void alloc_grads() override { model_.alloc_grads(); }
  void zero_grads() override { model_.zero_grads(); }

  const Tensor& forward(const TokenBatch& src, const TokenBatch& tgt_in,
                        const ForwardOptions& o) override;
  void backward(const Tensor& d_logits) override { model_.backward(d_logits); }

  // kCross layer 0: α [B, 1, Tt, Ts] after forward, [rows, 1, 1, Ts] after decode_step.
  const Tensor& attention(AttentionKind kind, int64_t layer) const override;
  int64_t num_layers(AttentionKind kind) const override {
    return kind == AttentionKind::kCross ? 1 : 0;
  }

  std::unique_ptr<DecoderState> start_decoding(const TokenBatch& src, int64_t expand,
                                               int64_t max_steps) override;
  const Tensor& decode_step(DecoderState& state, const std::vector<int32_t>& tokens) override;

 private:
  RnnAttentionModel model_;
  Tensor step_alpha_;              // the last decode step's α (a copy: states come and go)
  const Tensor* alpha_ = nullptr;  // the last forward's α or step_alpha_
};

}  // namespace attnscope
