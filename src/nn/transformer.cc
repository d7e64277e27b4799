#include "nn/transformer.h"

#include <fmt/format.h>

#include <cmath>
#include <cstring>

#include "core/error.h"
#include "core/rng.h"
#include "kernels/cpu/activation.h"
#include "kernels/cpu/embedding.h"
#include "kernels/cpu/gemm.h"
#include "nn/dropout_sites.h"

namespace attnscope {

Transformer::Transformer(const ModelConfig& cfg) : cfg_(cfg) {
  cfg_.validate();
  const int64_t D = cfg_.d_model;
  if (!cfg_.share_embeddings) src_embed_ = Embedding("src_embed", cfg_.src_vocab, D);
  tgt_embed_ = Embedding("tgt_embed", cfg_.tgt_vocab, D);
  if (cfg_.positions == Positions::kTable) {
    src_positions_ = Param("src_positions.weight", {cfg_.max_len, D});
    tgt_positions_ = Param("tgt_positions.weight", {cfg_.max_len, D});
  } else {
    pe_ = PositionalEncoding(cfg_.max_len, D,
                             cfg_.positions == Positions::kSinusoidHalves
                                 ? cpu::PositionLayout::kHalves
                                 : cpu::PositionLayout::kInterleaved);
  }
  for (int64_t l = 0; l < cfg_.encoder_layers; ++l) encoder_.emplace_back(cfg_, l);
  for (int64_t l = 0; l < cfg_.decoder_layers; ++l) decoder_.emplace_back(cfg_, l);
  if (cfg_.final_norms) {
    encoder_norm_ = LayerNorm("encoder.norm", D, cfg_.layer_norm_eps);
    decoder_norm_ = LayerNorm("decoder.norm", D, cfg_.layer_norm_eps);
  }
  generator_ = Linear("generator", D, cfg_.tgt_vocab, cfg_.generator_bias);
  if (cfg_.tie_output) generator_.weight = Param();  // generator_weight() is tgt_embed
  init_weights(0);
}

void Transformer::visit_params(const ParamVisitor& f) {
  packed_valid_ = false;  // f may change any weight: pack again before the next decode step
  packed_encoder_valid_ = false;
  if (!cfg_.share_embeddings) f(src_embed_.weight);
  f(tgt_embed_.weight);
  if (cfg_.positions == Positions::kTable) {
    f(src_positions_);
    f(tgt_positions_);
  }
  for (auto& layer : encoder_) layer.visit_params(f);
  if (cfg_.final_norms) encoder_norm_.visit_params(f);
  for (auto& layer : decoder_) layer.visit_params(f);
  if (cfg_.final_norms) decoder_norm_.visit_params(f);
  if (!cfg_.tie_output) f(generator_.weight);
  if (cfg_.generator_bias) f(generator_.bias);
}

int64_t Transformer::num_params() {
  int64_t n = 0;
  visit_params([&](Param& p) { n += p.value.numel(); });
  return n;
}

void Transformer::alloc_grads() {
  visit_params([](Param& p) { p.alloc_grad(); });
}

void Transformer::zero_grads() {
  visit_params([](Param& p) { p.grad.zero(); });
}

void Transformer::init_weights(uint64_t seed) {
  Rng rng(seed);
  const float embed_std = 1.0f / std::sqrt(static_cast<float>(cfg_.d_model));
  visit_params([&](Param& p) {
    Tensor& t = p.value;
    const bool is_norm = p.name.find("norm") != std::string::npos;
    if (p.name.ends_with("_embed.weight")) {
      for (int64_t i = 0; i < t.numel(); ++i) t[i] = embed_std * rng.normal();
    } else if (p.name.ends_with("_positions.weight")) {  // learned positions start as the sinusoid
      cpu::positional_encoding(t.data(), t.dim(0), t.dim(1));
    } else if (t.rank() == 2) {  // Xavier uniform: U(±√(6 / (fan_in + fan_out)))
      const float bound = std::sqrt(6.0f / static_cast<float>(t.dim(0) + t.dim(1)));
      for (int64_t i = 0; i < t.numel(); ++i) t[i] = rng.uniform(-bound, bound);
    } else if (is_norm && p.name.ends_with(".weight")) {
      t.fill(1.0f);
    } else {
      t.zero();
    }
  });
}

float Transformer::embed_scale() const {
  return cfg_.embed_scale ? std::sqrt(static_cast<float>(cfg_.d_model)) : 1.0f;
}

const Tensor& Transformer::src_positions() const {
  return cfg_.positions == Positions::kTable ? src_positions_.value : pe_.table();
}

const Tensor& Transformer::tgt_positions() const {
  return cfg_.positions == Positions::kTable ? tgt_positions_.value : pe_.table();
}

StackCall Transformer::encoder_call() const {
  StackCall c;
  c.B = src_.rows;
  c.T = src_.cols;
  c.self_padding = act_.src_padding.data();
  c.dropout = last_.training ? cfg_.dropout : 0.0f;
  c.step_seed = last_.step_seed;
  return c;
}

StackCall Transformer::decoder_call() const {
  StackCall c;
  c.B = tgt_.rows;
  c.T = tgt_.cols;
  c.Tm = src_.cols;
  c.self_padding = cfg_.padding_mask == PaddingMask::kPadIds ? act_.tgt_padding.data() : nullptr;
  c.memory_padding = act_.src_padding.data();
  c.dropout = last_.training ? cfg_.dropout : 0.0f;
  c.step_seed = last_.step_seed;
  return c;
}

namespace {
// Decode steps of at most this many rows use packed weights; above it cblas_sgemm's own packing
// is amortised over enough rows (measured on the W3m output layer: 2× at 16 rows, 1.3× at 64,
// 1.1× at 128).
constexpr int64_t kPackedStepRows = 128;

// mask [B, T], 1 = a key attention ignores: every pad id, or (trailing_only) the pad ids after a
// row's last other token.
void padding_mask(const TokenBatch& t, int32_t pad, bool trailing_only,
                  std::vector<uint8_t>& mask) {
  mask.resize(t.ids.size());
  for (size_t i = 0; i < t.ids.size(); ++i) mask[i] = t.ids[i] == pad ? 1 : 0;
  if (!trailing_only) return;
  for (int64_t r = 0; r < t.rows; ++r) {
    uint8_t* row = mask.data() + r * t.cols;
    bool tail = true;  // still inside the trailing run of pads, walking from the end
    for (int64_t c = t.cols; c-- > 0;) {
      tail = tail && row[c] != 0;
      row[c] = tail ? 1 : 0;
    }
  }
}

void copy(const Tensor& from, Tensor& to) {
  to.resize(from.shape());
  std::memcpy(to.data(), from.data(), static_cast<size_t>(from.numel()) * sizeof(float));
}
}  // namespace

void Transformer::encode(const TokenBatch& src, const ForwardOptions& o, bool packed) {
  ATTN_CHECK(static_cast<int64_t>(src.ids.size()) == src.rows * src.cols,
             "source batch holds {} ids for shape [{}, {}]", src.ids.size(), src.rows, src.cols);
  src_ = src;
  last_ = o;
  padding_mask(src_, cfg_.pad_id, cfg_.padding_mask == PaddingMask::kSourceTail, act_.src_padding);
  const float p = o.training ? cfg_.dropout : 0.0f;
  ATTN_CHECK(!(o.training && (o.src_embeddings || o.tgt_embeddings)),
             "token embeddings can be replaced for inference only, not while training");
  embed_tokens("source", src_, src_table(), embed_scale(), src_positions(), p,
               site_seed(o.step_seed, kSourceEmbeddingSite), act_.src_embedded);
  if (o.src_embeddings != nullptr)
    embed_given("source", src_, *o.src_embeddings, src_positions(), act_.src_embedded);
  const StackCall c = encoder_call();
  act_.encoder.resize(encoder_.size());
  const float* x = act_.src_embedded.data();
  for (size_t l = 0; l < encoder_.size(); ++l) {
    encoder_[l].forward(x, c, act_.encoder[l], packed ? &packed_encoder_[l] : nullptr);
    x = act_.encoder[l].out().data();
  }
  const Tensor& last = encoder_.empty() ? act_.src_embedded : act_.encoder.back().out();
  if (cfg_.final_norms) {
    act_.memory.resize(last.shape());
    encoder_norm_.forward(last.data(), act_.memory.data(), c.B * c.T, act_.encoder_norm);
  } else {
    copy(last, act_.memory);
  }
}

void Transformer::decode(const TokenBatch& tgt_in, const ForwardOptions& o) {
  ATTN_CHECK(static_cast<int64_t>(tgt_in.ids.size()) == tgt_in.rows * tgt_in.cols,
             "target batch holds {} ids for shape [{}, {}]", tgt_in.ids.size(), tgt_in.rows,
             tgt_in.cols);
  ATTN_CHECK(tgt_in.rows == src_.rows, "target batch has {} sequences, source batch {}",
             tgt_in.rows, src_.rows);
  tgt_ = tgt_in;
  if (cfg_.padding_mask == PaddingMask::kPadIds)
    padding_mask(tgt_, cfg_.pad_id, false, act_.tgt_padding);
  else
    act_.tgt_padding.clear();  // the decoder masks no position (decoder_call passes none)
  const float p = o.training ? cfg_.dropout : 0.0f;
  embed_tokens("target", tgt_, tgt_embed_.weight, embed_scale(), tgt_positions(), p,
               site_seed(o.step_seed, kTargetEmbeddingSite), act_.tgt_embedded);
  if (o.tgt_embeddings != nullptr)
    embed_given("target", tgt_, *o.tgt_embeddings, tgt_positions(), act_.tgt_embedded);
  const StackCall c = decoder_call();
  act_.decoder.resize(decoder_.size());
  const float* x = act_.tgt_embedded.data();
  for (size_t l = 0; l < decoder_.size(); ++l) {
    decoder_[l].forward(x, act_.memory.data(), c, act_.decoder[l]);
    x = act_.decoder[l].out().data();
  }
  const Tensor& last = act_.decoder.back().out();
  if (cfg_.final_norms) {
    act_.decoded.resize(last.shape());
    decoder_norm_.forward(last.data(), act_.decoded.data(), c.B * c.T, act_.decoder_norm);
  } else {
    copy(last, act_.decoded);
  }
  // logits [B, Tt, V] = decoded · generatorᵀ + b
  const int64_t V = cfg_.tgt_vocab;
  act_.logits.resize({c.B, c.T, V});
  cpu::linear_forward(act_.decoded.data(), generator_weight().value.data(),
                      cfg_.generator_bias ? generator_.bias.value.data() : nullptr,
                      act_.logits.data(), c.B * c.T, cfg_.d_model, V);
}

const Tensor& Transformer::forward(const TokenBatch& src, const TokenBatch& tgt_in,
                                   const ForwardOptions& o) {
  encode(src, o);
  decode(tgt_in, o);
  return act_.logits;
}

void Transformer::backward(const Tensor& d_logits) {
  backward_reporting(d_logits, nullptr);
}

void Transformer::backward_reporting(const Tensor& d_logits, const ParamVisitor& grad_final) {
  // A parameter is final once the last module that uses it is done (shared tables at the end).
  const auto report = [&](Param& p) {
    if (grad_final) grad_final(p);
  };
  ATTN_CHECK(d_logits.shape() == act_.logits.shape(), "backward: d_logits {} but logits {}",
             d_logits.shape_str(), act_.logits.shape_str());
  const int64_t D = cfg_.d_model, V = cfg_.tgt_vocab;
  const StackCall dc = decoder_call(), ec = encoder_call();
  const int64_t Nt = dc.B * dc.T, Ns = ec.B * ec.T;

  // Generator.
  act_.d_decoded.resize_zero({dc.B, dc.T, D});
  Param& gw = generator_weight();
  cpu::linear_backward(act_.decoded.data(), gw.value.data(), d_logits.data(), act_.d_decoded.data(),
                       gw.grad.data(), cfg_.generator_bias ? generator_.bias.grad.data() : nullptr,
                       Nt, D, V);
  if (!cfg_.tie_output) report(generator_.weight);
  if (cfg_.generator_bias) report(generator_.bias);

  // Decoder stack, last layer first; d_stream_a holds d(layer output), d_stream_b d(input).
  Tensor* d_out = &act_.d_stream_a;
  Tensor* d_in = &act_.d_stream_b;
  const Tensor& dec_last = act_.decoder.back().out();
  if (cfg_.final_norms) {
    d_out->resize_zero({dc.B, dc.T, D});
    decoder_norm_.backward(dec_last.data(), act_.d_decoded.data(), d_out->data(), Nt,
                           act_.decoder_norm);
    decoder_norm_.visit_params(report);
  } else {
    copy(act_.d_decoded, *d_out);
  }
  act_.d_memory.resize_zero({ec.B, ec.T, D});
  for (size_t l = decoder_.size(); l-- > 0;) {
    const float* x = l == 0 ? act_.tgt_embedded.data() : act_.decoder[l - 1].out().data();
    d_in->resize_zero({dc.B, dc.T, D});
    decoder_[l].backward(x, act_.memory.data(), d_out->data(), d_in->data(), act_.d_memory.data(),
                         dc, act_.decoder[l]);
    decoder_[l].visit_params(report);
    std::swap(d_out, d_in);
  }
  const float p = last_.training ? cfg_.dropout : 0.0f;
  const bool tables = cfg_.positions == Positions::kTable;
  // The embeddings' gradient (before dropout: none outside training) for input_gradient().
  if (last_.training)
    act_.d_tgt_input = Tensor();
  else
    copy(*d_out, act_.d_tgt_input);
  embed_tokens_backward(tgt_, d_out->data(), tgt_embed_.weight, embed_scale(), p,
                        site_seed(last_.step_seed, kTargetEmbeddingSite), act_.d_embed_scratch,
                        tables ? tgt_positions_.grad.data() : nullptr);
  if (!cfg_.share_embeddings) report(tgt_embed_.weight);  // with the generator's part, when tied
  if (tables) report(tgt_positions_);

  // Encoder stack.
  const Tensor& enc_last = encoder_.empty() ? act_.src_embedded : act_.encoder.back().out();
  if (cfg_.final_norms) {
    d_out->resize_zero({ec.B, ec.T, D});
    encoder_norm_.backward(enc_last.data(), act_.d_memory.data(), d_out->data(), Ns,
                           act_.encoder_norm);
    encoder_norm_.visit_params(report);
  } else {
    copy(act_.d_memory, *d_out);
  }
  for (size_t l = encoder_.size(); l-- > 0;) {
    const float* x = l == 0 ? act_.src_embedded.data() : act_.encoder[l - 1].out().data();
    d_in->resize_zero({ec.B, ec.T, D});
    encoder_[l].backward(x, d_out->data(), d_in->data(), ec, act_.encoder[l]);
    encoder_[l].visit_params(report);
    std::swap(d_out, d_in);
  }
  if (last_.training)
    act_.d_src_input = Tensor();
  else
    copy(*d_out, act_.d_src_input);
  embed_tokens_backward(src_, d_out->data(), src_table(), embed_scale(), p,
                        site_seed(last_.step_seed, kSourceEmbeddingSite), act_.d_embed_scratch,
                        tables ? src_positions_.grad.data() : nullptr);
  report(src_table());
  if (tables) report(src_positions_);
}

void DecoderCache::update_memory_runs() {
  memory_runs.clear();
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t entry = memory_of[static_cast<size_t>(r)];
    if (!memory_runs.empty() && memory_runs.back().entry == entry)
      ++memory_runs.back().count;
    else
      memory_runs.push_back(cpu::StepRun{r, 1, entry});
  }
}

