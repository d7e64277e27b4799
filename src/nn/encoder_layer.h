// nn.TransformerEncoderLayer: self-attention, then the FFN, each in a ResidualBlock.
#pragma once

#include "nn/feed_forward.h"
#include "nn/model_config.h"
#include "nn/multi_head_attention.h"
#include "nn/residual_block.h"

namespace attnscope {

// What one pass through a layer stack needs besides its input: batch sizes, masks, dropout.
struct StackCall {
  int64_t B = 0, T = 0;                     // queries: this stack's sequence
  int64_t Tm = 0;                           // decoder: memory (source) length
  const uint8_t* self_padding = nullptr;    // [B, T] nonzero = padding key
  const uint8_t* memory_padding = nullptr;  // [B, Tm] decoder: padded source keys
  float dropout = 0.0f;                     // 0 when not training
  uint64_t step_seed = 0;
};

class EncoderLayer {
 public:
  struct Activations {
    MultiHeadAttention::Activations attn;  // attn.probs: the encoder self-attention [B,H,T,T]
    FeedForward::Activations ffn;
    ResidualBlock::Activations attn_block, ffn_block;
    Tensor d_mid;  // backward scratch: gradient of attn_block.out [B, T, D]
    const Tensor& out() const { return ffn_block.out; }  // [B, T, D]
  };

  EncoderLayer() = default;
  EncoderLayer(const ModelConfig& cfg, int64_t index);

  // The layer's projections packed in bf16 or int8 for a decoding's encoder (--precision).
  struct Packed {
    MultiHeadAttention::PackedStep self_attn;
    FeedForward::PackedStep ffn;
  };
  void pack(Packed& p, cpu::WeightFormat format) const;
  // x [B, T, D] → a.out() [B, T, D]; with `packed` (no dropout) through those weights, each
  // residual added by its sub-layer's last product (ResidualBlock::forward_fused).
  void forward(const float* x, const StackCall& c, Activations& a,
               const Packed* packed = nullptr) const;
  // Accumulates dx [B, T, D] from d_out [B, T, D].
  void backward(const float* x, const float* d_out, float* dx, const StackCall& c, Activations& a);
  void visit_params(const ParamVisitor& f);

  MultiHeadAttention self_attn;
  FeedForward ffn;
  ResidualBlock attn_block;  // holds norm1
  ResidualBlock ffn_block;   // holds norm2

 private:
  AttentionCall self_call(const StackCall& c) const;
  int64_t index_ = 0;
};

}  // namespace attnscope
