// What the trainer, beam search, checkpoints, model directories and the CLI need from an
// encoder–decoder model, whatever its architecture: arch "transformer" (nn/transformer.h) and
// arch "rnn-attention" (nn/rnn_seq2seq_model.h, over nn/rnn_attention_model.h) implement it.
//
// Attention is read by kind and layer as [B, H, Tq, Tk] (after forward) or [rows, H, 1, Tk]
// (after decode_step). A kind the architecture does not have has num_layers(kind) == 0: the
// RNN has only kCross, one layer of one head.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "nn/attention_kind.h"
#include "nn/param.h"

namespace attnscope {

struct ForwardOptions {
  bool training = false;   // dropout on (config.dropout) when true; architectures without
                           // dropout (rnn-attention) ignore it
  uint64_t step_seed = 0;  // dropout masks derive from it
};

// What every architecture's config has in common.
struct ModelInfo {
  std::string arch;
  int64_t src_vocab = 0, tgt_vocab = 0;
  int64_t max_len = 0;  // longest sequence (source, or target with bos) the model takes
  int64_t heads = 1;    // heads of every attention map it shows
  int32_t pad_id = 0, bos_id = 1, eos_id = 2, unk_id = 3;
};

// The state of incremental decoding over rows (sentences × beams).
class DecoderState {
 public:
  virtual ~DecoderState() = default;
  // The state becomes from.size() rows, row r being old row from[r]: beam search follows its
  // backpointers (as many rows, each within its sentence) and drops finished sentences (fewer).
  virtual void reorder(const std::vector<int64_t>& from) = 0;
};

class Seq2SeqModel {
 public:
  virtual ~Seq2SeqModel() = default;

  virtual ModelInfo info() const = 0;

  virtual void init_weights(uint64_t seed) = 0;
  // Each distinct parameter once, in state_dict order.
  virtual void visit_params(const ParamVisitor& f) = 0;
  virtual int64_t num_params() = 0;
  virtual void alloc_grads() = 0;
  virtual void zero_grads() = 0;

  // Teacher-forced pass: src [B, Ts], tgt_in [B, Tt] → logits [B, Tt, V].
  virtual const Tensor& forward(const TokenBatch& src, const TokenBatch& tgt_in,
                                const ForwardOptions& o) = 0;
  // Accumulates parameter gradients from d_logits [B, Tt, V] (after forward).
  virtual void backward(const Tensor& d_logits) = 0;

  // The weights [B, H, Tq, Tk] of `layer` from the last forward (or decode step).
  virtual const Tensor& attention(AttentionKind kind, int64_t layer) const = 0;
  virtual int64_t num_layers(AttentionKind kind) const = 0;

  // Incremental decoding. start_decoding encodes src [B, Ts] (the encoder self-attention maps
  // are then readable with attention()) and returns the state of B·expand rows, row
  // b·expand + k belonging to sentence b, with room for max_steps positions.
  virtual std::unique_ptr<DecoderState> start_decoding(const TokenBatch& src, int64_t expand,
                                                       int64_t max_steps) = 0;
  // Feeds tokens[r] to every row → logits [rows, V]; attention(kDecoderSelf / kCross, l) then
  // holds this step's weights [rows, H, 1, steps] and [rows, H, 1, Ts]. `state` must come from
  // this model's start_decoding.
  virtual const Tensor& decode_step(DecoderState& state, const std::vector<int32_t>& tokens) = 0;
};

}  // namespace attnscope
