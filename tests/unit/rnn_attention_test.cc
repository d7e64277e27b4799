// The "rnn-attention" pieces (nn/lstm.h, nn/additive_attention.h, nn/rnn_attention_model.h):
// central finite differences in double precision for the LSTM (both directions, padding), the
// additive attention (padding, a fully padded row) and the whole model's loss w.r.t. every
// parameter entry (padding on both sides); the float engine against the double one; masks and
// row sums; the step API against the teacher-forced pass; that step t attends from s⟨t−1⟩; and
// PyTorch fixtures written by tools/make_rnn_fixtures.py (nn.LSTM on packed sequences, and a
// PyTorch twin of the whole model: logits, α, loss, every gradient).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <string>
#include <type_traits>
#include <vector>

#include "core/error.h"
#include "grad_check.h"
#include "io/safetensors.h"
#include "nn/additive_attention.h"
#include "nn/lstm.h"
#include "nn/rnn_attention_model.h"
#include "train/loss.h"

namespace attnscope {
namespace {

using test::expect_close;
using test::random_vector;

const std::string kRnnDir = std::string(ATTNSCOPE_TEST_DATA) + "/rnn/";

// Central differences of loss() w.r.t. values[0..n), perturbed in place and restored, against
// the analytic gradient. Double precision: h = 1e-6·max(1, |x|) leaves ~1e-9 of error.
void check_gradient(const std::function<double()>& loss, double* values, int64_t n,
                    const std::vector<double>& analytic, const std::string& what) {
  ASSERT_EQ(static_cast<int64_t>(analytic.size()), n) << what;
  std::vector<double> numeric(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const double saved = values[i], h = 1e-6 * std::max(1.0, std::abs(saved));
    values[i] = saved + h;
    const double up = loss();
    values[i] = saved - h;
    const double down = loss();
    values[i] = saved;
    numeric[static_cast<size_t>(i)] = (up - down) / (2 * h);
  }
  expect_close(analytic, numeric, 1e-6, 1e-8, what);
}

template <typename P>
void randomize(P& p, uint64_t seed, double scale) {
  const auto v = random_vector<double>(p.value.numel(), seed, -scale, scale);
  for (int64_t i = 0; i < p.value.numel(); ++i)
    p.value[i] = static_cast<std::decay_t<decltype(p.value[i])>>(v[static_cast<size_t>(i)]);
}

// Sets every gradient to a random value and returns the values, so a test can check that
// backward adds to what is there instead of overwriting it.
template <typename Module>
std::vector<std::vector<double>> prefill_grads(Module& m, uint64_t seed) {
  std::vector<std::vector<double>> before;
  m.visit_params([&](DoubleParam& p) {
    p.alloc_grad();
    const auto v = random_vector<double>(p.grad.numel(), seed++);
    std::copy(v.begin(), v.end(), p.grad.data());
    before.push_back(v);
  });
  return before;
}

std::vector<double> minus(const double* a, const std::vector<double>& b) {
  std::vector<double> d(b.size());
  for (size_t i = 0; i < b.size(); ++i) d[i] = a[i] - b[i];
  return d;
}

std::vector<uint8_t> padding_from_lengths(const std::vector<int64_t>& lengths, int64_t T) {
  std::vector<uint8_t> pad(lengths.size() * static_cast<size_t>(T));
  for (size_t b = 0; b < lengths.size(); ++b)
    for (int64_t t = 0; t < T; ++t) pad[b * static_cast<size_t>(T) + t] = t >= lengths[b];
  return pad;
}

// ---------------------------------------------------------------------------------------------
// LSTM

class LstmGradient : public ::testing::TestWithParam<bool> {};

TEST_P(LstmGradient, MatchesFiniteDifferencesWithPadding) {
  const bool reverse = GetParam();
  const int64_t B = 3, T = 5, I = 3, H = 5, ys = H + 2;  // y rows H + 2 apart: strided writes
  BasicLstm<double> lstm("encoder", reverse ? "_l0_reverse" : "_l0", I, H, reverse);
  uint64_t seed = reverse ? 100 : 200;
  lstm.visit_params([&](DoubleParam& p) { randomize(p, seed++, 0.7); });
  const std::vector<int64_t> lengths = {5, 3, 1};
  const auto pad = padding_from_lengths(lengths, T);
  auto x = random_vector<double>(B * T * I, 1);
  auto h0 = random_vector<double>(B * H, 2), c0 = random_vector<double>(B * H, 3);
  const auto r_y = random_vector<double>(B * T * ys, 4), r_h = random_vector<double>(B * H, 5),
             r_c = random_vector<double>(B * H, 6);

  BasicLstm<double>::Activations act;
  std::vector<double> y(static_cast<size_t>(B * T * ys), 7.0);  // 7: untouched columns
  auto loss = [&]() {
    lstm.forward(x.data(), pad.data(), B, T, y.data(), ys, h0.data(), c0.data(), act);
    double l = 0;
    for (int64_t i = 0; i < B * H; ++i) l += act.h_n[i] * r_h[i] + act.c_n[i] * r_c[i];
    for (int64_t r = 0; r < B * T; ++r)
      for (int64_t j = 0; j < H; ++j) l += y[r * ys + j] * r_y[r * ys + j];
    return l;
  };
  loss();
  // Padded steps write 0 and keep the state; the columns past H are not written.
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t t = 0; t < T; ++t) {
      for (int64_t j = 0; j < H; ++j)
        if (pad[b * T + t]) {
          EXPECT_EQ(y[(b * T + t) * ys + j], 0.0) << b << "," << t;
        }
      for (int64_t j = H; j < ys; ++j) EXPECT_EQ(y[(b * T + t) * ys + j], 7.0);
    }
    const int64_t last = reverse ? 0 : lengths[b] - 1;  // the last step that was not padding
    for (int64_t j = 0; j < H; ++j)
      EXPECT_EQ(act.h_n[b * H + j], y[(b * T + last) * ys + j]) << "h_n of row " << b;
  }

