// Everything the trainer, beam search, checkpoints, model directories, the inspection tools and
// the CLI need from an encoder–decoder model, whatever its architecture: arch "transformer"
// (nn/transformer.h) and arch "rnn-attention" (nn/rnn_seq2seq_model.h, over
// nn/rnn_attention_model.h) implement it, and nothing outside nn/ knows which one it holds.
// io/architectures.h lists the architectures; config() is what config.json saves.
//
// Attention is read by kind and layer as [B, H, Tq, Tk] (after forward) or [rows, H, 1, Tk]
// (after decode_step). What an architecture lacks is asked, not assumed: a kind it does not
// have has num_layers(kind) == 0 (the RNN has only kCross, one layer of one head), and
// info().value_vectors says whether attention_values() can be read.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "kernels/cpu/quantized_linear.h"
#include "nn/arch_config.h"
#include "nn/attention_kind.h"
#include "nn/generation_config.h"
#include "nn/param.h"

namespace attnscope {

// Which side of the model an input embedding or its gradient belongs to.
enum class InputSide { kSource, kTarget };

struct ForwardOptions {
  bool training = false;   // dropout on (config.dropout) when true; architectures without
                           // dropout (rnn-attention) ignore it
  uint64_t step_seed = 0;  // dropout masks derive from it
  // Attribution (inspect/attribution.h, when info().input_gradients): a side's token embeddings,
  // what token_embeddings() gives for its ids, replaced by these [B, T, D] (a Transformer still
  // adds its positions; masks still come from the ids). Not while training.
  const Tensor* src_embeddings = nullptr;
  const Tensor* tgt_embeddings = nullptr;
};

// What every architecture's config has in common, and what the model can show.
struct ModelInfo {
  std::string arch;
  int64_t src_vocab = 0, tgt_vocab = 0;
  int64_t max_len = 0;  // longest sequence (source, or target with bos) the model takes
  int64_t heads = 1;    // heads of every attention map it shows
  int64_t d_model = 0;  // width of the residual stream; 0 when the architecture has none
  int32_t pad_id = 0, bos_id = 1, eos_id = 2, unk_id = 3;
  // The decoder's first input: bos_id for attnscope's own models; a Marian model's
  // decoder_start_token_id (its pad id), which the decoder attends to like any token.
  int32_t decoder_start_id = 1;
  // How the model's files say to translate (Hugging Face's generation config), when they do:
  // decoding then follows Hugging Face's rules (decode/generation.h). Unset for attnscope's
  // own models.
  std::optional<GenerationConfig> generation;
  // Whether attention_values() / attention_output_weight() can be read: value vectors and an
  // output projection per head, as value-weighted contributions need (inspect/contributions.h).
  bool value_vectors = false;
  // Where the model computes (nn/device.h): "cpu", or e.g. "cuda (NVIDIA H200, bf16)". A model
  // on a device ranks each decoding step's tokens there (decode_step_topk), and beam search asks
  // it for only the best few per row instead of every logit.
  std::string device = "cpu";
  bool on_device = false;
  // Whether token_embeddings(), ForwardOptions::src/tgt_embeddings and input_gradient() work:
  // gradients with respect to the input embeddings, for attribution (inspect/attribution.h).
  bool input_gradients = false;
  // Whether each attention head has a gate (set_head_gates, head_gate_gradient): to switch heads
  // off (--mask-heads) and to rank them (inspect/head_analysis.h). A model of one head per
  // attention (rnn-attention) has none: switching off its only head removes attention altogether.
  bool head_gates = false;
};

// One decoding step as beam search ranks it (Seq2SeqModel::decode_step_topk): for each row r,
// the k best offsets[r] + log p(v | row r) over the tokens v not banned.
struct StepTopKRequest {
  std::vector<float> offsets;   // [rows] the row's running log-probability
  int64_t k = 1;                // ≥ 1
  std::vector<int32_t> banned;  // never selected (they still count in the normalisation)
};
struct StepTopK {
  int64_t k = 0;
  std::vector<float> values;  // [rows, k] best first; −∞ past the selectable tokens
  std::vector<int32_t> ids;   // [rows, k] ties to the smaller id; −1 past the selectable tokens
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
  // The config this model was built from: config.json is written from it.
  virtual const ArchConfig& config() const = 0;

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
  // backward, calling grad_final(p) for each parameter as soon as nothing later in this backward
  // adds to p.grad: every parameter of visit_params exactly once, roughly in reverse visit order
  // (the top of the model first). Data-parallel training starts summing those gradients over
  // the ranks while the rest of backward runs. The default reports them all after backward, in
  // reverse visit order; a Transformer reports each layer as its backward ends.
  virtual void backward_reporting(const Tensor& d_logits, const ParamVisitor& grad_final);

  // The weights [B, H, Tq, Tk] of `layer` from the last forward (or decode step).
  virtual const Tensor& attention(AttentionKind kind, int64_t layer) const = 0;
  virtual int64_t num_layers(AttentionKind kind) const = 0;
  // The same weights for the listed heads only: [B, heads.size(), Tq, Tk], head k of the result
  // being head heads[k] (each in [0, H)). The default copies them out of attention(); a model on
  // a device computes only these heads (from each row's log-sum-exp, exactly). A device model
  // computes the weights of a decode step on demand: ask before the next decode_step.
  virtual Tensor attention_heads(AttentionKind kind, int64_t layer,
                                 const std::vector<int64_t>& heads) const;

