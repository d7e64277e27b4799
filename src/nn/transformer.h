// The encoder–decoder Transformer (PyTorch nn.Transformer plus embeddings and generator):
//
//   memory [B, Ts, D] = EncoderNorm(EncoderLayers(embed(src)·√D + PE))
//   logits [B, Tt, V] = generator(DecoderNorm(DecoderLayers(embed(tgt_in)·√D + PE, memory)))
//
// The config's switches also make it Hugging Face's MarianMTModel (nn/marian_model.h): positions
// in halves or from tables, no final norms, SiLU, the decoder start token distinct from bos and
// unmasked (PaddingMask::kSourceTail), a generator bias (final_logits_bias) on the tied table.
//
// Explicit backward: forward() keeps every activation the backward needs in Activations,
// sized from the batch (buffers grow only when a batch is larger than any before, so a
// training step of a familiar shape allocates nothing). Every attention map of the last
// forward can be read with attention().
#pragma once

#include <vector>

#include "kernels/cpu/packed_linear.h"
#include "nn/attention_kind.h"
#include "nn/decoder_layer.h"
#include "nn/embedding.h"
#include "nn/encoder_layer.h"
#include "nn/model_config.h"
#include "nn/seq2seq_model.h"

namespace attnscope {

// The state of incremental decoding for `rows` decoder rows (sentences × beams): per decoder
// layer, the self-attention K, V of the positions fed so far (entry r: row r) and the
// cross-attention K, V of each sentence's encoder memory, computed once per sentence: the rows of
// a sentence (its beams) read the same entry, so it is stored once, not once per beam.
struct DecoderCache : DecoderState {
  int64_t rows = 0;
  int64_t src_len = 0;                              // Ts
  int64_t steps = 0;                                // positions fed so far
  int64_t capacity = 0;                             // positions the self cache can hold
  std::vector<MultiHeadAttention::StepCache> self;  // per layer: ≥ rows entries × capacity
  // [rows] {r, 1, entry}: the self-cache entry that holds row r's keys and values (the same in
  // every layer). Beam search moves rows by handing over entries rather than copying them.
  std::vector<cpu::StepRun> self_runs;
  std::vector<MultiHeadAttention::StepCache> memory;  // per layer: sentences × Ts
  std::vector<uint8_t> memory_padding;                // [sentences, Ts] 1 = padded source position
  std::vector<int64_t> memory_of;                     // [rows] the sentence of each row
  std::vector<cpu::StepRun> memory_runs;              // runs of rows of one sentence (memory_of)
  // The cache becomes from.size() rows, row r being old row from[r]: beam search follows its
  // backpointers (as many rows) and drops finished sentences (fewer). The first row to continue
  // an old row takes over its entry; only each further continuation is copied (its fed
  // positions, into an entry no row holds any more). A row's sentence follows it without a copy.
  void reorder(const std::vector<int64_t>& from) override;
  // self_runs of rows 0..rows−1 in entries 0..rows−1 (a new cache).
  void reset_self_runs();
  // memory_runs from memory_of.
  void update_memory_runs();
};

class Transformer : public Seq2SeqModel {
 public:
  struct Activations {
    std::vector<uint8_t> src_padding;  // [B, Ts] 1 = pad
    std::vector<uint8_t> tgt_padding;  // [B, Tt]
    Tensor src_embedded;               // [B, Ts, D]
    Tensor tgt_embedded;               // [B, Tt, D]
    std::vector<EncoderLayer::Activations> encoder;
    Tensor memory;  // [B, Ts, D] after encoder.norm
    LayerNorm::Saved encoder_norm;
    std::vector<DecoderLayer::Activations> decoder;
    Tensor decoded;  // [B, Tt, D] after decoder.norm
    LayerNorm::Saved decoder_norm;
    Tensor logits;         // [B, Tt, V]
    Tensor step_embedded;  // decode_step: [rows, D]
    // backward's gradients of the embeddings [B, Ts, D], [B, Tt, D] (input_gradient())
    Tensor d_src_input, d_tgt_input;
    // backward scratch
    Tensor d_decoded, d_memory, d_stream_a, d_stream_b, d_embed_scratch;
  };

  explicit Transformer(const ModelConfig& cfg);
  Transformer(const Transformer&) = delete;
  Transformer& operator=(const Transformer&) = delete;

  const ModelConfig& config() const override { return cfg_; }
  ModelInfo info() const override;

  // Xavier-uniform matrices (as nn.Transformer), N(0, D^-½) embeddings, zero biases, unit norms.
  void init_weights(uint64_t seed) override;
  // Each distinct parameter once, in state_dict order (shared tables visited once).
  void visit_params(const ParamVisitor& f) override;
  int64_t num_params() override;
  void alloc_grads() override;
  void zero_grads() override;

  // Teacher-forced pass: src [B, Ts], tgt_in [B, Tt] → logits [B, Tt, V].
  const Tensor& forward(const TokenBatch& src, const TokenBatch& tgt_in,
                        const ForwardOptions& o) override;
  // Accumulates parameter gradients from d_logits [B, Tt, V] (after forward with the same
  // batch and options).
  void backward(const Tensor& d_logits) override;
  // The same, reporting each layer's parameters as its backward ends (Seq2SeqModel).
  void backward_reporting(const Tensor& d_logits, const ParamVisitor& grad_final) override;

