// arch "rnn-attention": an RNN encoder–decoder with additive attention (Bahdanau, Cho and
// Bengio 2015, with LSTMs):
//
//   x⟨t'⟩ = src_embed(src[t'])                                       [B, Ts, E]
//   a⟨t'⟩ = [→h⟨t'⟩ ; ←h⟨t'⟩]   bidirectional LSTM "encoder"            [B, Ts, 2H]
//   s⟨−1⟩ = tanh(bridge(←h⟨0⟩)),  cell 0                               [B, Hd]
//           (←h⟨0⟩: the backward LSTM's final state, which has read the whole sentence)
//   for each output step t = 0 … Tt−1 (tgt_in[t] = y⟨t−1⟩, bos at t = 0):
//     e⟨t,t'⟩ = vᵀ tanh(W s⟨t−1⟩ + U a⟨t'⟩ + b_U)    "attention" (nn/additive_attention.h)
//     α⟨t,·⟩ = softmax over the real (non-pad) t' of e⟨t,·⟩            [B, Ts]
//     c⟨t⟩   = Σ_t' α⟨t,t'⟩ a⟨t'⟩                                        [B, 2H]
//     s⟨t⟩   = LSTMCell([tgt_embed(y⟨t−1⟩) ; c⟨t⟩], s⟨t−1⟩)   "decoder"   [B, Hd]
//     logits⟨t⟩ = generator([s⟨t⟩ ; c⟨t⟩])                              [B, V]
//
// The attention reads s⟨t−1⟩, the state before step t: s⟨t⟩ depends on c⟨t⟩, so it cannot exist
// yet. α is kept as [B, 1, Tt, Ts] — the layout of a Transformer's cross-attention with one layer
// and one head — so every tool that shows cross-attention shows it unchanged.
//
// Padding: source positions equal to pad_id are masked out of both LSTM directions (a padded
// step keeps the state and outputs 0, so the backward direction starts at each sentence's last
// real token, as PyTorch's packed sequences do) and get exactly 0 attention. Target positions
// are not masked: the decoder runs left to right, so padding at the end of tgt_in cannot reach
// a real position; the loss ignores what is computed there.
//
// Parameter names are what a PyTorch twin with these submodules would have (state_dict order):
//   src_embed.weight [Vs, E], tgt_embed.weight [Vt, E],
//   encoder.{weight_ih,weight_hh,bias_ih,bias_hh}_l0[_reverse]       nn.LSTM(E, H, bidirectional)
//   bridge.weight [Hd, H], bridge.bias [Hd]                            nn.Linear(H, Hd)
//   attention.W.weight [A, Hd], attention.U.weight [A, 2H], attention.U.bias [A],
//   attention.v.weight [1, A]
//   decoder.{weight_ih [4Hd, E+2H], weight_hh [4Hd, Hd], bias_ih, bias_hh}   nn.LSTMCell
//   generator.weight [Vt, Hd+2H], generator.bias [Vt]                  nn.Linear(Hd+2H, Vt)
//
// No dropout (yet). Written once for Real = float (the engine) and Real = double
// (finite-difference checks); see nn/precision.h.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "nn/additive_attention.h"
#include "nn/arch_config.h"
#include "nn/lstm.h"
#include "nn/precision.h"

namespace attnscope {

// The architecture of an "rnn-attention" model (ModelConfig describes Transformers only: its
// validate() accepts arch "transformer" and its sizes are d_model/heads/layers).
struct RnnConfig : ArchConfig {
  int64_t embed_size = 64;       // E, both sides
  int64_t encoder_hidden = 128;  // H per direction; the annotations a are 2H wide
  int64_t decoder_hidden = 128;  // Hd
  int64_t attention_size = 128;  // A, the width of W s + U a
  int64_t src_vocab = 8000;
  int64_t tgt_vocab = 8000;
  int32_t pad_id = 0;
  int32_t bos_id = 1;
  int32_t eos_id = 2;
  int32_t unk_id = 3;
  int64_t max_len = 256;  // longest sequence training and decoding accept (no positional table)

