#include "nn/rnn_attention_model.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <utility>

#include "core/checked_math.h"
#include "core/error.h"
#include "core/rng.h"

namespace attnscope {

std::unique_ptr<ArchConfig> RnnConfig::clone() const {
  return std::make_unique<RnnConfig>(*this);
}

namespace {
constexpr IntRange kRnnWidthRange{1, 1 << 16};  // embed_size, hidden and attention sizes
constexpr IntRange kVocabRange{1, 1 << 24};
constexpr IntRange kIdRange{0, (1 << 24) - 1};
constexpr IntRange kMaxLenRange{1, 1 << 20};
}  // namespace

void RnnConfig::visit_fields(ConfigFields& f) {
  f.field("embed_size", embed_size, kRnnWidthRange);
  f.field("encoder_hidden", encoder_hidden, kRnnWidthRange);
  f.field("decoder_hidden", decoder_hidden, kRnnWidthRange);
  f.field("attention_size", attention_size, kRnnWidthRange);
  f.field("src_vocab", src_vocab, kVocabRange);
  f.field("tgt_vocab", tgt_vocab, kVocabRange);
  f.field("pad_id", pad_id, kIdRange);
  f.field("bos_id", bos_id, kIdRange);
  f.field("eos_id", eos_id, kIdRange);
  f.field("unk_id", unk_id, kIdRange);
  f.field("max_len", max_len, kMaxLenRange);
}

int64_t RnnConfig::parameter_count() const {
  const char* what = "the parameter count of the RNN";
  const auto mul = [&](int64_t a, int64_t b) { return checked_mul(a, b, what); };
  const auto add = [&](int64_t a, int64_t b) { return checked_add(a, b, what); };
  const int64_t E = embed_size, H = encoder_hidden, Hd = decoder_hidden, A = attention_size;
  const int64_t A2 = 2 * H;
  // An LSTM of input `in` and hidden `h`: weight_ih [4h, in], weight_hh [4h, h], two biases [4h].
  const auto lstm = [&](int64_t in, int64_t h) { return add(mul(4 * h, add(in, h)), 8 * h); };
  int64_t n = add(mul(src_vocab, E), mul(tgt_vocab, E));  // src_embed, tgt_embed
  n = add(n, mul(2, lstm(E, H)));                         // encoder, both directions
  n = add(n, add(mul(Hd, H), Hd));                        // bridge
  n = add(n, add(add(mul(A, Hd), mul(A, A2)), 2 * A));    // attention W, U, U.bias, v
  n = add(n, lstm(E + A2, Hd));                           // decoder
  n = add(n, add(mul(tgt_vocab, Hd + A2), tgt_vocab));    // generator
  return n;
}

std::string RnnConfig::summary() const {
  return fmt::format("rnn-attention: embed {}, encoder 2×{}, decoder {}, attention {} (no dropout)",
                     embed_size, encoder_hidden, decoder_hidden, attention_size);
}

void RnnConfig::set_vocabularies(int64_t src, int64_t tgt) {
  src_vocab = src;
  tgt_vocab = tgt;
}

void RnnConfig::check_rules() const {
  check_special_ids(
      {{"pad_id", pad_id}, {"bos_id", bos_id}, {"eos_id", eos_id}, {"unk_id", unk_id}}, src_vocab,
      tgt_vocab);
}

namespace {

// out [B, T, E] = table[ids]; throws naming the side and position of an id outside the table.
template <typename Real>
void embed(const char* side, const TokenBatch& ids, const ParamOf<Real>& table,
           TensorOf<Real>& out) {
  const int64_t B = ids.rows, T = ids.cols, V = table.value.dim(0), E = table.value.dim(1);
  ATTN_CHECK(B > 0 && T > 0, "{} batch is empty ([{}, {}])", side, B, T);
  ATTN_CHECK(static_cast<int64_t>(ids.ids.size()) == B * T, "{} batch holds {} ids, not {} × {}",
             side, ids.ids.size(), B, T);
  out.resize({B, T, E});
  for (int64_t i = 0; i < B * T; ++i) {
    const int32_t id = ids.ids[static_cast<size_t>(i)];
    ATTN_CHECK(id >= 0 && id < V,
               "{} token id {} at sequence {}, position {} is outside the vocabulary of {} ids",
               side, id, i / T, i % T, V);
    std::copy(table.value.data() + id * E, table.value.data() + (id + 1) * E, out.data() + i * E);
  }
}

// table.grad[ids[i]] += d[i] for every position i; d has rows of `stride` values.
template <typename Real>
void embed_backward(const int32_t* ids, int64_t n, const Real* d, int64_t stride,
                    ParamOf<Real>& table) {
  const int64_t E = table.value.dim(1);
  for (int64_t i = 0; i < n; ++i) {
    Real* g = table.grad.data() + ids[i] * E;
    const Real* di = d + i * stride;
    for (int64_t j = 0; j < E; ++j) g[j] += di[j];
  }
}

template <typename Real>
void fill_uniform(ParamOf<Real>& p, Rng& rng, double bound) {
  for (int64_t i = 0; i < p.value.numel(); ++i)
    p.value[i] = static_cast<Real>(bound * (2.0 * static_cast<double>(rng.uniform()) - 1.0));
}

// to [rows.size(), …] = from[rows[r], …] for every r.
template <typename Real>
void copy_rows(const TensorOf<Real>& from, TensorOf<Real>& to, const std::vector<int64_t>& rows) {
  const int64_t n = static_cast<int64_t>(rows.size()), width = from.numel() / from.dim(0);
  Shape shape = from.shape();
  shape[0] = n;
  to.resize(shape);
  for (int64_t r = 0; r < n; ++r)
    std::copy(from.data() + rows[static_cast<size_t>(r)] * width,
              from.data() + (rows[static_cast<size_t>(r)] + 1) * width, to.data() + r * width);
}

}  // namespace

template <typename Real>
void BasicRnnDecoderState<Real>::reorder(const std::vector<int64_t>& from) {
  const auto n = static_cast<int64_t>(from.size());
  ATTN_CHECK(n >= 1, "reorder: no rows left (a state of {})", rows);
  for (int64_t f : from) ATTN_CHECK(f >= 0 && f < rows, "reorder: row {} of {}", f, rows);
  bool identity = n == rows;  // greedy decoding: no row moves, nothing to copy
  for (int64_t r = 0; r < n && identity; ++r) identity = from[static_cast<size_t>(r)] == r;
  if (identity) return;
  for (TensorOf<Real>* t : {&annotations, &keys_proj, &h, &c}) {
    TensorOf<Real> reordered;
    copy_rows<Real>(*t, reordered, from);
    *t = std::move(reordered);
  }
  std::vector<uint8_t> padding(static_cast<size_t>(n * src_len));
  for (int64_t r = 0; r < n; ++r)
    std::copy_n(src_padding.begin() + from[static_cast<size_t>(r)] * src_len, src_len,
                padding.begin() + r * src_len);
  src_padding = std::move(padding);
  rows = n;
}

template <typename Real>
BasicRnnAttentionModel<Real>::BasicRnnAttentionModel(const RnnConfig& cfg) : cfg_(cfg) {
  cfg_.validate();
  const int64_t E = cfg.embed_size, H = cfg.encoder_hidden, Hd = cfg.decoder_hidden;
  const int64_t A2 = cfg.annotation_size();
  src_embed = ParamT("src_embed.weight", {cfg.src_vocab, E});
  tgt_embed = ParamT("tgt_embed.weight", {cfg.tgt_vocab, E});
  encoder_fwd = BasicLstm<Real>("encoder", "_l0", E, H, false);
  encoder_bwd = BasicLstm<Real>("encoder", "_l0_reverse", E, H, true);
  bridge_weight = ParamT("bridge.weight", {Hd, H});
  bridge_bias = ParamT("bridge.bias", {Hd});
  attn = BasicAdditiveAttention<Real>("attention", Hd, A2, cfg.attention_size);
  decoder = BasicLstm<Real>("decoder", "", E + A2, Hd, false);
  generator_weight = ParamT("generator.weight", {cfg.tgt_vocab, Hd + A2});
  generator_bias = ParamT("generator.bias", {cfg.tgt_vocab});
}

template <typename Real>
void BasicRnnAttentionModel<Real>::init_weights(uint64_t seed) {
  Rng rng(seed);
  for (ParamT* p : {&src_embed, &tgt_embed})
    for (int64_t i = 0; i < p->value.numel(); ++i) p->value[i] = static_cast<Real>(rng.normal());
  auto lstm = [&](BasicLstm<Real>& l) {
    const double bound = 1.0 / std::sqrt(static_cast<double>(l.hidden_size()));
    l.visit_params([&](ParamT& p) { fill_uniform<Real>(p, rng, bound); });
  };
  auto linear = [&](ParamT& p, int64_t fan_in) {
    fill_uniform<Real>(p, rng, 1.0 / std::sqrt(static_cast<double>(fan_in)));
  };
  lstm(encoder_fwd);
  lstm(encoder_bwd);
  linear(bridge_weight, cfg_.encoder_hidden);
  linear(bridge_bias, cfg_.encoder_hidden);
  linear(attn.W, attn.query_size());
  linear(attn.U, attn.key_size());
  linear(attn.U_bias, attn.key_size());
  linear(attn.v, attn.attention_size());
  lstm(decoder);
  linear(generator_weight, generator_weight.value.dim(1));
  linear(generator_bias, generator_weight.value.dim(1));
}

template <typename Real>
void BasicRnnAttentionModel<Real>::visit_params(const std::function<void(ParamT&)>& f) {
  f(src_embed);
  f(tgt_embed);
  encoder_fwd.visit_params(f);
  encoder_bwd.visit_params(f);
  f(bridge_weight);
  f(bridge_bias);
  attn.visit_params(f);
  decoder.visit_params(f);
  f(generator_weight);
  f(generator_bias);
}

template <typename Real>
int64_t BasicRnnAttentionModel<Real>::num_params() {
  int64_t n = 0;
  visit_params([&](ParamT& p) { n += p.value.numel(); });
  return n;
}

template <typename Real>
void BasicRnnAttentionModel<Real>::alloc_grads() {
  visit_params([](ParamT& p) { p.alloc_grad(); });
}

template <typename Real>
void BasicRnnAttentionModel<Real>::zero_grads() {
  visit_params([](ParamT& p) {
    if (p.has_grad()) p.grad.zero();
  });
}

template <typename Real>
void BasicRnnAttentionModel<Real>::encode(const TokenBatch& src, std::vector<uint8_t>& padding,
                                          Encoded e) const {
  const int64_t B = src.rows, Ts = src.cols, H = cfg_.encoder_hidden, Hd = cfg_.decoder_hidden;
  embed<Real>("source", src, src_embed, *e.embedded);
  padding.resize(static_cast<size_t>(B * Ts));
  for (int64_t i = 0; i < B * Ts; ++i)
    padding[static_cast<size_t>(i)] = src.ids[static_cast<size_t>(i)] == cfg_.pad_id ? 1 : 0;
  // a [B, Ts, 2H] = [forward states | backward states]
  e.annotations->resize({B, Ts, 2 * H});
  const Real* x = e.embedded->data();
  encoder_fwd.forward(x, padding.data(), B, Ts, e.annotations->data(), 2 * H, nullptr, nullptr,
                      *e.fwd);
  encoder_bwd.forward(x, padding.data(), B, Ts, e.annotations->data() + H, 2 * H, nullptr, nullptr,
                      *e.bwd);
  e.keys_proj->resize({B, Ts, cfg_.attention_size});
  attn.project_keys(e.annotations->data(), B, Ts, e.keys_proj->data());
  // s⟨−1⟩ = tanh(bridge(←h⟨0⟩)) [B, Hd]
  linear_forward_any<Real>(e.bwd->h_n.data(), bridge_weight.value.data(), bridge_bias.value.data(),
                           e.h0, B, H, Hd);
  for (int64_t i = 0; i < B * Hd; ++i) e.h0[i] = std::tanh(e.h0[i]);
}

template <typename Real>
void BasicRnnAttentionModel<Real>::step(const Real* annotations, const Real* keys_proj,
                                        const uint8_t* padding, int64_t rows, int64_t Ts,
                                        const Real* h_prev, const Real* c_prev, Real* x,
                                        Real* query_proj, Real* alpha, Real* context, Real* gates,
                                        Real* h, Real* c, Real* out, int64_t out_stride) const {
  const int64_t E = cfg_.embed_size, A2 = cfg_.annotation_size(), Hd = cfg_.decoder_hidden;
  // α⟨t,·⟩ and c⟨t⟩ from s⟨t−1⟩ = h_prev
  attn.forward(h_prev, annotations, keys_proj, padding, rows, Ts, query_proj, alpha, context);
  for (int64_t r = 0; r < rows; ++r)
    std::copy(context + r * A2, context + (r + 1) * A2, x + r * (E + A2) + E);
  decoder.step_forward(x, h_prev, c_prev, rows, gates, h, c);
  for (int64_t r = 0; r < rows; ++r) {
    std::copy(h + r * Hd, h + (r + 1) * Hd, out + r * out_stride);
    std::copy(context + r * A2, context + (r + 1) * A2, out + r * out_stride + Hd);
  }
}

template <typename Real>
const TensorOf<Real>& BasicRnnAttentionModel<Real>::forward(const TokenBatch& src,
                                                            const TokenBatch& tgt_in) {
  ATTN_CHECK(src.rows == tgt_in.rows, "source batch has {} rows, target batch {}", src.rows,
             tgt_in.rows);
  const int64_t B = src.rows, Ts = src.cols, Tt = tgt_in.cols;
  const int64_t E = cfg_.embed_size, A2 = cfg_.annotation_size(), Hd = cfg_.decoder_hidden;
  const int64_t A = cfg_.attention_size, V = cfg_.tgt_vocab, O = Hd + A2;
  Activations& a = act_;
  a.B = B;
  a.Ts = Ts;
  a.Tt = Tt;
  embed<Real>("target", tgt_in, tgt_embed, a.tgt_embedded);  // checks the ids before any work
  a.dec_h.resize({Tt + 1, B, Hd});
  a.dec_c.resize({Tt + 1, B, Hd});
  encode(src, a.src_padding,
         Encoded{&a.src_embedded, &a.enc_fwd, &a.enc_bwd, &a.annotations, &a.keys_proj,
                 a.dec_h.data()});
  std::fill(a.dec_c.data(), a.dec_c.data() + B * Hd, Real(0));

  a.dec_x.resize({Tt, B, E + A2});
  a.dec_gates.resize({Tt, B, 4 * Hd});
  a.query_proj.resize({Tt, B, A});
  a.alpha_steps.resize({Tt, B, Ts});
  a.context.resize({Tt, B, A2});
  a.out.resize({B, Tt, O});
  for (int64_t t = 0; t < Tt; ++t) {
    Real* x = a.dec_x.data() + t * B * (E + A2);
    for (int64_t b = 0; b < B; ++b)
      std::copy(a.tgt_embedded.data() + (b * Tt + t) * E,
                a.tgt_embedded.data() + (b * Tt + t + 1) * E, x + b * (E + A2));
    step(a.annotations.data(), a.keys_proj.data(), a.src_padding.data(), B, Ts,
         a.dec_h.data() + t * B * Hd, a.dec_c.data() + t * B * Hd, x,
         a.query_proj.data() + t * B * A, a.alpha_steps.data() + t * B * Ts,
         a.context.data() + t * B * A2, a.dec_gates.data() + t * B * 4 * Hd,
         a.dec_h.data() + (t + 1) * B * Hd, a.dec_c.data() + (t + 1) * B * Hd, a.out.data() + t * O,
         Tt * O);
  }
  a.logits.resize({B, Tt, V});
  linear_forward_any<Real>(a.out.data(), generator_weight.value.data(), generator_bias.value.data(),
                           a.logits.data(), B * Tt, O, V);
  a.alpha.resize({B, 1, Tt, Ts});
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < Tt; ++t)
      std::copy(a.alpha_steps.data() + (t * B + b) * Ts,
                a.alpha_steps.data() + (t * B + b + 1) * Ts, a.alpha.data() + (b * Tt + t) * Ts);
  src_ = src;
  tgt_ = tgt_in;
  return a.logits;
}