  const auto before = prefill_grads(lstm, 50);
  const auto dx0 = random_vector<double>(B * T * I, 8), dh00 = random_vector<double>(B * H, 9),
             dc00 = random_vector<double>(B * H, 10);
  auto dx = dx0, dh0 = dh00, dc0 = dc00;
  lstm.backward(x.data(), pad.data(), B, T, r_y.data(), ys, r_h.data(), r_c.data(), dx.data(),
                dh0.data(), dc0.data(), act);
  const std::string dir = reverse ? "reverse " : "forward ";
  check_gradient(loss, x.data(), B * T * I, minus(dx.data(), dx0), dir + "dx");
  check_gradient(loss, h0.data(), B * H, minus(dh0.data(), dh00), dir + "dh0");
  check_gradient(loss, c0.data(), B * H, minus(dc0.data(), dc00), dir + "dc0");
  size_t k = 0;
  lstm.visit_params([&](DoubleParam& p) {
    check_gradient(loss, p.value.data(), p.value.numel(), minus(p.grad.data(), before[k++]),
                   dir + p.name);
  });
  // x at padded steps gets no gradient.
  for (int64_t r = 0; r < B * T; ++r)
    if (pad[r]) {
      for (int64_t i = 0; i < I; ++i) EXPECT_EQ(dx[r * I + i], dx0[r * I + i]);
    }
}

INSTANTIATE_TEST_SUITE_P(Directions, LstmGradient, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& i) {
                           return std::string(i.param ? "reverse" : "forward");
                         });

TEST(LstmStep, GradientMatchesFiniteDifferences) {
  const int64_t B = 3, I = 5, H = 3;
  BasicLstm<double> cell("decoder", "", I, H);
  uint64_t seed = 300;
  cell.visit_params([&](DoubleParam& p) { randomize(p, seed++, 0.8); });
  auto x = random_vector<double>(B * I, 11), h = random_vector<double>(B * H, 12),
       c = random_vector<double>(B * H, 13);
  const auto r_h = random_vector<double>(B * H, 14), r_c = random_vector<double>(B * H, 15);
  std::vector<double> gates(static_cast<size_t>(B * 4 * H)), h1(static_cast<size_t>(B * H)),
      c1(static_cast<size_t>(B * H));
  auto loss = [&]() {
    cell.step_forward(x.data(), h.data(), c.data(), B, gates.data(), h1.data(), c1.data());
    return test::dot(h1, r_h) + test::dot(c1, r_c);
  };
  loss();
  const auto before = prefill_grads(cell, 60);
  std::vector<double> dx(x.size()), dh(h.size()), dc(c.size()), scratch(gates.size());
  cell.step_backward(x.data(), h.data(), c.data(), gates.data(), c1.data(), r_h.data(), r_c.data(),
                     B, dx.data(), dh.data(), dc.data(), scratch.data());
  check_gradient(loss, x.data(), B * I, dx, "step dx");
  check_gradient(loss, h.data(), B * H, dh, "step dh_prev");
  check_gradient(loss, c.data(), B * H, dc, "step dc_prev");
  size_t k = 0;
  cell.visit_params([&](DoubleParam& p) {
    check_gradient(loss, p.value.data(), p.value.numel(), minus(p.grad.data(), before[k++]),
                   "step " + p.name);
  });
}

TEST(LstmStep, EqualsTheSequenceForward) {
  const int64_t B = 2, T = 4, I = 3, H = 5;
  for (bool reverse : {false, true}) {
    Lstm lstm("encoder", "_l0", I, H, reverse);
    uint64_t seed = 400;
    lstm.visit_params([&](Param& p) { randomize(p, seed++, 0.7); });
    const auto x = random_vector(B * T * I, 16);
    Lstm::Activations act;
    std::vector<float> y(static_cast<size_t>(B * T * H));
    lstm.forward(x.data(), nullptr, B, T, y.data(), H, nullptr, nullptr, act);
    std::vector<float> h(static_cast<size_t>(B * H)), c(h.size()), gates(4 * h.size()),
        xt(static_cast<size_t>(B * I)), h1(h.size()), c1(h.size());
    for (int64_t s = 0; s < T; ++s) {
      const int64_t t = reverse ? T - 1 - s : s;
      for (int64_t b = 0; b < B; ++b)
        std::copy_n(x.begin() + (b * T + t) * I, I, xt.begin() + b * I);
      lstm.step_forward(xt.data(), h.data(), c.data(), B, gates.data(), h1.data(), c1.data());
      h = h1;
      c = c1;
      for (int64_t b = 0; b < B; ++b)
        expect_close(h.data() + b * H, y.data() + (b * T + t) * H, H, 1e-6, 1e-7,
                     "step " + std::to_string(t));
    }
  }
}

