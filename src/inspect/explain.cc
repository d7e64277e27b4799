#include "inspect/explain.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>

#include "core/error.h"
#include "core/rng.h"
#include "kernels/cpu/attention.h"
#include "kernels/cpu/gemm.h"
#include "kernels/cpu/softmax.h"

namespace attnscope {

namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// Rounded to one decimal; + 0.0f turns −0 into 0 so nothing prints as "-0".
float round1(float x) {
  return std::round(x * 10.0f) / 10.0f + 0.0f;
}

Tensor draw_rounded(Rng& rng, Shape shape, float a) {
  Tensor t(std::move(shape));
  for (int64_t i = 0; i < t.numel(); ++i) t[i] = round1(rng.uniform(-a, a));
  return t;
}

// [B, T, H·dh] → [B, H, T, dh]
Tensor split_heads(const Tensor& x, int64_t B, int64_t T, int64_t H, int64_t dh) {
  Tensor y({B, H, T, dh});
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t t = 0; t < T; ++t)
        for (int64_t i = 0; i < dh; ++i)
          y[((b * H + h) * T + t) * dh + i] = x[(b * T + t) * H * dh + h * dh + i];
  return y;
}

// [B, H, T, dh] → [B, T, H·dh]
Tensor concat_heads(const Tensor& x, int64_t B, int64_t T, int64_t H, int64_t dh) {
  Tensor y({B, T, H * dh});
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t t = 0; t < T; ++t)
        for (int64_t i = 0; i < dh; ++i)
          y[(b * T + t) * H * dh + h * dh + i] = x[((b * H + h) * T + t) * dh + i];
  return y;
}

float max_abs_diff(const Tensor& a, const Tensor& b) {
  float m = 0;
  for (int64_t i = 0; i < a.numel(); ++i) m = std::max(m, std::fabs(a[i] - b[i]));
  return m;
}

ExplainStep make_step(std::string name, std::string title, Shape shape, const Tensor& t,
                      std::string note, ExplainAxis rows = ExplainAxis::kNone,
                      ExplainAxis cols = ExplainAxis::kNone, int decimals = 4) {
  ExplainStep s;
  s.name = std::move(name);
  s.title = std::move(title);
  s.shape = std::move(shape);
  s.values = t.to_vector();
  s.note = std::move(note);
  s.rows = rows;
  s.cols = cols;
  s.decimals = decimals;
  return s;
}

std::string join_shape(std::initializer_list<int64_t> dims) {
  return shape_str(Shape(dims));
}

// "0.4137·V[0, 2]"-style expansion of one output row: Σ_j w_j · name[prefix, j].
std::string mix_terms(const float* w, int64_t T, const std::string& vname,
                      const std::string& prefix) {
  std::string s;
  const int64_t shown = std::min<int64_t>(T, 6);
  for (int64_t j = 0; j < shown; ++j) {
    if (j) s += j % 3 == 0 ? "\n      + " : " + ";  // three terms a line
    s += fmt::format("{}·{}[{}{}]", w[j] == 0.0f ? "0" : fmt::format("{:.4f}", w[j]), vname, prefix,
                     j);
  }
  if (shown < T) s += fmt::format(" + … ({} terms in all)", T);
  return s;
}

}  // namespace

void validate_explain_options(const ExplainOptions& o) {
  auto in_range = [](const char* flag, int64_t v) {
    ATTN_CHECK(v >= 1 && v <= kExplainMaxSize,
               "explain: {} must be between 1 and {} (got {}); explain is meant to be read, keep "
               "it small",
               flag, kExplainMaxSize, v);
  };
  in_range("--batch", o.batch);
  in_range("--len", o.len);
  in_range("--dim", o.dim);
  ATTN_CHECK(o.heads >= 1 && o.heads <= o.dim,
             "explain: --heads must be between 1 and --dim {} (got {})", o.dim, o.heads);
  ATTN_CHECK(o.dim % o.heads == 0,
             "explain: --dim {} is not divisible by --heads {}: each head takes dim / heads "
             "features, so dim must be a multiple of heads (try --dim {})",
             o.dim, o.heads,
             (o.dim / o.heads + 1) * o.heads <= kExplainMaxSize ? (o.dim / o.heads + 1) * o.heads
                                                                : o.dim / o.heads * o.heads);
  ATTN_CHECK(o.pad >= 0 && o.pad < o.len,
             "explain: --pad {} must be between 0 and --len − 1 = {}: padding fills the end of the "
             "last sequence and at least one real token must remain",
             o.pad, o.len - 1);
}