  // Incremental decoding (see Seq2SeqModel): the state is a DecoderCache. The steps multiply by
  // weights packed once (kernels/cpu/packed_linear.h) and kept across decodings: a step has few
  // rows, and cblas_sgemm would pack each weight again on every call (the output layer is most of
  // a step's work when the vocabulary is large).
  std::unique_ptr<DecoderState> start_decoding(const TokenBatch& src, int64_t expand,
                                               int64_t max_steps) override;
  // Feeds tokens[r] at position cache.steps of every row → logits [rows, V].
  const Tensor& decode_step(DecoderState& state, const std::vector<int32_t>& tokens) override;
  // bf16 / int8 decode steps: every step packs the projections and the output layer in that
  // format, whatever the number of rows.
  void set_step_weights(cpu::WeightFormat format) override { step_format_ = format; }
  cpu::WeightFormat step_weights() const override { return step_format_; }

  // The weights [B, H, Tq, Tk] of `layer` from the last forward.
  const Tensor& attention(AttentionKind kind, int64_t layer) const override;
  int64_t num_layers(AttentionKind kind) const override;
  // From the last forward: v [B, H, Tk, d_head] and out_proj.weight [D, D] of the layer.
  Tensor attention_values(AttentionKind kind, int64_t layer) const override;
  const Tensor& attention_output_weight(AttentionKind kind, int64_t layer) const override;
  // Attribution: scale·table[ids] [B, T, D]; after backward, ∂/∂ those [B, T, D].
  Tensor token_embeddings(InputSide side, const TokenBatch& ids) const override;
  const Tensor& input_gradient(InputSide side) const override;
  // Head gates on every attention layer (MultiHeadAttention::set_head_gates).
  void set_head_gates(AttentionKind kind, int64_t layer, std::vector<float> gates) override;
  std::vector<float> head_gates(AttentionKind kind, int64_t layer) const override;
  Tensor head_gate_gradient(AttentionKind kind, int64_t layer) const override;
  // generator.weight / src_embed.weight when the config ties or shares them.
  std::string unexpected_tensor_hint(const std::string& name) const override;
  const Activations& activations() const { return act_; }

 protected:
  // The config a model of a derived architecture (MarianModel) was built from is its own.
  const ModelConfig& transformer_config() const { return cfg_; }

 private:
  // With `packed`, the encoder's projections read packed_encoder_ (decoding, at every precision).
  void encode(const TokenBatch& src, const ForwardOptions& o, bool packed = false);
  void decode(const TokenBatch& tgt_in, const ForwardOptions& o);
  StackCall encoder_call() const;
  StackCall decoder_call() const;
  float embed_scale() const;
  const Tensor& src_positions() const;  // [max_len, D]
  const Tensor& tgt_positions() const;
  Param& src_table() { return cfg_.share_embeddings ? tgt_embed_.weight : src_embed_.weight; }
  const Param& src_table() const {
    return cfg_.share_embeddings ? tgt_embed_.weight : src_embed_.weight;
  }
  // The attention module of (kind, layer) and its activations of the last forward (checked).
  MultiHeadAttention& attention_module(AttentionKind kind, int64_t layer);
  const MultiHeadAttention& attention_module(AttentionKind kind, int64_t layer) const;
  const MultiHeadAttention::Activations& attention_activations(AttentionKind kind,
                                                               int64_t layer) const;
  Param& generator_weight() { return cfg_.tie_output ? tgt_embed_.weight : generator_.weight; }

  ModelConfig cfg_;
  Embedding src_embed_, tgt_embed_;
  PositionalEncoding pe_;                // Positions::kSinusoid / kSinusoidHalves
  Param src_positions_, tgt_positions_;  // Positions::kTable, [max_len, D]
  std::vector<EncoderLayer> encoder_;
  LayerNorm encoder_norm_;
  std::vector<DecoderLayer> decoder_;
  LayerNorm decoder_norm_;
  Linear generator_;  // weight unused (and not visited) when tie_output

  Activations act_;
  // The decode steps' weights, packed by the first decode_step that needs them in format
  // packed_format_, kept while packed_valid_ (visit_params, which may change any weight, clears
  // it).
  cpu::PackedWeight packed_generator_;
  std::vector<DecoderLayer::PackedStep> packed_layers_;
  bool packed_valid_ = false;
  // The encoder's projections in step_format_, packed by start_decoding (any format).
  std::vector<EncoderLayer::Packed> packed_encoder_;
  // Per decoder layer, cross-attention's K|V projection of the memory, packed with the encoder.
  std::vector<cpu::PackedWeight> packed_memory_kv_;
  bool packed_encoder_valid_ = false;
  cpu::WeightFormat packed_encoder_format_ = cpu::WeightFormat::kF32;
  cpu::WeightFormat packed_format_ = cpu::WeightFormat::kF32;
  cpu::WeightFormat step_format_ = cpu::WeightFormat::kF32;
  TokenBatch src_, tgt_;  // the last forward's batch, for backward
  ForwardOptions last_;
};

}  // namespace attnscope