TEST(LstmParity, MatchesPyTorchPackedSequences) {
  const SafetensorsFile fx = read_safetensors(kRnnDir + "lstm.safetensors");
  const Tensor& x = fx.tensors.at("x");
  const Tensor& lengths_t = fx.tensors.at("lengths");
  const int64_t B = x.dim(0), T = x.dim(1), I = x.dim(2), H = fx.tensors.at("h_n").dim(2);
  std::vector<int64_t> lengths;
  for (int64_t b = 0; b < B; ++b) lengths.push_back(static_cast<int64_t>(lengths_t[b]));
  const auto pad = padding_from_lengths(lengths, T);
  Lstm fwd("", "_l0", I, H, false), bwd("", "_l0_reverse", I, H, true);
  for (Lstm* l : {&fwd, &bwd})
    l->visit_params([&](Param& p) {
      p.name = p.name.substr(1);  // ".weight_ih_l0" → nn.LSTM's own "weight_ih_l0"
      p.value = fx.tensors.at(p.name).clone();
      p.alloc_grad();
    });
  Tensor y({B, T, 2 * H});
  Lstm::Activations af, ab;
  fwd.forward(x.data(), pad.data(), B, T, y.data(), 2 * H, nullptr, nullptr, af);
  bwd.forward(x.data(), pad.data(), B, T, y.data() + H, 2 * H, nullptr, nullptr, ab);
  expect_close(y.data(), fx.tensors.at("y").data(), y.numel(), 1e-5, 1e-6, "y");
  const Tensor& h_n = fx.tensors.at("h_n");
  const Tensor& c_n = fx.tensors.at("c_n");
  expect_close(af.h_n.data(), h_n.data(), B * H, 1e-5, 1e-6, "h_n forward");
  expect_close(ab.h_n.data(), h_n.data() + B * H, B * H, 1e-5, 1e-6, "h_n reverse");
  expect_close(af.c_n.data(), c_n.data(), B * H, 1e-5, 1e-6, "c_n forward");
  expect_close(ab.c_n.data(), c_n.data() + B * H, B * H, 1e-5, 1e-6, "c_n reverse");

  // loss = Σ y⊙r_y + Σ h_n⊙r_h + Σ c_n⊙r_c
  const Tensor& r_y = fx.tensors.at("r_y");
  const Tensor& r_h = fx.tensors.at("r_h");
  const Tensor& r_c = fx.tensors.at("r_c");
  Tensor dx({B, T, I});
  fwd.backward(x.data(), pad.data(), B, T, r_y.data(), 2 * H, r_h.data(), r_c.data(), dx.data(),
               nullptr, nullptr, af);
  bwd.backward(x.data(), pad.data(), B, T, r_y.data() + H, 2 * H, r_h.data() + B * H,
               r_c.data() + B * H, dx.data(), nullptr, nullptr, ab);
  expect_close(dx.data(), fx.tensors.at("grad.x").data(), dx.numel(), 1e-4, 1e-5, "grad.x");
  for (Lstm* l : {&fwd, &bwd})
    l->visit_params([&](Param& p) {
      const Tensor& g = fx.tensors.at("grad." + p.name);
      ASSERT_EQ(g.numel(), p.grad.numel()) << p.name;
      expect_close(p.grad.data(), g.data(), g.numel(), 1e-4, 1e-5, "grad." + p.name);
    });
}

// ---------------------------------------------------------------------------------------------
// Additive attention

struct AttentionSetup {
  static constexpr int64_t B = 3, Tk = 5, Dq = 3, Dk = 5, A = 7;
  BasicAdditiveAttention<double> attn{"attention", Dq, Dk, A};
  std::vector<double> query = random_vector<double>(B * Dq, 21);
  std::vector<double> keys = random_vector<double>(B * Tk * Dk, 22);
  // row 0: no padding; row 1: the last two keys padded; row 2: every key padded
  std::vector<uint8_t> pad = padding_from_lengths({5, 3, 0}, Tk);
  std::vector<double> keys_proj = std::vector<double>(B * Tk * A);
  std::vector<double> query_proj = std::vector<double>(B * A);
  std::vector<double> alpha = std::vector<double>(B * Tk);
  std::vector<double> context = std::vector<double>(B * Dk);
  std::vector<double> scores = std::vector<double>(B * Tk);