const ExplainStep& ExplainResult::step(const std::string& name) const {
  for (const auto& s : steps)
    if (s.name == name) return s;
  fail("explain: no step named '{}'", name);
}

ExplainResult explain_steps(const ExplainOptions& opt) {
  validate_explain_options(opt);
  const int64_t B = opt.batch, T = opt.len, D = opt.dim, H = opt.heads, dh = D / H;
  const int64_t BT = B * T;
  const bool multi = H > 1;
  const bool has_mask = opt.causal || opt.pad > 0;
  const float scale = 1.0f / std::sqrt(static_cast<float>(dh));

  ExplainResult r;
  r.options = opt;
  r.d_k = dh;
  auto& steps = r.steps;

  // Inputs: X, then W_Q, W_K, W_V, W_O, always drawn in this order so that --heads changes
  // nothing before the split.
  Rng rng(opt.seed);
  // X ~ U(−1, 1) and W ~ U(−a, a) with a = 3/√dim give the projections about unit variance,
  // so the scaled scores spread over about ±1: weights that differ visibly, without saturating.
  const float a = std::min(1.5f, 3.0f / std::sqrt(static_cast<float>(D)));
  Tensor X = draw_rounded(rng, {B, T, D}, 1.0f);
  Tensor WQ = draw_rounded(rng, {D, D}, a);
  Tensor WK = draw_rounded(rng, {D, D}, a);
  Tensor WV = draw_rounded(rng, {D, D}, a);
  Tensor WO = draw_rounded(rng, {D, D}, a);

  std::string xnote = fmt::format(
      "The input: {} sequence{} (the batch) × {} token{} × {} feature{} per token.\n"
      "Seeded random numbers (seed {}), rounded to 1 decimal.",
      B, B > 1 ? "s" : "", T, T > 1 ? "s" : "", D, D > 1 ? "s" : "", opt.seed);
  if (opt.pad > 0)
    xnote += fmt::format(
        "\nRows marked * are padding: the last {} position(s) of sequence {} hold no real token.",
        opt.pad, B - 1);
  steps.push_back(
      make_step("X", "X", {B, T, D}, X, xnote, ExplainAxis::kToken, ExplainAxis::kNone, 1));
  steps.push_back(make_step(
      "W_Q", "W_Q", {D, D}, WQ,
      "Learned projection weights [dim, dim] (here small seeded random numbers). Each of Q, K, V\n"
      "has its own W; multiplying by it is how a token's vector becomes a query, a key, a value.",
      ExplainAxis::kNone, ExplainAxis::kNone, 1));
  steps.push_back(make_step("W_K", "W_K", {D, D}, WK, "The key projection.", ExplainAxis::kNone,
                            ExplainAxis::kNone, 1));
  steps.push_back(make_step("W_V", "W_V", {D, D}, WV, "The value projection.", ExplainAxis::kNone,
                            ExplainAxis::kNone, 1));

  // Projections: one product for all B·T tokens.
  Tensor Q({B, T, D}), K({B, T, D}), V({B, T, D});
  cpu::gemm(false, false, BT, D, D, 1.0f, X.data(), D, WQ.data(), D, 0.0f, Q.data(), D);
  cpu::gemm(false, false, BT, D, D, 1.0f, X.data(), D, WK.data(), D, 0.0f, K.data(), D);
  cpu::gemm(false, false, BT, D, D, 1.0f, X.data(), D, WV.data(), D, 0.0f, V.data(), D);
  const std::string one_product = fmt::format(
      "One product for all {} tokens of the batch: [{}, {}]·[{}, {}].", BT, BT, D, D, D);
  steps.push_back(make_step("Q", "Q = X·W_Q", {B, T, D}, Q,
                            "Queries: what each token is looking for.\n" + one_product,
                            ExplainAxis::kToken));
  steps.push_back(make_step("K", "K = X·W_K", {B, T, D}, K,
                            "Keys: what each token offers to be matched against.",
                            ExplainAxis::kToken));
  steps.push_back(make_step("V", "V = X·W_V", {B, T, D}, V,
                            "Values: what each token hands over when it is attended to.",
                            ExplainAxis::kToken));

  // Heads: [B, T, D] → [B, H, T, dh] (a copy; with one head it is the same layout).
  Tensor Qh = split_heads(Q, B, T, H, dh), Kh = split_heads(K, B, T, H, dh),
         Vh = split_heads(V, B, T, H, dh);
  if (multi) {
    const std::string where = fmt::format(
        "Head h takes features h·{} … h·{}+{} of every token: a reshape and a transpose,\n"
        "nothing is recomputed. Each head then runs attention on its own {}-wide slice.",
        dh, dh, dh - 1, dh);
    const Shape hs{B, H, T, dh};
    const std::string arrow = fmt::format("{} → {}", join_shape({B, T, D}), shape_str(hs));
    auto split_step = [&](const char* name, const char* what, const Tensor& t, std::string note) {
      ExplainStep s = make_step(name, fmt::format("{} = split {} into {} heads", name, what, H), hs,
                                t, std::move(note), ExplainAxis::kToken);
      s.detail = "(" + arrow + " = [B, H, T, d_head])";
      return s;
    };
    steps.push_back(split_step("Q_heads", "Q", Qh, where));
    steps.push_back(split_step("K_heads", "K", Kh, "The same split for the keys."));
    steps.push_back(split_step("V_heads", "V", Vh, "The same split for the values."));
  }
  const Shape sshape = multi ? Shape{B, H, T, T} : Shape{B, T, T};
  const Shape zshape = multi ? Shape{B, H, T, dh} : Shape{B, T, D};
  const std::string qn = multi ? "Q_heads" : "Q", kn = multi ? "K_heads" : "K",
                    vn = multi ? "V_heads" : "V";

  // scores = Q·Kᵀ, one batched product over B (·H) matrices.
  const int64_t nmat = B * H;
  Tensor S(sshape);
  cpu::gemm_batched(nmat, false, true, T, T, dh, 1.0f, Qh.data(), dh, T * dh, Kh.data(), dh, T * dh,
                    0.0f, S.data(), T, T * T);
  {
    ExplainStep s = make_step(
        "scores", fmt::format("scores = {}·{}ᵀ", qn, kn), sshape, S,
        fmt::format(
            "cpu::gemm_batched: {} matrices ({}), each [{}, {}]·[{}, {}], in a single call.\n"
            "scores[{}, i, j] = {}[{}, i]·{}[{}, j]: how well query i matches key j.",
            nmat, multi ? fmt::format("batch {} × heads {}", B, H) : fmt::format("batch {}", B), T,
            dh, dh, T, multi ? "b, h" : "b", qn, multi ? "b, h" : "b", kn, multi ? "b, h" : "b"),
        ExplainAxis::kQuery, ExplainAxis::kKey);
    s.detail = fmt::format("(one batched product over the batch{} — no loop)",
                           multi ? " and the heads" : "");
    steps.push_back(std::move(s));
  }

  // scaled = scores / √d_k
  Tensor scaled(sshape);
  for (int64_t i = 0; i < S.numel(); ++i) scaled[i] = S[i] * scale;
  {
    const std::string why = multi ? "the key width of one head" : "the key width";
    const std::string same = dh == T ? "; here they happen to be equal" : "";
    std::string note =
        multi ? fmt::format("d_k = dim / heads = {} / {} = {}: each head's keys are {} wide. ", D,
                            H, dh, dh)
              : "";
    note += fmt::format(
        "1/√{} = {:.4f}.\nWithout it, dot products of {}-wide vectors grow like √d_k and the "
        "softmax saturates\n(one weight ≈ 1, the rest ≈ 0, and almost no gradient).",
        dh, scale, dh);
    ExplainStep s = make_step("scaled", "scaled = scores / √d_k", sshape, scaled, note,
                              ExplainAxis::kQuery, ExplainAxis::kKey);
    s.detail = fmt::format("d_k = {} ({}, not the sequence length {}{})", dh, why, T, same);
    steps.push_back(std::move(s));
  }

  // The additive mask [B, T, T]: −∞ hides a key. Broadcast over the heads for the softmax.
  Tensor M({B, T, T});
  std::vector<uint8_t> key_padding(static_cast<size_t>(B * T), 0);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t j = 0; j < T; ++j)
      if (b == B - 1 && j >= T - opt.pad) key_padding[static_cast<size_t>(b * T + j)] = 1;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t i = 0; i < T; ++i)
      for (int64_t j = 0; j < T; ++j) {
        const bool hide = (opt.causal && j > i) || key_padding[static_cast<size_t>(b * T + j)];
        M[(b * T + i) * T + j] = hide ? kNegInf : 0.0f;
      }
  Tensor Mfull(sshape);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h)
      std::copy(M.data() + b * T * T, M.data() + (b + 1) * T * T,
                Mfull.data() + (b * H + h) * T * T);
  {
    std::string note;
    if (opt.causal) note += "Causal: −∞ above the diagonal, so no token sees a later one.\n";
    if (opt.pad > 0)
      note += fmt::format(
          "Padding: −∞ in the padded key column{} {} of sequence {}.\n", opt.pad > 1 ? "s" : "",
          opt.pad > 1 ? fmt::format("k{}*…k{}*", T - opt.pad, T - 1) : fmt::format("k{}*", T - 1),
          B - 1);
    if (has_mask)
      note +=
          "Added to the scaled scores. Why −∞: softmax turns it into exactly 0 (e^−∞ = 0), so a\n"
          "hidden key gets no weight at all; a large negative number would still leak a little.";
    else
      note +=
          "Every query may see every key, so the mask is all zeros.\n"
          "Try --causal (a decoder's look-ahead mask) or --pad 1 (key padding).";
    if (multi) note += "\nThe same mask is used by every head.";
    ExplainStep s =
        make_step("mask", "mask", {B, T, T}, M, note, ExplainAxis::kQuery, ExplainAxis::kKey, 0);
    s.detail = opt.causal && opt.pad > 0 ? "(causal + padding)"
               : opt.causal              ? "(causal)"
               : opt.pad > 0             ? "(key padding)"
                                         : "(none: all zeros)";
    steps.push_back(std::move(s));
  }
  if (has_mask) {
    Tensor masked(sshape);
    for (int64_t i = 0; i < masked.numel(); ++i) masked[i] = scaled[i] + Mfull[i];
    ExplainStep s = make_step("masked", "masked = scaled + mask", sshape, masked,
                              "The hidden entries are now −∞; the others are unchanged.",
                              ExplainAxis::kQuery, ExplainAxis::kKey);
    steps.push_back(std::move(s));
  }

  // weights = softmax(scaled + mask) over the last axis (the keys).
  Tensor P(sshape);
  cpu::softmax_forward(scaled.data(), Mfull.data(), P.data(), nmat * T, T);
  {
    ExplainStep s = make_step(
        "weights", "weights = softmax over the last axis (keys): each row sums to 1", sshape, P,
        fmt::format("weights[{0}, i, j] = e^{1}[{0}, i, j] / Σ_j' e^{1}[{0}, i, j']:\nfor each "
                    "query i (a row), a distribution over the keys j (the columns).{2}",
                    multi ? "b, h" : "b", has_mask ? "masked" : "scaled",
                    has_mask ? "\nMasked entries are exactly 0 (printed 0, not 0.0000)." : ""),
        ExplainAxis::kQuery, ExplainAxis::kKey);
    s.row_sums.resize(static_cast<size_t>(nmat * T));
    for (int64_t row = 0; row < nmat * T; ++row) {
      double sum = 0;
      for (int64_t j = 0; j < T; ++j) sum += P[row * T + j];
      s.row_sums[static_cast<size_t>(row)] = static_cast<float>(sum);
    }
    steps.push_back(std::move(s));
  }

  // Z = weights · V (per head when multi), one batched product again.
  Tensor Zh({B, H, T, dh});
  cpu::gemm_batched(nmat, false, false, T, dh, T, 1.0f, P.data(), T, T * T, Vh.data(), dh, T * dh,
                    0.0f, Zh.data(), dh, T * dh);
  Tensor C = concat_heads(Zh, B, T, H, dh);  // [B, T, D]; equals Zh's values when H == 1
  Tensor Z({B, T, D});
  {
    ExplainStep s = make_step(
        multi ? "Z_heads" : "Z", fmt::format("{} = weights · {}", multi ? "Z_heads" : "Z", vn),
        zshape, Zh,
        fmt::format(
            "Row i is Σ_j weights[{0}, i, j]·{1}[{0}, j]: a weighted average of the value "
            "vectors.\nThe weights are {2}, token to token; this is {3}, one vector per token.",
            multi ? "b, h" : "b", vn, shape_str(sshape), shape_str(zshape)),
        ExplainAxis::kToken);
    s.detail = "(one batched product again)";
    steps.push_back(std::move(s));
  }
  if (multi) {
    ExplainStep c = make_step(
        "concat", "concat = the heads side by side", {B, T, D}, C,
        fmt::format("Head h's {} features go back to columns h·{} … h·{}+{}: the inverse of the "
                    "split.",
                    dh, dh, dh, dh - 1),
        ExplainAxis::kToken);
    c.detail = "([B, H, T, d_head] → [B, T, H·d_head])";
    steps.push_back(std::move(c));
    steps.push_back(make_step("W_O", "W_O", {D, D}, WO,
                              "The output projection [dim, dim] (small seeded random numbers).",
                              ExplainAxis::kNone, ExplainAxis::kNone, 1));
    cpu::gemm(false, false, BT, D, D, 1.0f, C.data(), D, WO.data(), D, 0.0f, Z.data(), D);
    ExplainStep z = make_step("Z", "Z = concat · W_O", {B, T, D}, Z,
                              "W_O mixes what the heads found into one dim-wide vector per token.",
                              ExplainAxis::kToken);
    steps.push_back(std::move(z));
  } else {
    Z = C;
  }

  // Cross-check against the fused kernel, which reads the heads in place from [B, T, D].
  {
    Tensor out_k({B, T, D}), probs_k({B, H, T, T});
    cpu::AttentionShape as;
    as.B = B;
    as.H = H;
    as.Tq = T;
    as.Tk = T;
    as.d_k = dh;
    as.d_v = dh;
    as.scale = scale;
    as.causal = opt.causal;
    as.causal_offset = 0;
    as.key_padding = opt.pad > 0 ? key_padding.data() : nullptr;
    cpu::attention_forward(as, cpu::interleaved_heads(Q.data(), T, D, dh),
                           cpu::interleaved_heads(K.data(), T, D, dh),
                           cpu::interleaved_heads(V.data(), T, D, dh),
                           cpu::interleaved_heads(out_k.data(), T, D, dh), probs_k.data());
    r.max_diff_out = max_abs_diff(out_k, C);
    r.max_diff_weights = max_abs_diff(probs_k, P);
  }

  // The residual.
  Tensor out({B, T, D});
  for (int64_t i = 0; i < out.numel(); ++i) out[i] = X[i] + Z[i];
  {
    ExplainStep s = make_step(
        "out", "out = X + Z (residual)", {B, T, D}, out,
        "The input is added back: the attention sub-layer only has to learn a change to X, and "
        "the\ngradient has a direct path back through the +. (In cross-attention it is the "
        "decoder's\nstream, the queries' side, that is added back.) A LayerNorm usually follows.",
        ExplainAxis::kToken);
    steps.push_back(std::move(s));
  }

  // What to read.
  auto& rd = r.reading;
  const std::string widx = multi ? "weights[b, h, i, j]" : "weights[b, i, j]";
  rd.push_back(widx + " = how much token i attends to token j" + (multi ? " in head h" : "") +
               "; each row sums to 1.");
  const int64_t shown_heads = std::min<int64_t>(H, 4);
  auto point_at_largest = [&](int64_t h, int64_t i) {
    const float* row = P.data() + (h * T + i) * T;  // batch 0, head h, query i
    const int64_t jmax = std::max_element(row, row + T) - row;
    rd.push_back(
        fmt::format("  Batch 0{}, row {}: token {} attends most to token {} (weight {:.4f}).",
                    multi ? fmt::format(", head {}", h) : "", i, i, jmax, row[jmax]));
  };
  for (int64_t h = 0; h < shown_heads; ++h) point_at_largest(h, 0);
  if (opt.causal && T > 1) {
    rd.push_back(
        "  With the causal mask token 0 can only see itself; the last row sees every token:");
    for (int64_t h = 0; h < shown_heads; ++h) point_at_largest(h, T - 1);
  }
  if (H > shown_heads) rd.push_back(fmt::format("  (… and {} more heads.)", H - shown_heads));
  if (multi) {
    rd.push_back(fmt::format(
        "Z_heads[b, h, i] = the mix of head-h values token i takes on:\n  Z_heads[0, 0, 0] = {}.",
        mix_terms(P.data(), T, "V_heads", "0, 0, ")));
    rd.push_back("  concat and W_O turn the heads' mixes into Z[b, i], one dim-wide vector.");
  } else {
    rd.push_back(fmt::format("Z[b, i] = the mix of values token i takes on:\n  Z[0, 0] = {}.",
                             mix_terms(P.data(), T, "V", "0, ")));
  }
  rd.push_back(fmt::format(
      "They are different things: weights {} is the N×N table of which token relates to which;",
      shape_str(sshape)));
  rd.push_back(fmt::format(
      "  Z {} is N×d, one new vector per token, and it is what flows on to the next layer.",
      join_shape({B, T, D})));
  if (opt.causal)
    rd.push_back(
        "Causal: −∞ above the diagonal, so token i never sees a later token j > i (weight "
        "exactly 0).");
  if (opt.pad > 0)
    rd.push_back(fmt::format(
        "Padding: keys marked * get −∞, so no token gives them any weight (exactly 0). Their own "
        "rows\n  are still computed, and are ignored downstream (e.g. by the loss)."));
  rd.push_back(
      "Residual: out = X + Z, because the sub-layer learns a change to its input, and gradients "
      "have\n  a direct path back through the +.");
  return r;
}

