// Token embeddings scaled by √d_model (when embed_scale), plus positions (a fixed sinusoid or a
// table of parameters), plus dropout: the input of both stacks.
#pragma once

#include <string>

#include "core/tensor.h"
#include "kernels/cpu/positional_encoding.h"
#include "nn/param.h"

namespace attnscope {

class Embedding {
 public:
  Embedding() = default;
  Embedding(const std::string& name, int64_t vocab, int64_t d_model)
      : weight(name + ".weight", {vocab, d_model}) {}
  int64_t vocab() const { return weight.value.dim(0); }
  int64_t dim() const { return weight.value.dim(1); }
  Param weight;  // [vocab, D]
};

// The fixed sinusoidal table [max_len, D] in one of its layouts, computed once.
class PositionalEncoding {
 public:
  PositionalEncoding() = default;
  PositionalEncoding(int64_t max_len, int64_t d_model,
                     cpu::PositionLayout layout = cpu::PositionLayout::kInterleaved);
  const Tensor& table() const { return table_; }
  const float* data() const { return table_.data(); }
  int64_t max_len() const { return table_.dim(0); }

 private:
  Tensor table_;
};

// out [B, T, D] = scale · table[ids] + positions[:T], then dropout(p, seed). positions is
// [max_len, D]. Throws attnscope::Error naming the side ("source"/"target") for a token id
// outside the vocabulary or T > max_len.
void embed_tokens(const char* side, const TokenBatch& ids, const Param& table, float scale,
                  const Tensor& positions, float p, uint64_t seed, Tensor& out);
// scale · table[ids] [B, T, D]: the token embeddings before positions (the ids checked as above).
Tensor token_embeddings(const char* side, const TokenBatch& ids, const Param& table, float scale);
// out [B, T, D] = given + positions[:T]: the embedding with the token embeddings replaced (by
// attribution's interpolations). Throws attnscope::Error naming the side unless given is [B, T, D].
void embed_given(const char* side, const TokenBatch& ids, const Tensor& given,
                 const Tensor& positions, Tensor& out);
// Accumulates table.grad from d_out [B, T, D] (the dropout mask is regenerated from seed), and
// d_positions [max_len, D] when it is not null (a position table that is a parameter).
void embed_tokens_backward(const TokenBatch& ids, const float* d_out, Param& table, float scale,
                           float p, uint64_t seed, Tensor& scratch, float* d_positions = nullptr);

}  // namespace attnscope