void DecoderCache::reset_self_runs() {
  self_runs.resize(static_cast<size_t>(rows));
  for (int64_t r = 0; r < rows; ++r) self_runs[static_cast<size_t>(r)] = cpu::StepRun{r, 1, r};
}

void DecoderCache::reorder(const std::vector<int64_t>& from) {
  const auto n = static_cast<int64_t>(from.size());
  const int64_t entries = self.empty() ? rows : self.front().v.dim(0);
  ATTN_CHECK(n >= 1 && n <= entries, "cache reorder: {} rows of a cache of {} entries", n, entries);
  for (int64_t f : from)
    ATTN_CHECK(f >= 0 && f < rows, "cache reorder: row {} of a cache of {}", f, rows);
  ATTN_CHECK(static_cast<int64_t>(self_runs.size()) == rows,
             "cache reorder: {} rows have a self-attention entry, the cache has {}",
             self_runs.size(), rows);
  // Row r continues old row from[r]. The first to do so takes over that row's entry; the others
  // (beam search's second continuations of one hypothesis) get entries that no row holds any more.
  std::vector<uint8_t> taken(static_cast<size_t>(rows), 0), held(static_cast<size_t>(entries), 0);
  std::vector<cpu::StepRun> next(static_cast<size_t>(n));
  std::vector<int64_t> copied;  // rows that need a copy of their old row
  for (int64_t r = 0; r < n; ++r) {
    const auto old = static_cast<size_t>(from[static_cast<size_t>(r)]);
    if (taken[old]) {
      copied.push_back(r);
      continue;
    }
    taken[old] = 1;
    next[static_cast<size_t>(r)] = cpu::StepRun{r, 1, self_runs[old].entry};
    held[static_cast<size_t>(self_runs[old].entry)] = 1;
  }
  // (source entry, destination entry): sources are held, destinations free, so none overlap.
  std::vector<std::pair<int64_t, int64_t>> copies;
  int64_t free_entry = 0;
  for (int64_t r : copied) {
    while (held[static_cast<size_t>(free_entry)]) ++free_entry;
    held[static_cast<size_t>(free_entry)] = 1;
    next[static_cast<size_t>(r)] = cpu::StepRun{r, 1, free_entry};
    copies.emplace_back(self_runs[static_cast<size_t>(from[static_cast<size_t>(r)])].entry,
                        free_entry);
  }
  // Each copy: the Kᵀ blocks and V rows of the fed positions, a contiguous prefix of each entry.
  const auto layers = static_cast<int64_t>(self.size());
  const auto pairs = static_cast<int64_t>(copies.size()) * layers;
  const int64_t floats_per_pair =
      self.empty() ? 0 : self.front().k_t_prefix(steps) + steps * self.front().v.dim(2);
#pragma omp parallel for schedule(static) if (pairs > 1 && pairs * floats_per_pair > (1 << 16))
  for (int64_t i = 0; i < pairs; ++i) {
    MultiHeadAttention::StepCache& c = self[static_cast<size_t>(i % layers)];
    const auto [src, dst] = copies[static_cast<size_t>(i / layers)];
    const int64_t kt_entry = c.k_t.numel() / c.k_t.dim(0), v_entry = c.v.numel() / c.v.dim(0);
    std::memcpy(c.k_t.data() + dst * kt_entry, c.k_t.data() + src * kt_entry,
                static_cast<size_t>(c.k_t_prefix(steps)) * sizeof(float));
    std::memcpy(c.v.data() + dst * v_entry, c.v.data() + src * v_entry,
                static_cast<size_t>(steps * c.v.dim(2)) * sizeof(float));
  }
  self_runs = std::move(next);
  std::vector<int64_t> next_memory_of(static_cast<size_t>(n));
  for (int64_t r = 0; r < n; ++r)
    next_memory_of[static_cast<size_t>(r)] =
        memory_of[static_cast<size_t>(from[static_cast<size_t>(r)])];
  memory_of = std::move(next_memory_of);
  rows = n;
  update_memory_runs();
}