// ---------------------------------------------------------------------------------------------
// Rendering

namespace {

std::string format_value(float v, int decimals) {
  if (std::isinf(v)) return v < 0 ? "-inf" : "inf";
  if (v == 0.0f) return "0";
  std::string s = fmt::format("{:.{}f}", v, decimals);
  // A tiny negative rounding error would print as "-0.0000": not exactly 0, but not negative.
  if (s[0] == '-' && s.find_first_not_of("-0.") == std::string::npos) s.erase(0, 1);
  return s;
}

std::string axis_label(ExplainAxis a, int64_t i, bool padded) {
  const char* p = a == ExplainAxis::kToken ? "t" : a == ExplainAxis::kQuery ? "q" : "k";
  return fmt::format("{}{}{}", p, i, padded ? "*" : "");
}

void indent_lines(std::string& out, const std::string& text, const std::string& indent) {
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    out += indent + text.substr(start, end - start) + "\n";
    start = end + 1;
  }
}

void render_step(std::string& out, const ExplainStep& s, int index, const ExplainOptions& o) {
  out += fmt::format("[{}] {}  {}{}\n", index, s.title, shape_str(s.shape),
                     s.detail.empty() ? "" : "  " + s.detail);
  indent_lines(out, s.note, "    ");

  const int rank = static_cast<int>(s.shape.size());
  const int64_t cols = rank >= 1 ? s.shape.back() : 1;
  const int64_t rows = rank >= 2 ? s.shape[static_cast<size_t>(rank - 2)] : 1;
  const int64_t blocks =
      rows * cols != 0 ? static_cast<int64_t>(s.values.size()) / (rows * cols) : 0;
  const int64_t heads = rank == 4 ? s.shape[1] : 1;
  const int64_t pad_from = o.len - o.pad;

  size_t width = 1;
  for (float v : s.values) width = std::max(width, format_value(v, s.decimals).size());
  if (s.cols != ExplainAxis::kNone)
    width = std::max(width, axis_label(s.cols, cols - 1, o.pad > 0).size());
  size_t label_w = 0;
  if (s.rows != ExplainAxis::kNone) label_w = axis_label(s.rows, rows - 1, o.pad > 0).size();

  for (int64_t blk = 0; blk < blocks; ++blk) {
    const int64_t b = rank >= 3 ? blk / heads : -1;
    const bool last_seq = b == o.batch - 1 && o.pad > 0;
    if (rank == 3) out += fmt::format("    b = {}\n", b);
    if (rank == 4) out += fmt::format("    b = {}, h = {}\n", b, blk % heads);
    if (s.cols != ExplainAxis::kNone) {
      std::string line = "      " + std::string(label_w, ' ');
      for (int64_t j = 0; j < cols; ++j)
        line += fmt::format("  {:>{}}", axis_label(s.cols, j, last_seq && j >= pad_from), width);
      out += line + "\n";
    }
    for (int64_t i = 0; i < rows; ++i) {
      std::string line = "      ";
      if (s.rows != ExplainAxis::kNone)
        line += fmt::format("{:<{}}", axis_label(s.rows, i, last_seq && i >= pad_from), label_w);
      const int64_t row = blk * rows + i;
      for (int64_t j = 0; j < cols; ++j)
        line += fmt::format("  {:>{}}",
                            format_value(s.values[static_cast<size_t>(row * cols + j)], s.decimals),
                            width);
      if (!s.row_sums.empty())
        line += fmt::format("   │ row sum {:.4f}", s.row_sums[static_cast<size_t>(row)]);
      out += line + "\n";
    }
  }
  out += "\n";
}