template <typename Real>
void BasicRnnAttentionModel<Real>::backward(const TensorT& d_logits) {
  Activations& a = act_;
  const int64_t B = a.B, Ts = a.Ts, Tt = a.Tt;
  const int64_t E = cfg_.embed_size, H = cfg_.encoder_hidden, A2 = cfg_.annotation_size();
  const int64_t Hd = cfg_.decoder_hidden, A = cfg_.attention_size, V = cfg_.tgt_vocab;
  const int64_t O = Hd + A2;
  ATTN_CHECK(B > 0 && d_logits.numel() == B * Tt * V,
             "backward: d_logits {} does not match the last forward's logits [{}, {}, {}]",
             d_logits.shape_str(), B, Tt, V);
  // logits = out·W_genᵀ + b_gen
  a.d_out.resize_zero({B, Tt, O});
  linear_backward_any<Real>(a.out.data(), generator_weight.value.data(), d_logits.data(),
                            a.d_out.data(), generator_weight.grad.data(),
                            generator_bias.grad.data(), B * Tt, O, V);

  a.d_annotations.resize_zero({B, Ts, A2});
  a.d_keys_proj.resize_zero({B, Ts, A});
  a.d_h.resize_zero({B, Hd});  // dL/ds⟨t⟩ from everything after it, then dL/ds⟨−1⟩
  a.d_c.resize_zero({B, Hd});
  a.d_h_prev.resize({B, Hd});
  a.d_c_prev.resize({B, Hd});
  a.d_context.resize({B, A2});
  a.d_x.resize({B, E + A2});
  a.d_gates.resize({B, 4 * Hd});
  for (int64_t t = Tt - 1; t >= 0; --t) {
    // out⟨t⟩ = [s⟨t⟩ ; c⟨t⟩]
    for (int64_t b = 0; b < B; ++b) {
      const Real* dout = a.d_out.data() + (b * Tt + t) * O;
      for (int64_t j = 0; j < Hd; ++j) a.d_h[b * Hd + j] += dout[j];
      std::copy(dout + Hd, dout + O, a.d_context.data() + b * A2);
    }
    // s⟨t⟩ = LSTMCell(x⟨t⟩, s⟨t−1⟩)
    const Real* x = a.dec_x.data() + t * B * (E + A2);
    const Real* h_prev = a.dec_h.data() + t * B * Hd;
    a.d_x.zero();
    a.d_h_prev.zero();
    a.d_c_prev.zero();
    decoder.step_backward(x, h_prev, a.dec_c.data() + t * B * Hd,
                          a.dec_gates.data() + t * B * 4 * Hd, a.dec_c.data() + (t + 1) * B * Hd,
                          a.d_h.data(), a.d_c.data(), B, a.d_x.data(), a.d_h_prev.data(),
                          a.d_c_prev.data(), a.d_gates.data());
    // x⟨t⟩ = [embed(y⟨t−1⟩) ; c⟨t⟩]
    for (int64_t b = 0; b < B; ++b)
      for (int64_t j = 0; j < A2; ++j) a.d_context[b * A2 + j] += a.d_x[b * (E + A2) + E + j];
    for (int64_t b = 0; b < B; ++b) {
      const int32_t id = tgt_.at(b, t);
      embed_backward<Real>(&id, 1, a.d_x.data() + b * (E + A2), E + A2, tgt_embed);
    }
    // α⟨t,·⟩, c⟨t⟩ from s⟨t−1⟩ and a
    attn.backward(h_prev, a.annotations.data(), a.keys_proj.data(), B, Ts,
                  a.query_proj.data() + t * B * A, a.alpha_steps.data() + t * B * Ts,
                  a.d_context.data(), a.d_h_prev.data(), a.d_annotations.data(),
                  a.d_keys_proj.data(), a.attention_scratch);
    std::swap(a.d_h, a.d_h_prev);
    std::swap(a.d_c, a.d_c_prev);
  }
  // s⟨−1⟩ = tanh(bridge(←h⟨0⟩)); the initial cell is a constant 0.
  a.d_bridge.resize({B, Hd});
  for (int64_t i = 0; i < B * Hd; ++i) {
    const Real s0 = a.dec_h[i];
    a.d_bridge[i] = a.d_h[i] * (Real(1) - s0 * s0);
  }
  a.d_final.resize_zero({B, H});
  linear_backward_any<Real>(a.enc_bwd.h_n.data(), bridge_weight.value.data(), a.d_bridge.data(),
                            a.d_final.data(), bridge_weight.grad.data(), bridge_bias.grad.data(), B,
                            H, Hd);
  // U·a + b_U, then both directions (the backward one also gets its final state's gradient)
  attn.backward_keys(a.annotations.data(), a.d_keys_proj.data(), B, Ts, a.d_annotations.data());
  a.d_src_embedded.resize_zero({B, Ts, E});
  const Real* xs = a.src_embedded.data();
  encoder_fwd.backward(xs, a.src_padding.data(), B, Ts, a.d_annotations.data(), A2, nullptr,
                       nullptr, a.d_src_embedded.data(), nullptr, nullptr, a.enc_fwd);
  encoder_bwd.backward(xs, a.src_padding.data(), B, Ts, a.d_annotations.data() + H, A2,
                       a.d_final.data(), nullptr, a.d_src_embedded.data(), nullptr, nullptr,
                       a.enc_bwd);
  embed_backward<Real>(src_.ids.data(), B * Ts, a.d_src_embedded.data(), E, src_embed);
}