  AttentionSetup() {
    uint64_t seed = 500;
    attn.visit_params([&](DoubleParam& p) { randomize(p, seed++, 0.9); });
    randomize(attn.v, 510, 2.0);  // sharper weights
  }
  void forward() {
    attn.project_keys(keys.data(), B, Tk, keys_proj.data());
    attn.forward(query.data(), keys.data(), keys_proj.data(), pad.data(), B, Tk, query_proj.data(),
                 alpha.data(), context.data(), scores.data());
  }
};

TEST(AdditiveAttention, ForwardIsTheFormulaWithMasks) {
  AttentionSetup s;
  s.forward();
  const int64_t B = s.B, Tk = s.Tk, Dq = s.Dq, Dk = s.Dk, A = s.A;
  auto& p = s.attn;
  for (int64_t b = 0; b < B; ++b) {
    // e[t'] = vᵀ tanh(W s + U a[t'] + b_U), by hand
    std::vector<double> e(static_cast<size_t>(Tk));
    double max_e = -1e300;
    bool any = false;
    for (int64_t t = 0; t < Tk; ++t) {
      double et = 0;
      for (int64_t k = 0; k < A; ++k) {
        double pre = p.U_bias.value[k];
        for (int64_t j = 0; j < Dq; ++j) pre += p.W.value[k * Dq + j] * s.query[b * Dq + j];
        for (int64_t j = 0; j < Dk; ++j)
          pre += p.U.value[k * Dk + j] * s.keys[(b * Tk + t) * Dk + j];
        et += p.v.value[k] * std::tanh(pre);
      }
      e[static_cast<size_t>(t)] = et;
      if (s.pad[b * Tk + t]) {
        EXPECT_TRUE(std::isinf(s.scores[b * Tk + t]) && s.scores[b * Tk + t] < 0);
        continue;
      }
      EXPECT_NEAR(s.scores[b * Tk + t], et, 1e-12);
      max_e = std::max(max_e, et);
      any = true;
    }
    double sum = 0, alpha_sum = 0;
    for (int64_t t = 0; t < Tk; ++t)
      if (!s.pad[b * Tk + t]) sum += std::exp(e[t] - max_e);
    for (int64_t t = 0; t < Tk; ++t) {
      const double a = s.alpha[b * Tk + t];
      ASSERT_FALSE(std::isnan(a));
      if (s.pad[b * Tk + t]) {
        EXPECT_EQ(a, 0.0) << "padded key " << t << " of row " << b;  // exactly
      } else {
        EXPECT_NEAR(a, std::exp(e[t] - max_e) / sum, 1e-14);
      }
      alpha_sum += a;
    }
    EXPECT_NEAR(alpha_sum, any ? 1.0 : 0.0, 1e-14) << "row " << b;
    for (int64_t j = 0; j < Dk; ++j) {
      double c = 0;
      for (int64_t t = 0; t < Tk; ++t) c += s.alpha[b * Tk + t] * s.keys[(b * Tk + t) * Dk + j];
      EXPECT_NEAR(s.context[b * Dk + j], c, 1e-14);
      if (!any) {
        EXPECT_EQ(s.context[b * Dk + j], 0.0);  // every key padded: zero context
      }
    }
  }
}

TEST(AdditiveAttention, GradientMatchesFiniteDifferences) {
  AttentionSetup s;
  const int64_t B = s.B, Tk = s.Tk, Dq = s.Dq, Dk = s.Dk, A = s.A;
  const auto r = random_vector<double>(B * Dk, 23);
  auto loss = [&]() {
    s.forward();
    return test::dot(s.context, r);
  };
  loss();
  const auto before = prefill_grads(s.attn, 70);
  const auto dq0 = random_vector<double>(B * Dq, 24), dk0 = random_vector<double>(B * Tk * Dk, 25);
  auto dq = dq0, dk = dk0;
  std::vector<double> dkp(static_cast<size_t>(B * Tk * A));
  BasicAdditiveAttention<double>::Scratch scratch;
  s.attn.backward(s.query.data(), s.keys.data(), s.keys_proj.data(), B, Tk, s.query_proj.data(),
                  s.alpha.data(), r.data(), dq.data(), dk.data(), dkp.data(), scratch);
  s.attn.backward_keys(s.keys.data(), dkp.data(), B, Tk, dk.data());
  check_gradient(loss, s.query.data(), B * Dq, minus(dq.data(), dq0), "d_query");
  check_gradient(loss, s.keys.data(), B * Tk * Dk, minus(dk.data(), dk0), "d_keys");
  size_t k = 0;
  s.attn.visit_params([&](DoubleParam& p) {
    check_gradient(loss, p.value.data(), p.value.numel(), minus(p.grad.data(), before[k++]),
                   p.name);
  });
  // Padded keys and the fully padded row receive nothing.
  for (int64_t i = 0; i < B * Tk; ++i)
    if (s.pad[i]) {
      for (int64_t j = 0; j < Dk; ++j) EXPECT_EQ(dk[i * Dk + j], dk0[i * Dk + j]);
    }
  for (int64_t j = 0; j < Dq; ++j) EXPECT_EQ(dq[2 * Dq + j], dq0[2 * Dq + j]);
}