nlohmann::ordered_json json_value(float v) {
  if (std::isinf(v)) return v < 0 ? "-inf" : "inf";
  // The shortest decimal that reads back as this float, so 0.3f is written 0.3.
  return std::stod(fmt::format("{}", v));
}

}  // namespace

std::string render_explain_text(const ExplainResult& r) {
  const ExplainOptions& o = r.options;
  std::string mask = o.causal ? "causal" : "";
  if (o.pad > 0) mask += fmt::format("{}padding {}", mask.empty() ? "" : " + ", o.pad);
  if (mask.empty()) mask = "none";
  std::string out = "attnscope explain — one attention layer, step by step\n";
  out += fmt::format(
      "  batch {} · len {} · dim {} · heads {} · d_k {} · mask: {} · seed {}\n"
      "  Shapes are [batch, tokens, features]; every number is computed by attnscope's own "
      "kernels.\n\n",
      o.batch, o.len, o.dim, o.heads, r.d_k, mask, o.seed);
  int index = 1;
  for (const auto& s : r.steps) render_step(out, s, index++, o);

  out += "Check: the steps above vs the fused kernel cpu::attention_forward\n";
  out += fmt::format("    max |difference|: attention output {:.2e}, weights {:.2e}{}\n\n",
                     r.max_diff_out, r.max_diff_weights,
                     r.max_diff_out < 1e-4f && r.max_diff_weights < 1e-4f
                         ? "  (the same, up to float rounding)"
                         : "  (MISMATCH)");
  out += "What to read\n";
  for (const auto& line : r.reading) indent_lines(out, line, "  ");
  return out;
}