  int64_t annotation_size() const { return 2 * encoder_hidden; }

  std::string arch() const override { return "rnn-attention"; }
  std::unique_ptr<ArchConfig> clone() const override;
  // config.json's keys are exactly these field names.
  void visit_fields(ConfigFields& f) override;
  int64_t parameter_count() const override;
  std::string summary() const override;
  void set_vocabularies(int64_t src, int64_t tgt) override;

 protected:
  void check_rules() const override;  // the special ids distinct and inside both vocabularies
  std::unique_ptr<Seq2SeqModel> build_model() const override;  // an RnnSeq2SeqModel
};

// Incremental decoding of `rows` rows (sentences × beams): the encoder's output, computed once,
// and the decoder state s⟨t−1⟩ (h) with its cell.
template <typename Real>
struct BasicRnnDecoderState {
  int64_t rows = 0;
  int64_t src_len = 0;               // Ts
  int64_t steps = 0;                 // tokens fed so far
  TensorOf<Real> annotations;        // a [rows, Ts, 2H]
  TensorOf<Real> keys_proj;          // U·a + b_U [rows, Ts, A]
  std::vector<uint8_t> src_padding;  // [rows, Ts] 1 = padded source position
  TensorOf<Real> h, c;               // [rows, Hd] the state the next step starts from
  TensorOf<Real> alpha;              // [rows, 1, 1, Ts] the last step's weights
  TensorOf<Real> logits;             // [rows, V] the last step's output
  TensorOf<Real> x, gates, query_proj, context, out, h_next, c_next;  // step scratch
  // The state becomes from.size() rows, row r being old row from[r] (beam search follows its
  // backpointers and drops finished sentences).
  void reorder(const std::vector<int64_t>& from);
};

template <typename Real>
class BasicRnnAttentionModel {
 public:
  using TensorT = TensorOf<Real>;
  using ParamT = ParamOf<Real>;
  using DecoderState = BasicRnnDecoderState<Real>;

  struct Activations {
    int64_t B = 0, Ts = 0, Tt = 0;
    std::vector<uint8_t> src_padding;  // [B, Ts] 1 = pad
    TensorT src_embedded;              // [B, Ts, E]
    typename BasicLstm<Real>::Activations enc_fwd, enc_bwd;
    TensorT annotations;   // a [B, Ts, 2H]: forward states | backward states
    TensorT keys_proj;     // [B, Ts, A]
    TensorT tgt_embedded;  // [B, Tt, E]
    TensorT dec_h;         // [Tt + 1, B, Hd]: dec_h[0] = s⟨−1⟩, dec_h[t + 1] = s⟨t⟩
    TensorT dec_c;         // [Tt + 1, B, Hd] the cells, dec_c[0] = 0
    TensorT dec_x;         // [Tt, B, E + 2H] the decoder input [embed(y⟨t−1⟩) ; c⟨t⟩]
    TensorT dec_gates;     // [Tt, B, 4Hd]
    TensorT query_proj;    // [Tt, B, A] W·s⟨t−1⟩
    TensorT alpha_steps;   // [Tt, B, Ts]
    TensorT context;       // [Tt, B, 2H] c⟨t⟩
    TensorT out;           // [B, Tt, Hd + 2H] the generator's input [s⟨t⟩ ; c⟨t⟩]
    TensorT logits;        // [B, Tt, V]
    TensorT alpha;         // [B, 1, Tt, Ts] α⟨t,t'⟩ (one layer, one head)
    // backward scratch
    TensorT d_out, d_annotations, d_keys_proj, d_src_embedded, d_h, d_h_prev, d_c, d_c_prev,
        d_context, d_x, d_gates, d_bridge, d_final;
    typename BasicAdditiveAttention<Real>::Scratch attention_scratch;
  };