// ---------------------------------------------------------------------------------------------
// The whole model

RnnConfig tiny_config() {
  RnnConfig c;
  c.embed_size = 5;
  c.encoder_hidden = 3;  // annotations 6 wide
  c.decoder_hidden = 5;
  c.attention_size = 7;
  c.src_vocab = 11;
  c.tgt_vocab = 9;
  return c;
}

// Padding on both sides: source lengths 5, 3, 4; target lengths 4, 6, 2 (tgt_out ends in eos).
struct Batch {
  TokenBatch src{3, 5, {5, 6, 7, 8, 2, 9, 4, 2, 0, 0, 10, 4, 7, 2, 0}};
  TokenBatch tgt_in{3, 6, {1, 3, 4, 5, 0, 0, 1, 6, 7, 3, 4, 8, 1, 5, 0, 0, 0, 0}};
  TokenBatch tgt_out{3, 6, {3, 4, 5, 2, 0, 0, 6, 7, 3, 4, 8, 2, 5, 2, 0, 0, 0, 0}};
};

// Larger random biases than the init, so no gradient is trivially small.
void init_for_checks(RnnAttentionModel& m, uint64_t seed) {
  m.init_weights(seed);
  uint64_t s = seed * 100;
  m.visit_params([&](Param& p) {
    if (p.value.rank() == 1) {
      const auto v = random_vector(p.value.numel(), s++, -0.5, 0.5);
      for (int64_t i = 0; i < p.value.numel(); ++i) p.value[i] += v[static_cast<size_t>(i)];
    }
  });
  randomize(m.attn.v, s, 1.5);
}

void copy_weights(RnnAttentionModel& from, BasicRnnAttentionModel<double>& to) {
  std::vector<Param*> src;
  from.visit_params([&](Param& p) { src.push_back(&p); });
  size_t k = 0;
  to.visit_params([&](DoubleParam& p) {
    ASSERT_LT(k, src.size());
    ASSERT_EQ(p.name, src[k]->name);
    ASSERT_EQ(p.value.shape(), src[k]->value.shape()) << p.name;
    for (int64_t i = 0; i < p.value.numel(); ++i) p.value[i] = src[k]->value[i];
    ++k;
  });
  EXPECT_EQ(k, src.size());
}

// Mean cross-entropy over non-pad targets, in double, and its gradient.
double cross_entropy(const DoubleTensor& logits, const TokenBatch& tgt_out, int32_t pad,
                     DoubleTensor* d_logits) {
  const int64_t V = logits.dim(2), N = tgt_out.rows * tgt_out.cols;
  double count = 0;
  for (int32_t id : tgt_out.ids) count += id != pad ? 1.0 : 0.0;
  if (d_logits) d_logits->resize_zero(logits.shape());
  double total = 0;
  for (int64_t i = 0; i < N; ++i) {
    const int32_t y = tgt_out.ids[static_cast<size_t>(i)];
    if (y == pad) continue;
    const double* l = logits.data() + i * V;
    double mx = l[0];
    for (int64_t v = 1; v < V; ++v) mx = std::max(mx, l[v]);
    double z = 0;
    for (int64_t v = 0; v < V; ++v) z += std::exp(l[v] - mx);
    total += mx + std::log(z) - l[y];
    if (d_logits)
      for (int64_t v = 0; v < V; ++v)
        (*d_logits)[i * V + v] = (std::exp(l[v] - mx) / z - (v == y ? 1.0 : 0.0)) / count;
  }
  return total / count;
}

TEST(RnnAttentionModel, LossGradientMatchesFiniteDifferencesForEveryParameter) {
  const RnnConfig cfg = tiny_config();
  RnnAttentionModel init(cfg);
  init_for_checks(init, 3);
  BasicRnnAttentionModel<double> model(cfg);
  copy_weights(init, model);
  model.alloc_grads();
  model.zero_grads();
  const Batch batch;
  auto loss = [&]() {
    return cross_entropy(model.forward(batch.src, batch.tgt_in), batch.tgt_out, cfg.pad_id,
                         nullptr);
  };
  DoubleTensor d_logits;
  cross_entropy(model.forward(batch.src, batch.tgt_in), batch.tgt_out, cfg.pad_id, &d_logits);
  model.backward(d_logits);
  int64_t entries = 0;
  model.visit_params([&](DoubleParam& p) {
    check_gradient(loss, p.value.data(), p.value.numel(),
                   std::vector<double>(p.grad.data(), p.grad.data() + p.grad.numel()), p.name);
    entries += p.value.numel();
  });
  EXPECT_EQ(entries, model.num_params());
  // backward accumulates: a second call doubles every gradient.
  std::vector<double> once;
  model.visit_params([&](DoubleParam& p) {
    once.insert(once.end(), p.grad.data(), p.grad.data() + p.grad.numel());
  });
  model.forward(batch.src, batch.tgt_in);
  model.backward(d_logits);
  std::vector<double> twice, doubled;
  model.visit_params([&](DoubleParam& p) {
    twice.insert(twice.end(), p.grad.data(), p.grad.data() + p.grad.numel());
  });
  for (double g : once) doubled.push_back(2 * g);
  expect_close(twice, doubled, 1e-12, 1e-15, "second backward");
}