std::string render_explain_json(const ExplainResult& r) {
  using nlohmann::ordered_json;
  const ExplainOptions& o = r.options;
  ordered_json j;
  j["options"] = {{"batch", o.batch},   {"len", o.len}, {"dim", o.dim},  {"heads", o.heads},
                  {"causal", o.causal}, {"pad", o.pad}, {"seed", o.seed}};
  j["d_k"] = r.d_k;
  ordered_json steps = ordered_json::array();
  for (const auto& s : r.steps) {
    ordered_json js;
    js["name"] = s.name;
    js["title"] = s.title;
    js["shape"] = s.shape;
    if (!s.detail.empty()) js["detail"] = s.detail;
    ordered_json vals = ordered_json::array();
    for (float v : s.values) vals.push_back(json_value(v));
    js["values"] = std::move(vals);
    js["note"] = s.note;
    if (!s.row_sums.empty()) {
      ordered_json sums = ordered_json::array();
      for (float v : s.row_sums) sums.push_back(json_value(v));
      js["row_sums"] = std::move(sums);
    }
    steps.push_back(std::move(js));
  }
  j["steps"] = std::move(steps);
  j["check"] = {{"max_abs_diff_out", r.max_diff_out}, {"max_abs_diff_weights", r.max_diff_weights}};
  j["reading"] = r.reading;
  return j.dump(2) + "\n";
}

std::string explain(const ExplainOptions& opt) {
  const ExplainResult r = explain_steps(opt);
  return opt.json ? render_explain_json(r) : render_explain_text(r);
}

}  // namespace attnscope