std::unique_ptr<DecoderState> Transformer::start_decoding(const TokenBatch& src, int64_t expand,
                                                          int64_t max_steps) {
  ATTN_CHECK(expand >= 1, "decoding needs at least one row per sentence");
  ATTN_CHECK(max_steps >= 1 && max_steps <= cfg_.max_len,
             "decoding {} steps exceeds the model's max_len {}", max_steps, cfg_.max_len);
  // Decoding runs the encoder's projections, and cross-attention's K|V of the memory, through
  // packed weights too, in the decode steps' format (packed once, kept like the decode steps'
  // weights): on huge pages the packed product beats cblas_sgemm's per-call packing at an
  // encoder's rows as well (W3: 5% less time in all).
  if (!packed_encoder_valid_ || packed_encoder_format_ != step_format_) {
    packed_encoder_.resize(encoder_.size());
    for (size_t l = 0; l < encoder_.size(); ++l) encoder_[l].pack(packed_encoder_[l], step_format_);
    packed_memory_kv_.resize(decoder_.size());
    for (size_t l = 0; l < decoder_.size(); ++l)
      decoder_[l].cross_attn.pack_memory_projection(packed_memory_kv_[l], step_format_);
    packed_encoder_valid_ = true;
    packed_encoder_format_ = step_format_;
  }
  encode(src, ForwardOptions{}, /*packed=*/true);
  const int64_t B = src.rows, Ts = src.cols, D = cfg_.d_model;
  auto state = std::make_unique<DecoderCache>();
  DecoderCache& cache = *state;
  cache.rows = B * expand;
  cache.src_len = Ts;
  cache.capacity = max_steps;
  cache.memory_padding = act_.src_padding;
  cache.memory_of.resize(static_cast<size_t>(cache.rows));
  for (int64_t r = 0; r < cache.rows; ++r) cache.memory_of[static_cast<size_t>(r)] = r / expand;
  cache.update_memory_runs();
  cache.reset_self_runs();
  cache.self.resize(decoder_.size());
  cache.memory.resize(decoder_.size());
  for (size_t l = 0; l < decoder_.size(); ++l) {
    cache.self[l].resize(cache.rows, max_steps, D);
    decoder_[l].cross_attn.project_memory(act_.memory.data(), B, Ts, cache.memory[l],
                                          &packed_memory_kv_[l]);
  }
  return state;
}