template <typename Real>
BasicRnnDecoderState<Real> BasicRnnAttentionModel<Real>::start_decoding(const TokenBatch& src,
                                                                        int64_t expand) const {
  ATTN_CHECK(expand > 0, "start_decoding: expand must be positive, got {}", expand);
  const int64_t B = src.rows, Ts = src.cols, Hd = cfg_.decoder_hidden;
  TensorT embedded, annotations, keys_proj, h0({B, Hd});
  typename BasicLstm<Real>::Activations fwd, bwd;
  std::vector<uint8_t> padding;
  encode(src, padding, Encoded{&embedded, &fwd, &bwd, &annotations, &keys_proj, h0.data()});

  DecoderState st;
  st.rows = B * expand;
  st.src_len = Ts;
  std::vector<int64_t> rows(static_cast<size_t>(st.rows));
  for (int64_t r = 0; r < st.rows; ++r) rows[static_cast<size_t>(r)] = r / expand;
  copy_rows<Real>(annotations, st.annotations, rows);
  copy_rows<Real>(keys_proj, st.keys_proj, rows);
  copy_rows<Real>(h0, st.h, rows);
  st.c.resize_zero({st.rows, Hd});
  st.src_padding.resize(static_cast<size_t>(st.rows * Ts));
  for (int64_t r = 0; r < st.rows; ++r)
    std::copy_n(padding.begin() + (r / expand) * Ts, Ts, st.src_padding.begin() + r * Ts);
  return st;
}