TEST(RnnAttentionModel, FloatEngineEqualsDoubleWithTheTrainingLoss) {
  const RnnConfig cfg = tiny_config();
  RnnAttentionModel model(cfg);
  init_for_checks(model, 5);
  BasicRnnAttentionModel<double> ref(cfg);
  copy_weights(model, ref);
  model.alloc_grads();
  model.zero_grads();
  ref.alloc_grads();
  ref.zero_grads();
  const Batch batch;
  Tensor d_logits;
  const LossValue lv = sequence_loss(model.forward(batch.src, batch.tgt_in), batch.tgt_out,
                                     cfg.pad_id, 0.1f, &d_logits);
  EXPECT_EQ(lv.tokens, 4 + 6 + 2);
  model.backward(d_logits);
  const DoubleTensor& ref_logits = ref.forward(batch.src, batch.tgt_in);
  expect_close(model.activations().logits.data(), ref_logits.data(), ref_logits.numel(), 1e-5, 1e-6,
               "logits");
  expect_close(model.attention().data(), ref.attention().data(), ref.attention().numel(), 1e-5,
               1e-6, "alpha");
  DoubleTensor d_ref(d_logits.shape());
  for (int64_t i = 0; i < d_logits.numel(); ++i) d_ref[i] = d_logits[i];
  ref.backward(d_ref);
  std::vector<Param*> fp;
  model.visit_params([&](Param& p) { fp.push_back(&p); });
  size_t k = 0;
  ref.visit_params([&](DoubleParam& p) {
    expect_close(fp[k++]->grad.data(), p.grad.data(), p.grad.numel(), 1e-3, 1e-6, "grad " + p.name);
  });
}

TEST(RnnAttentionModel, MasksRowSumsAndShapes) {
  const RnnConfig cfg = tiny_config();
  RnnAttentionModel model(cfg);
  model.init_weights(9);
  const Batch batch;
  const Tensor& logits = model.forward(batch.src, batch.tgt_in);
  EXPECT_EQ(logits.shape(), (Shape{3, 6, cfg.tgt_vocab}));
  const Tensor& alpha = model.attention();  // [B, 1, Tt, Ts]: one layer, one head
  ASSERT_EQ(alpha.shape(), (Shape{3, 1, 6, 5}));
  for (int64_t b = 0; b < 3; ++b)
    for (int64_t t = 0; t < 6; ++t) {
      double sum = 0;
      for (int64_t s = 0; s < 5; ++s) {
        const float w = alpha[(b * 6 + t) * 5 + s];
        ASSERT_FALSE(std::isnan(w));
        if (batch.src.at(b, s) == cfg.pad_id) {
          EXPECT_EQ(w, 0.0f) << b << "," << t << "," << s;
        }
        sum += w;
      }
      EXPECT_NEAR(sum, 1.0, 1e-5);
    }
  // The annotations at padded source positions are 0 (both directions).
  const Tensor& a = model.activations().annotations;
  for (int64_t i = 0; i < 15; ++i)
    if (batch.src.ids[static_cast<size_t>(i)] == cfg.pad_id) {
      for (int64_t j = 0; j < 6; ++j) EXPECT_EQ(a[i * 6 + j], 0.0f);
    }
  for (int64_t i = 0; i < logits.numel(); ++i) ASSERT_TRUE(std::isfinite(logits[i]));
}

TEST(RnnAttentionModel, AllPaddedSourceGivesZerosNotNaN) {
  const RnnConfig cfg = tiny_config();
  RnnAttentionModel model(cfg);
  model.init_weights(4);
  model.alloc_grads();
  TokenBatch src{2, 3, {5, 6, 2, 0, 0, 0}};  // the second sentence is only padding
  TokenBatch tgt{2, 2, {1, 3, 1, 4}};
  const Tensor& logits = model.forward(src, tgt);
  for (int64_t i = 0; i < logits.numel(); ++i) ASSERT_TRUE(std::isfinite(logits[i]));
  for (int64_t i = 6; i < 12; ++i) EXPECT_EQ(model.attention()[i], 0.0f);
  Tensor d_logits(logits.shape(), 0.1f);
  model.backward(d_logits);
  model.visit_params([](Param& p) {
    for (int64_t i = 0; i < p.grad.numel(); ++i) ASSERT_TRUE(std::isfinite(p.grad[i])) << p.name;
  });
}