const Tensor& Transformer::decode_step(DecoderState& state, const std::vector<int32_t>& tokens) {
  auto* cache_ptr = dynamic_cast<DecoderCache*>(&state);
  ATTN_CHECK(cache_ptr != nullptr, "decode_step: the state was not made by this Transformer");
  DecoderCache& cache = *cache_ptr;
  const int64_t R = cache.rows, D = cfg_.d_model, V = cfg_.tgt_vocab, t = cache.steps;
  ATTN_CHECK(static_cast<int64_t>(tokens.size()) == R, "decode_step: {} tokens for {} rows",
             tokens.size(), R);
  ATTN_CHECK(t < cache.capacity, "decode_step: the cache is full ({} positions)", cache.capacity);
  // x [R, D] = scale · tgt_embed[token] + positions[t]
  for (int64_t r = 0; r < R; ++r)
    ATTN_CHECK(tokens[static_cast<size_t>(r)] >= 0 && tokens[static_cast<size_t>(r)] < V,
               "decode_step: token id {} is outside the target vocabulary of {}",
               tokens[static_cast<size_t>(r)], V);
  act_.step_embedded.resize({R, D});
  cpu::embedding_forward(tokens.data(), tgt_embed_.weight.value.data(), act_.step_embedded.data(),
                         R, D, V, embed_scale());
  for (int64_t r = 0; r < R; ++r)
    cpu::axpy(1.0f, tgt_positions().data() + t * D, act_.step_embedded.data() + r * D, D);
  act_.decoder.resize(decoder_.size());
  // Packed weights for few rows, and always for bf16 and int8 steps (that is where the format
  // lives). They are packed once and kept across decodings until a weight may have changed
  // (visit_params: training, loading) or the format changes.
  const bool packed = R <= kPackedStepRows || step_format_ != cpu::WeightFormat::kF32;
  if (packed && (!packed_valid_ || packed_format_ != step_format_)) {
    cpu::pack_weight(generator_weight().value.data(), V, D, packed_generator_, step_format_);
    packed_layers_.resize(decoder_.size());
    for (size_t l = 0; l < decoder_.size(); ++l)
      decoder_[l].pack_step(packed_layers_[l], step_format_);
    packed_valid_ = true;
    packed_format_ = step_format_;
  }
  const float* x = act_.step_embedded.data();
  for (size_t l = 0; l < decoder_.size(); ++l) {
    decoder_[l].forward_step(x, R, t, cache.self[l], cache.self_runs, cache.memory[l],
                             cache.src_len, cache.memory_padding.data(), cache.memory_runs,
                             act_.decoder[l], packed ? &packed_layers_[l] : nullptr);
    x = act_.decoder[l].out().data();
  }
  act_.decoded.resize({R, D});
  if (cfg_.final_norms) {
    decoder_norm_.forward(x, act_.decoded.data(), R, act_.decoder_norm);
  } else {
    std::memcpy(act_.decoded.data(), x, static_cast<size_t>(R * D) * sizeof(float));
  }
  act_.logits.resize({R, V});
  const float* bias = cfg_.generator_bias ? generator_.bias.value.data() : nullptr;
  if (packed)
    cpu::packed_linear_forward(act_.decoded.data(), packed_generator_, bias, act_.logits.data(), R);
  else
    cpu::linear_forward(act_.decoded.data(), generator_weight().value.data(), bias,
                        act_.logits.data(), R, D, V);
  ++cache.steps;
  return act_.logits;
}

