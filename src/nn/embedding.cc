#include "nn/embedding.h"

#include <algorithm>

#include "core/error.h"
#include "kernels/cpu/dropout.h"
#include "kernels/cpu/embedding.h"

namespace attnscope {

PositionalEncoding::PositionalEncoding(int64_t max_len, int64_t d_model, cpu::PositionLayout layout)
    : table_({max_len, d_model}) {
  cpu::positional_encoding(table_.data(), max_len, d_model, layout);
}

namespace {
void check_ids(const char* side, const TokenBatch& ids, int64_t V) {
  const int64_t B = ids.rows, T = ids.cols;
  ATTN_CHECK(B > 0 && T > 0, "{} batch is empty ([{}, {}])", side, B, T);
  ATTN_CHECK(static_cast<int64_t>(ids.ids.size()) == B * T, "{} batch holds {} ids for [{}, {}]",
             side, ids.ids.size(), B, T);
  for (int64_t i = 0; i < B * T; ++i) {
    const int32_t id = ids.ids[static_cast<size_t>(i)];
    ATTN_CHECK(id >= 0 && id < V,
               "{} token id {} at sequence {}, position {} is outside the "
               "vocabulary of {} ids",
               side, id, i / T, i % T, V);
  }
}

void check_positions(const char* side, int64_t T, int64_t D, const Tensor& positions) {
  ATTN_CHECK(positions.rank() == 2 && positions.dim(1) == D,
             "{} positions {} are not [max_len, {}]", side, positions.shape_str(), D);
  ATTN_CHECK(T <= positions.dim(0), "{} sequence of {} tokens is longer than max_len {}", side, T,
             positions.dim(0));
}
}  // namespace

void embed_tokens(const char* side, const TokenBatch& ids, const Param& table, float scale,
                  const Tensor& positions, float p, uint64_t seed, Tensor& out) {
  const int64_t B = ids.rows, T = ids.cols, D = table.value.dim(1), V = table.value.dim(0);
  check_ids(side, ids, V);
  check_positions(side, T, D, positions);
  out.resize({B, T, D});
  cpu::embedding_forward(ids.ids.data(), table.value.data(), out.data(), B * T, D, V, scale);
  cpu::add_positional_encoding(out.data(), positions.data(), B, T, D);
  if (p > 0) cpu::dropout_forward(out.data(), out.data(), B * T * D, p, seed);
}

Tensor token_embeddings(const char* side, const TokenBatch& ids, const Param& table, float scale) {
  const int64_t D = table.value.dim(1), V = table.value.dim(0);
  check_ids(side, ids, V);
  Tensor out({ids.rows, ids.cols, D});
  cpu::embedding_forward(ids.ids.data(), table.value.data(), out.data(), ids.rows * ids.cols, D, V,
                         scale);
  return out;
}

void embed_given(const char* side, const TokenBatch& ids, const Tensor& given,
                 const Tensor& positions, Tensor& out) {
  const int64_t B = ids.rows, T = ids.cols, D = positions.rank() == 2 ? positions.dim(1) : 0;
  ATTN_CHECK(given.rank() == 3 && given.dim(0) == B && given.dim(1) == T && given.dim(2) == D,
             "{} embeddings {} given for a batch of [{}, {}] tokens of width {}", side,
             given.shape_str(), B, T, D);
  check_positions(side, T, D, positions);
  out.resize({B, T, D});
  std::copy(given.data(), given.data() + given.numel(), out.data());
  cpu::add_positional_encoding(out.data(), positions.data(), B, T, D);
}

void embed_tokens_backward(const TokenBatch& ids, const float* d_out, Param& table, float scale,
                           float p, uint64_t seed, Tensor& scratch, float* d_positions) {
  const int64_t n = ids.rows * ids.cols, D = table.value.dim(1);
  const float* d = d_out;
  if (p > 0) {
    scratch.resize_zero({n, D});
    cpu::dropout_backward(d_out, scratch.data(), n * D, p, seed);
    d = scratch.data();
  }
  cpu::embedding_backward(ids.ids.data(), d, table.grad.data(), n, D, scale);
  if (d_positions != nullptr)
    cpu::add_positional_encoding_backward(d, d_positions, ids.rows, ids.cols, D);
}

}  // namespace attnscope