TEST(RnnAttentionModel, StepApiEqualsTeacherForcedPass) {
  const RnnConfig cfg = tiny_config();
  RnnAttentionModel model(cfg);
  init_for_checks(model, 6);
  const Batch batch;
  const int64_t B = 3, Tt = 6, Ts = 5, V = cfg.tgt_vocab, expand = 2;
  const Tensor logits = model.forward(batch.src, batch.tgt_in).clone();
  const Tensor alpha = model.attention().clone();
  RnnDecoderState st = model.start_decoding(batch.src, expand);
  ASSERT_EQ(st.rows, B * expand);
  for (int64_t t = 0; t < Tt; ++t) {
    std::vector<int32_t> tokens;
    for (int64_t r = 0; r < st.rows; ++r) tokens.push_back(batch.tgt_in.at(r / expand, t));
    const Tensor& step_logits = model.decode_step(st, tokens);
    ASSERT_EQ(st.alpha.shape(), (Shape{B * expand, 1, 1, Ts}));
    for (int64_t r = 0; r < st.rows; ++r) {
      const int64_t b = r / expand;
      const std::string at = "row " + std::to_string(r) + " step " + std::to_string(t);
      expect_close(step_logits.data() + r * V, logits.data() + (b * Tt + t) * V, V, 1e-5, 1e-6,
                   "logits " + at);
      expect_close(st.alpha.data() + r * Ts, alpha.data() + (b * Tt + t) * Ts, Ts, 1e-5, 1e-7,
                   "alpha " + at);
    }
  }
  EXPECT_EQ(st.steps, Tt);
}

TEST(RnnAttentionModel, ReorderFollowsBackpointers) {
  const RnnConfig cfg = tiny_config();
  RnnAttentionModel model(cfg);
  init_for_checks(model, 7);
  const Batch batch;
  RnnDecoderState st = model.start_decoding(batch.src, 2);
  model.decode_step(st, {1, 1, 1, 1, 1, 1});
  model.decode_step(st, {3, 4, 5, 6, 7, 8});  // the two beams of each sentence differ now
  // Row 0 takes beam 1 of sentence 0, row 5 takes beam 0 of sentence 2, …
  const std::vector<int64_t> from = {1, 1, 3, 2, 5, 4};
  RnnDecoderState& moved = st;
  moved.reorder(from);
  model.decode_step(moved, {2, 2, 2, 2, 2, 2});
  // The same as feeding each row the history of the row it came from.
  RnnDecoderState again = model.start_decoding(batch.src, 2);
  model.decode_step(again, {1, 1, 1, 1, 1, 1});
  model.decode_step(again, {4, 4, 6, 5, 8, 7});
  model.decode_step(again, {2, 2, 2, 2, 2, 2});
  expect_close(moved.logits.data(), again.logits.data(), again.logits.numel(), 1e-6, 1e-7,
               "logits after reorder");
}

// e⟨t,t'⟩ must come from s⟨t−1⟩, the decoder state before step t (s⟨t⟩ depends on α⟨t,·⟩).
TEST(RnnAttentionModel, StepAttendsFromThePreviousState) {
  const RnnConfig cfg = tiny_config();
  RnnAttentionModel model(cfg);
  init_for_checks(model, 8);
  Batch batch;
  const int64_t B = 3, Tt = 6, Ts = 5, Hd = cfg.decoder_hidden, A2 = 6, A = cfg.attention_size;
  model.forward(batch.src, batch.tgt_in);
  const auto& act = model.activations();
  const Tensor alpha = model.attention().clone();

  // 1. α⟨t,·⟩ recomputed by hand from s⟨t−1⟩ = dec_h[t] matches; from s⟨t⟩ = dec_h[t + 1] it
  //    does not.
  auto alpha_from = [&](const float* s, int64_t b) {
    std::vector<double> e(Ts), w(Ts);
    double mx = -1e300, sum = 0;
    for (int64_t j = 0; j < Ts; ++j) {
      double ej = 0;
      for (int64_t k = 0; k < A; ++k) {
        double pre = model.attn.U_bias.value[k];
        for (int64_t i = 0; i < Hd; ++i) pre += model.attn.W.value[k * Hd + i] * s[i];
        for (int64_t i = 0; i < A2; ++i)
          pre += model.attn.U.value[k * A2 + i] * act.annotations[(b * Ts + j) * A2 + i];
        ej += model.attn.v.value[k] * std::tanh(pre);
      }
      e[j] = ej;
      if (batch.src.at(b, j) != cfg.pad_id) mx = std::max(mx, ej);
    }
    for (int64_t j = 0; j < Ts; ++j)
      sum += w[j] = batch.src.at(b, j) == cfg.pad_id ? 0.0 : std::exp(e[j] - mx);
    for (double& x : w) x /= sum;
    return w;
  };
  int differs = 0;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < Tt; ++t) {
      const float* prev = act.dec_h.data() + (t * B + b) * Hd;
      const float* cur = act.dec_h.data() + ((t + 1) * B + b) * Hd;
      expect_close(alpha.data() + (b * Tt + t) * Ts, alpha_from(prev, b).data(), Ts, 1e-5, 1e-6,
                   "alpha from s<t-1>");
      const auto wrong = alpha_from(cur, b);
      for (int64_t j = 0; j < Ts; ++j)
        differs += std::abs(wrong[j] - alpha[(b * Tt + t) * Ts + j]) > 1e-3;
    }
  EXPECT_GT(differs, B * Tt);  // s⟨t⟩ would give other weights

  // 2. Changing y⟨t−1⟩ = tgt_in[:, t] changes s⟨t⟩ but not α⟨t,·⟩ (nor any earlier row); the
  //    next row, which reads s⟨t⟩, changes.
  const int64_t t = 2;
  for (int64_t b = 0; b < B; ++b) {  // tokens 4, 7 and pad become 8
    ASSERT_NE(batch.tgt_in.at(b, t), 8);
    batch.tgt_in.ids[static_cast<size_t>(b * Tt + t)] = 8;
  }
  model.forward(batch.src, batch.tgt_in);
  const Tensor& changed = model.attention();
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t u = 0; u <= t; ++u)
      for (int64_t j = 0; j < Ts; ++j)
        EXPECT_EQ(changed[(b * Tt + u) * Ts + j], alpha[(b * Tt + u) * Ts + j])
            << "row " << b << " step " << u;
    double moved = 0;
    for (int64_t j = 0; j < Ts; ++j)
      moved += std::abs(changed[(b * Tt + t + 1) * Ts + j] - alpha[(b * Tt + t + 1) * Ts + j]);
    EXPECT_GT(moved, 1e-4) << "row " << b << ": α⟨t+1⟩ reads s⟨t⟩";
  }
}