int64_t Transformer::num_layers(AttentionKind kind) const {
  return static_cast<int64_t>(kind == AttentionKind::kEncoderSelf ? encoder_.size()
                                                                  : decoder_.size());
}

const Tensor& Transformer::attention(AttentionKind kind, int64_t layer) const {
  ATTN_CHECK(layer >= 0 && layer < num_layers(kind), "no {} attention layer {} (the model has {})",
             attention_kind_name(kind), layer, num_layers(kind));
  const size_t l = static_cast<size_t>(layer);
  switch (kind) {
    case AttentionKind::kEncoderSelf:
      return act_.encoder.at(l).attn.probs;
    case AttentionKind::kDecoderSelf:
      return act_.decoder.at(l).self_attn.probs;
    case AttentionKind::kCross:
      return act_.decoder.at(l).cross_attn.probs;
  }
  fail("unknown attention kind");
}

Tensor Transformer::attention_values(AttentionKind kind, int64_t layer) const {
  ATTN_CHECK(layer >= 0 && layer < num_layers(kind), "no {} attention layer {} (the model has {})",
             attention_kind_name(kind), layer, num_layers(kind));
  const size_t l = static_cast<size_t>(layer);
  const std::string where = fmt::format("{} layer {}", attention_kind_name(kind), layer);
  const bool encoder = kind == AttentionKind::kEncoderSelf;
  ATTN_CHECK(encoder ? l < act_.encoder.size() : l < act_.decoder.size(),
             "{}: no activations yet; run forward first", where);
  switch (kind) {
    case AttentionKind::kEncoderSelf:
      return encoder_[l].self_attn.values(act_.encoder[l].attn, false, where);
    case AttentionKind::kDecoderSelf:
      return decoder_[l].self_attn.values(act_.decoder[l].self_attn, false, where);
    case AttentionKind::kCross:
      return decoder_[l].cross_attn.values(act_.decoder[l].cross_attn, true, where);
  }
  fail("unknown attention kind");
}