  explicit BasicRnnAttentionModel(const RnnConfig& cfg);
  BasicRnnAttentionModel(const BasicRnnAttentionModel&) = delete;
  BasicRnnAttentionModel& operator=(const BasicRnnAttentionModel&) = delete;

  const RnnConfig& config() const { return cfg_; }

  // PyTorch's default initialisation: embeddings N(0, 1); LSTM weights and biases
  // U(−1/√hidden, 1/√hidden); the Linear-like maps (bridge, W, U, v, generator) U(−1/√in, 1/√in).
  void init_weights(uint64_t seed);
  // Every parameter once, in the state_dict order listed at the top of this file.
  void visit_params(const std::function<void(ParamT&)>& f);
  int64_t num_params();
  void alloc_grads();
  void zero_grads();

  // Teacher-forced pass: src [B, Ts], tgt_in [B, Tt] → logits [B, Tt, V]; attention() holds α.
  const TensorT& forward(const TokenBatch& src, const TokenBatch& tgt_in);
  // Accumulates every parameter's gradient from d_logits [B, Tt, V] (after forward).
  void backward(const TensorT& d_logits);
  // α [B, 1, Tt, Ts] of the last forward.
  const TensorT& attention() const { return act_.alpha; }
  const Activations& activations() const { return act_; }

  // Incremental decoding: encodes src [B, Ts] once; row b·expand + k belongs to sentence b.
  DecoderState start_decoding(const TokenBatch& src, int64_t expand) const;
  // Feeds tokens[r] (y⟨t−1⟩) to every row → logits [rows, V]; state.alpha holds the step's
  // weights [rows, 1, 1, Ts]. The same numbers as forward() at that position.
  const TensorT& decode_step(DecoderState& state, const std::vector<int32_t>& tokens) const;

  // In state_dict order.
  ParamT src_embed, tgt_embed;               // [Vs, E], [Vt, E]
  BasicLstm<Real> encoder_fwd, encoder_bwd;  // "encoder" …_l0 and …_l0_reverse
  ParamT bridge_weight, bridge_bias;         // [Hd, H], [Hd]
  BasicAdditiveAttention<Real> attn;         // "attention"
  BasicLstm<Real> decoder;                   // nn.LSTMCell(E + 2H, Hd)
  ParamT generator_weight, generator_bias;   // [Vt, Hd + 2H], [Vt]

 private:
  struct Encoded {  // where encode() writes
    TensorT* embedded;
    typename BasicLstm<Real>::Activations* fwd;
    typename BasicLstm<Real>::Activations* bwd;
    TensorT* annotations;
    TensorT* keys_proj;
    Real* h0;  // [B, Hd]
  };
  void encode(const TokenBatch& src, std::vector<uint8_t>& padding, Encoded e) const;
  // One decoder step for `rows` rows. x [rows, E + 2H] holds embed(y⟨t−1⟩) in its first E
  // columns; the step writes its context columns, then query_proj [rows, A], alpha [rows, Ts],
  // context [rows, 2H], gates [rows, 4Hd], h, c [rows, Hd], and out [rows, Hd + 2H] with row
  // stride out_stride.
  void step(const Real* annotations, const Real* keys_proj, const uint8_t* padding, int64_t rows,
            int64_t Ts, const Real* h_prev, const Real* c_prev, Real* x, Real* query_proj,
            Real* alpha, Real* context, Real* gates, Real* h, Real* c, Real* out,
            int64_t out_stride) const;

  RnnConfig cfg_;
  Activations act_;
  TokenBatch src_, tgt_;  // the last forward's batch, for backward
};

using RnnAttentionModel = BasicRnnAttentionModel<float>;
using RnnDecoderState = BasicRnnDecoderState<float>;

extern template struct BasicRnnDecoderState<float>;
extern template struct BasicRnnDecoderState<double>;
extern template class BasicRnnAttentionModel<float>;
extern template class BasicRnnAttentionModel<double>;

}  // namespace attnscope
