// nn.TransformerDecoderLayer: masked self-attention, cross-attention over the encoder memory,
// then the FFN, each in a ResidualBlock.
#pragma once

#include "nn/dropout_sites.h"
#include "nn/encoder_layer.h"

namespace attnscope {

class DecoderLayer {
 public:
  struct Activations {
    MultiHeadAttention::Activations self_attn;   // probs: [B, H, T, T], look-ahead masked
    MultiHeadAttention::Activations cross_attn;  // probs: [B, H, T, Tm]
    FeedForward::Activations ffn;
    ResidualBlock::Activations self_block, cross_block, ffn_block;
    Tensor d_mid1, d_mid2;  // backward scratch: gradients of self_block.out, cross_block.out
    const Tensor& out() const { return ffn_block.out; }  // [B, T, D]
  };

  DecoderLayer() = default;
  DecoderLayer(const ModelConfig& cfg, int64_t index);

  // x [B, T, D], memory [B, Tm, D] → a.out() [B, T, D]
  void forward(const float* x, const float* memory, const StackCall& c, Activations& a) const;
  // Accumulates dx [B, T, D] and d_memory [B, Tm, D].
  void backward(const float* x, const float* memory, const float* d_out, float* dx, float* d_memory,
                const StackCall& c, Activations& a);
  // The layer's weights packed for decode steps (kernels/cpu/packed_linear.h), once per decoding.
  struct PackedStep {
    MultiHeadAttention::PackedStep self_attn, cross_attn;
    FeedForward::PackedStep ffn;
  };
  void pack_step(PackedStep& p, cpu::WeightFormat format = cpu::WeightFormat::kF32) const;
  // Incremental decoding of position t for B rows: x [B, D] → a.out() [B, D]. self_cache is this
  // layer's self-attention cache, row r's keys and values in entry self_runs[r].entry (runs of one
  // row each, in order; MultiHeadAttention::forward_self_step), memory_cache its projected encoder
  // memory (Ts positions per sentence; memory_padding [sentences, Ts]), which the rows of
  // memory_runs[i] read at entry memory_runs[i].entry. No dropout, no backward. With `packed` the
  // projections read it.
  void forward_step(const float* x, int64_t B, int64_t t, MultiHeadAttention::StepCache& self_cache,
                    const std::vector<cpu::StepRun>& self_runs,
                    const MultiHeadAttention::StepCache& memory_cache, int64_t Ts,
                    const uint8_t* memory_padding, const std::vector<cpu::StepRun>& memory_runs,
                    Activations& a, const PackedStep* packed = nullptr) const;
  void visit_params(const ParamVisitor& f);

  MultiHeadAttention self_attn;
  MultiHeadAttention cross_attn;  // PyTorch: multihead_attn
  FeedForward ffn;
  ResidualBlock self_block;   // norm1
  ResidualBlock cross_block;  // norm2
  ResidualBlock ffn_block;    // norm3

 private:
  AttentionCall self_call(const StackCall& c) const;
  AttentionCall cross_call(const StackCall& c) const;
  uint64_t seed(const StackCall& c, DropoutSite s) const;
  int64_t index_ = 0;
};

}  // namespace attnscope