const Tensor& Transformer::attention_output_weight(AttentionKind kind, int64_t layer) const {
  ATTN_CHECK(layer >= 0 && layer < num_layers(kind), "no {} attention layer {} (the model has {})",
             attention_kind_name(kind), layer, num_layers(kind));
  const size_t l = static_cast<size_t>(layer);
  switch (kind) {
    case AttentionKind::kEncoderSelf:
      return encoder_[l].self_attn.out_proj.weight.value;
    case AttentionKind::kDecoderSelf:
      return decoder_[l].self_attn.out_proj.weight.value;
    case AttentionKind::kCross:
      return decoder_[l].cross_attn.out_proj.weight.value;
  }
  fail("unknown attention kind");
}

Tensor Transformer::token_embeddings(InputSide side, const TokenBatch& ids) const {
  return side == InputSide::kSource
             ? attnscope::token_embeddings("source", ids, src_table(), embed_scale())
             : attnscope::token_embeddings("target", ids, tgt_embed_.weight, embed_scale());
}

const Tensor& Transformer::input_gradient(InputSide side) const {
  const Tensor& g = side == InputSide::kSource ? act_.d_src_input : act_.d_tgt_input;
  ATTN_CHECK(!g.empty(),
             "no input gradient: run backward after a forward that is not a training step");
  return g;
}