template <typename Real>
const TensorOf<Real>& BasicRnnAttentionModel<Real>::decode_step(
    DecoderState& st, const std::vector<int32_t>& tokens) const {
  const int64_t R = st.rows, Ts = st.src_len;
  const int64_t E = cfg_.embed_size, A2 = cfg_.annotation_size(), Hd = cfg_.decoder_hidden;
  ATTN_CHECK(static_cast<int64_t>(tokens.size()) == R, "decode_step: {} tokens for {} rows",
             tokens.size(), R);
  st.x.resize({R, E + A2});
  for (int64_t r = 0; r < R; ++r) {
    const int32_t id = tokens[static_cast<size_t>(r)];
    ATTN_CHECK(id >= 0 && id < cfg_.tgt_vocab,
               "target token id {} at row {}, step {} is outside the vocabulary of {} ids", id, r,
               st.steps, cfg_.tgt_vocab);
    std::copy(tgt_embed.value.data() + id * E, tgt_embed.value.data() + (id + 1) * E,
              st.x.data() + r * (E + A2));
  }
  st.query_proj.resize({R, cfg_.attention_size});
  st.alpha.resize({R, 1, 1, Ts});
  st.context.resize({R, A2});
  st.gates.resize({R, 4 * Hd});
  st.h_next.resize({R, Hd});
  st.c_next.resize({R, Hd});
  st.out.resize({R, Hd + A2});
  step(st.annotations.data(), st.keys_proj.data(), st.src_padding.data(), R, Ts, st.h.data(),
       st.c.data(), st.x.data(), st.query_proj.data(), st.alpha.data(), st.context.data(),
       st.gates.data(), st.h_next.data(), st.c_next.data(), st.out.data(), Hd + A2);
  std::swap(st.h, st.h_next);
  std::swap(st.c, st.c_next);
  st.logits.resize({R, cfg_.tgt_vocab});
  linear_forward_any<Real>(st.out.data(), generator_weight.value.data(),
                           generator_bias.value.data(), st.logits.data(), R, Hd + A2,
                           cfg_.tgt_vocab);
  ++st.steps;
  return st.logits;
}

template struct BasicRnnDecoderState<float>;
template struct BasicRnnDecoderState<double>;
template class BasicRnnAttentionModel<float>;
template class BasicRnnAttentionModel<double>;

}  // namespace attnscope