  // What attention mixes, for value-weighted contributions (when info().value_vectors; the
  // defaults throw attnscope::Error saying the architecture has none). From the last forward()
  // only: a decode step keeps one query row, and asking then is an error.
  //
  // The value vectors of `layer`, head by head: [B, H, Tk, d_head], row j of head h being
  // v^h_j = x_j·W_V^h + b_V^h (x the keys' input: the layer's own input for self-attention,
  // the encoder output for cross-attention). A copy.
  virtual Tensor attention_values(AttentionKind kind, int64_t layer) const;
  // The output projection W_O [D, H·d_head] of `layer` (PyTorch's out_proj.weight): the layer's
  // output is concat_h(Σ_j α^h_ij v^h_j) · W_Oᵀ + b_O, so head h's part of it goes through the
  // columns h·d_head … (h+1)·d_head − 1.
  virtual const Tensor& attention_output_weight(AttentionKind kind, int64_t layer) const;

  // Inputs and their gradients (when info().input_gradients; the defaults throw attnscope::Error
  // saying the architecture has none). The token embeddings of `ids` as the model's stack reads
  // them before positions are added: [B, T, D] (a Transformer's table·√D when it scales them).
  virtual Tensor token_embeddings(InputSide side, const TokenBatch& ids) const;
  // After backward() of an inference forward(): ∂/∂(token embeddings of `side`) [B, T, D], the
  // gradient of what backward was given (Σ d_logits · logits) — the same as with respect to the
  // stack's input, positions being added to the embeddings.
  virtual const Tensor& input_gradient(InputSide side) const;

  // Head gates (when info().head_gates; the defaults throw attnscope::Error saying the
  // architecture has none): head h of `layer` adds gate[h] × its output, before W_O — 1 as
  // trained, 0 switched off. gates: [H] finite values; empty restores every head.
  virtual void set_head_gates(AttentionKind kind, int64_t layer, std::vector<float> gates);
  // The gates [H] of `layer` (all 1 unless set).
  virtual std::vector<float> head_gates(AttentionKind kind, int64_t layer) const;
  // After backward(): ∂/∂gate[h] for each sequence of the batch, [B, H] (at the gates set).
  virtual Tensor head_gate_gradient(AttentionKind kind, int64_t layer) const;

  // A tensor of the weights file `file` that visit_params does not yield (after every parameter
  // was loaded). Returning accepts it: an architecture whose files also carry copies of its
  // parameters (tied tables, fixed position tables) checks them here. The default refuses
  // every one — a typo must not pass silently — with an Error naming the file, the tensor and
  // unexpected_tensor_hint(name).
  virtual void check_extra_tensor(const std::string& file, const std::string& name,
                                  const Tensor& t) const;
  // Why a file may hold `name` although the model has no such parameter (e.g. its config ties it
  // to another), for that error; empty when there is nothing to add.
  virtual std::string unexpected_tensor_hint(const std::string& name) const;

  // Incremental decoding. start_decoding encodes src [B, Ts] (the encoder self-attention maps
  // are then readable with attention()) and returns the state of B·expand rows, row
  // b·expand + k belonging to sentence b, with room for max_steps positions.
  virtual std::unique_ptr<DecoderState> start_decoding(const TokenBatch& src, int64_t expand,
                                                       int64_t max_steps) = 0;
  // Feeds tokens[r] to every row → logits [rows, V]; attention(kDecoderSelf / kCross, l) then
  // holds this step's weights [rows, H, 1, steps] and [rows, H, 1, Ts]. `state` must come from
  // this model's start_decoding.
  virtual const Tensor& decode_step(DecoderState& state, const std::vector<int32_t>& tokens) = 0;
  // decode_step, returning only each row's k best continuations (StepTopKRequest): beam search's
  // step on a model with info().on_device, so that only these k numbers per row cross to the
  // host. The default ranks the logits of decode_step() on the host (cpu::log_softmax_forward,
  // as beam search does itself), so both ways give the same hypotheses.
  virtual void decode_step_topk(DecoderState& state, const std::vector<int32_t>& tokens,
                                const StepTopKRequest& request, StepTopK& out);
  // The format of the weights decode steps multiply by on the CPU (`--precision`): fp32 (the
  // default), or bf16 / int8 (kernels/cpu/quantized_linear.h) for the decoder's projections and
  // the output layer; the encoder and the attention itself stay fp32. Takes effect at the next
  // start_decoding. The default refuses anything but fp32 (an architecture without packed steps).
  virtual void set_step_weights(cpu::WeightFormat format);
  virtual cpu::WeightFormat step_weights() const { return cpu::WeightFormat::kF32; }

 protected:
  // The error of an architecture without value vectors (the defaults above).
  [[noreturn]] void no_value_vectors() const;
  // The errors of an architecture without input gradients or head gates.
  [[noreturn]] void no_input_gradients() const;
  [[noreturn]] void no_head_gates() const;
};

}  // namespace attnscope