MultiHeadAttention& Transformer::attention_module(AttentionKind kind, int64_t layer) {
  const auto& self = *this;
  return const_cast<MultiHeadAttention&>(self.attention_module(kind, layer));
}

const MultiHeadAttention& Transformer::attention_module(AttentionKind kind, int64_t layer) const {
  ATTN_CHECK(layer >= 0 && layer < num_layers(kind), "no {} attention layer {} (the model has {})",
             attention_kind_name(kind), layer, num_layers(kind));
  const size_t l = static_cast<size_t>(layer);
  switch (kind) {
    case AttentionKind::kEncoderSelf:
      return encoder_[l].self_attn;
    case AttentionKind::kDecoderSelf:
      return decoder_[l].self_attn;
    case AttentionKind::kCross:
      return decoder_[l].cross_attn;
  }
  fail("unknown attention kind");
}

const MultiHeadAttention::Activations& Transformer::attention_activations(AttentionKind kind,
                                                                          int64_t layer) const {
  attention_module(kind, layer);  // checks the layer
  const size_t l = static_cast<size_t>(layer);
  const bool encoder = kind == AttentionKind::kEncoderSelf;
  ATTN_CHECK(encoder ? l < act_.encoder.size() : l < act_.decoder.size(),
             "{} layer {}: no activations yet; run forward first", attention_kind_name(kind),
             layer);
  switch (kind) {
    case AttentionKind::kEncoderSelf:
      return act_.encoder[l].attn;
    case AttentionKind::kDecoderSelf:
      return act_.decoder[l].self_attn;
    case AttentionKind::kCross:
      return act_.decoder[l].cross_attn;
  }
  fail("unknown attention kind");
}