TEST(RnnAttentionModel, MatchesPyTorchTwin) {
  const SafetensorsFile weights = read_safetensors(kRnnDir + "model.safetensors");
  const SafetensorsFile fx = read_safetensors(kRnnDir + "model_fixture.safetensors");
  auto meta = [&](const char* key) { return std::stoll(fx.metadata.at(key)); };
  RnnConfig cfg;
  cfg.embed_size = meta("embed_size");
  cfg.encoder_hidden = meta("encoder_hidden");
  cfg.decoder_hidden = meta("decoder_hidden");
  cfg.attention_size = meta("attention_size");
  cfg.src_vocab = meta("src_vocab");
  cfg.tgt_vocab = meta("tgt_vocab");
  cfg.pad_id = static_cast<int32_t>(meta("pad_id"));
  RnnAttentionModel model(cfg);
  size_t names = 0;
  model.visit_params([&](Param& p) {
    ASSERT_TRUE(weights.tensors.count(p.name)) << p.name << " is not in the PyTorch state_dict";
    const Tensor& w = weights.tensors.at(p.name);
    ASSERT_EQ(w.shape(), p.value.shape()) << p.name;
    p.value = w.clone();
    ++names;
  });
  EXPECT_EQ(names, weights.tensors.size()) << "the same parameters, no more";
  model.alloc_grads();
  model.zero_grads();
  auto tokens = [&](const char* name) {
    const Tensor& t = fx.tensors.at(name);
    TokenBatch tb{t.dim(0), t.dim(1), {}};
    for (int64_t i = 0; i < t.numel(); ++i) tb.ids.push_back(static_cast<int32_t>(t[i]));
    return tb;
  };
  const TokenBatch src = tokens("src"), tgt_in = tokens("tgt_in"), tgt_out = tokens("tgt_out");
  const Tensor& logits = model.forward(src, tgt_in);
  expect_close(logits.data(), fx.tensors.at("logits").data(), logits.numel(), 1e-4, 1e-5, "logits");
  const Tensor& alpha = fx.tensors.at("alpha");  // [B, Tt, Ts]
  ASSERT_EQ(alpha.numel(), model.attention().numel());
  expect_close(model.attention().data(), alpha.data(), alpha.numel(), 1e-4, 1e-6, "alpha");
  Tensor d_logits;
  const float ls = std::stof(fx.metadata.at("label_smoothing"));
  const LossValue lv = sequence_loss(logits, tgt_out, cfg.pad_id, ls, &d_logits);
  EXPECT_NEAR(lv.mean, fx.tensors.at("loss")[0], 1e-5);
  model.backward(d_logits);
  model.visit_params([&](Param& p) {
    const Tensor& g = fx.tensors.at("grad." + p.name);
    expect_close(p.grad.data(), g.data(), g.numel(), 1e-3, 1e-5, "grad." + p.name);
  });
}

TEST(RnnAttentionModel, ErrorsNameTheCulprit) {
  RnnConfig bad = tiny_config();
  bad.attention_size = 0;
  EXPECT_THROW(RnnAttentionModel{bad}, Error);
  RnnAttentionModel model(tiny_config());
  TokenBatch src{1, 3, {5, 99, 2}};
  TokenBatch tgt{1, 2, {1, 3}};
  try {
    model.forward(src, tgt);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("source token id 99"), std::string::npos) << e.what();
  }
  RnnDecoderState st = model.start_decoding(TokenBatch{1, 2, {5, 2}}, 1);
  EXPECT_THROW(model.decode_step(st, {1, 1}), Error);
  EXPECT_THROW(model.decode_step(st, {42}), Error);
}

}  // namespace
}  // namespace attnscope