void Transformer::set_head_gates(AttentionKind kind, int64_t layer, std::vector<float> gates) {
  attention_module(kind, layer).set_head_gates(std::move(gates));
}

std::vector<float> Transformer::head_gates(AttentionKind kind, int64_t layer) const {
  return attention_module(kind, layer).head_gates();
}

Tensor Transformer::head_gate_gradient(AttentionKind kind, int64_t layer) const {
  const Tensor& g = attention_activations(kind, layer).gate_grad;  // [B, H]
  ATTN_CHECK(
      !g.empty() && g.dim(0) == (kind == AttentionKind::kEncoderSelf ? src_.rows : tgt_.rows),
      "{} layer {}: no head gate gradient; run backward first", attention_kind_name(kind), layer);
  return g.clone();
}

std::string Transformer::unexpected_tensor_hint(const std::string& name) const {
  if (name == "generator.weight" && cfg_.tie_output)
    return "config.json has tie_output: true, so the generator uses tgt_embed.weight";
  if (name == "src_embed.weight" && cfg_.share_embeddings)
    return "config.json has share_embeddings: true, so the source uses tgt_embed.weight";
  return {};
}

ModelInfo Transformer::info() const {
  ModelInfo i;
  i.arch = cfg_.arch();
  i.src_vocab = cfg_.src_vocab;
  i.tgt_vocab = cfg_.tgt_vocab;
  i.max_len = cfg_.max_len;
  i.heads = cfg_.heads;
  i.d_model = cfg_.d_model;
  i.pad_id = cfg_.pad_id;
  i.bos_id = cfg_.bos_id;
  i.decoder_start_id = cfg_.decoder_start();
  i.eos_id = cfg_.eos_id;
  i.unk_id = cfg_.unk_id;
  i.value_vectors = true;
  i.input_gradients = true;
  i.head_gates = true;
  return i;
}

}  // namespace attnscope
