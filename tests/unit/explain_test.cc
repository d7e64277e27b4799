// attnscope explain: every number it prints is recomputed here with plain loops in double.
#include "inspect/explain.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "core/error.h"
#include "run_attnscope.h"

namespace attnscope {
namespace {

using nlohmann::json;
constexpr double kInf = std::numeric_limits<double>::infinity();

struct Arr {
  std::vector<int64_t> shape;
  std::vector<double> v;
  double operator[](size_t i) const { return v[i]; }
};

json run_json(const ExplainOptions& base) {
  ExplainOptions o = base;
  o.json = true;
  return json::parse(explain(o));
}

bool has_step(const json& j, const std::string& name) {
  for (const auto& s : j["steps"])
    if (s["name"] == name) return true;
  return false;
}

Arr step(const json& j, const std::string& name) {
  for (const auto& s : j["steps"]) {
    if (s["name"] != name) continue;
    Arr a;
    a.shape = s["shape"].get<std::vector<int64_t>>();
    for (const auto& x : s["values"]) {
      if (x.is_string()) {
        EXPECT_EQ(x.get<std::string>(), "-inf") << name;
        a.v.push_back(-kInf);
      } else {
        a.v.push_back(x.get<double>());
      }
    }
    size_t n = 1;
    for (int64_t d : a.shape) n *= static_cast<size_t>(d);
    EXPECT_EQ(a.v.size(), n) << name;
    return a;
  }
  ADD_FAILURE() << "no step " << name;
  return {};
}

void expect_near_all(const std::vector<double>& want, const Arr& got, double tol,
                     const std::string& what) {
  ASSERT_EQ(want.size(), got.v.size()) << what;
  for (size_t i = 0; i < want.size(); ++i) {
    if (std::isinf(want[i])) {
      EXPECT_EQ(want[i], got[i]) << what << " at " << i;
    } else {
      EXPECT_NEAR(want[i], got[i], tol) << what << " at " << i;
    }
  }
}

// The whole layer recomputed from the inputs that the JSON reports.
struct Reference {
  std::vector<double> Q, K, V, scores, scaled, mask, weights, zheads, concat, Z, out;
};

Reference recompute(const json& j, const ExplainOptions& o) {
  const int64_t B = o.batch, T = o.len, D = o.dim, H = o.heads, dh = D / H;
  const Arr X = step(j, "X"), WQ = step(j, "W_Q"), WK = step(j, "W_K"), WV = step(j, "W_V");
  Reference r;
  auto project = [&](const Arr& W) {
    std::vector<double> y(static_cast<size_t>(B * T * D), 0.0);
    for (int64_t n = 0; n < B * T; ++n)
      for (int64_t c = 0; c < D; ++c) {
        double acc = 0;
        for (int64_t k = 0; k < D; ++k) acc += X[n * D + k] * W[k * D + c];
        y[n * D + c] = acc;
      }
    return y;
  };
  r.Q = project(WQ);
  r.K = project(WK);
  r.V = project(WV);
  auto at = [&](const std::vector<double>& m, int64_t b, int64_t t, int64_t h, int64_t i) {
    return m[(b * T + t) * D + h * dh + i];
  };
  const size_t ns = static_cast<size_t>(B * H * T * T);
  r.scores.assign(ns, 0);
  r.scaled.assign(ns, 0);
  r.weights.assign(ns, 0);
  r.mask.assign(static_cast<size_t>(B * T * T), 0);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t i = 0; i < T; ++i)
      for (int64_t k = 0; k < T; ++k) {
        const bool causal_hidden = o.causal && k > i;
        const bool pad_hidden = b == B - 1 && k >= T - o.pad;
        r.mask[(b * T + i) * T + k] = (causal_hidden || pad_hidden) ? -kInf : 0.0;
      }
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t i = 0; i < T; ++i) {
        const size_t row = static_cast<size_t>(((b * H + h) * T + i) * T);
        double mx = -kInf;
        for (int64_t k = 0; k < T; ++k) {
          double s = 0;
          for (int64_t c = 0; c < dh; ++c) s += at(r.Q, b, i, h, c) * at(r.K, b, k, h, c);
          r.scores[row + k] = s;
          r.scaled[row + k] = s / std::sqrt(static_cast<double>(dh));
          const double m = r.scaled[row + k] + r.mask[(b * T + i) * T + k];
          mx = std::max(mx, m);
        }
        double sum = 0;
        for (int64_t k = 0; k < T; ++k) {
          const double m = r.scaled[row + k] + r.mask[(b * T + i) * T + k];
          r.weights[row + k] = std::isinf(m) ? 0.0 : std::exp(m - mx);
          sum += r.weights[row + k];
        }
        for (int64_t k = 0; k < T; ++k) r.weights[row + k] /= sum;
      }
  r.zheads.assign(static_cast<size_t>(B * H * T * dh), 0);
  r.concat.assign(static_cast<size_t>(B * T * D), 0);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t i = 0; i < T; ++i)
        for (int64_t c = 0; c < dh; ++c) {
          double acc = 0;
          for (int64_t k = 0; k < T; ++k)
            acc += r.weights[((b * H + h) * T + i) * T + k] * at(r.V, b, k, h, c);
          r.zheads[((b * H + h) * T + i) * dh + c] = acc;
          r.concat[(b * T + i) * D + h * dh + c] = acc;
        }
  if (H > 1) {
    const Arr WO = step(j, "W_O");
    r.Z.assign(static_cast<size_t>(B * T * D), 0);
    for (int64_t n = 0; n < B * T; ++n)
      for (int64_t c = 0; c < D; ++c) {
        double acc = 0;
        for (int64_t k = 0; k < D; ++k) acc += r.concat[n * D + k] * WO[k * D + c];
        r.Z[n * D + c] = acc;
      }
  } else {
    r.Z = r.concat;
  }
  r.out.resize(r.Z.size());
  for (size_t i = 0; i < r.Z.size(); ++i) r.out[i] = X[i] + r.Z[i];
  return r;
}

void check_all_numbers(const ExplainOptions& o) {
  SCOPED_TRACE(::testing::Message()
               << "batch " << o.batch << " len " << o.len << " dim " << o.dim << " heads "
               << o.heads << " causal " << o.causal << " pad " << o.pad << " seed " << o.seed);
  const json j = run_json(o);
  const Reference r = recompute(j, o);
  const double tol = 2e-5;
  expect_near_all(r.Q, step(j, "Q"), tol, "Q");
  expect_near_all(r.K, step(j, "K"), tol, "K");
  expect_near_all(r.V, step(j, "V"), tol, "V");
  expect_near_all(r.scores, step(j, "scores"), tol, "scores");
  expect_near_all(r.scaled, step(j, "scaled"), tol, "scaled");
  expect_near_all(r.mask, step(j, "mask"), 0, "mask");
  expect_near_all(r.weights, step(j, "weights"), tol, "weights");
  const Arr w = step(j, "weights");
  // Masked (−∞) entries are exactly 0, in every head.
  const int64_t T = o.len;
  for (size_t i = 0; i < r.weights.size(); ++i) {
    const int64_t b = static_cast<int64_t>(i) / (o.heads * T * T);
    const int64_t ij = static_cast<int64_t>(i) % (T * T);
    if (std::isinf(r.mask[static_cast<size_t>(b * T * T + ij)])) {
      EXPECT_EQ(w[i], 0.0) << "masked weight must be exactly 0 at " << i;
    } else {
      EXPECT_GT(w[i], 0.0) << "unmasked weight at " << i;
    }
  }
  if (o.heads > 1) {
    expect_near_all(r.zheads, step(j, "Z_heads"), tol, "Z_heads");
    expect_near_all(r.concat, step(j, "concat"), tol, "concat");
  }
  expect_near_all(r.Z, step(j, "Z"), tol, "Z");
  expect_near_all(r.out, step(j, "out"), tol, "out");

  // Row sums: reported next to the weights and equal to 1.
  const auto& wstep = [&]() -> const json& {
    for (const auto& s : j["steps"])
      if (s["name"] == "weights") return s;
    return j;
  }();
  ASSERT_TRUE(wstep.contains("row_sums"));
  ASSERT_EQ(wstep["row_sums"].size(), static_cast<size_t>(o.batch * o.heads * o.len));
  for (const auto& s : wstep["row_sums"]) EXPECT_NEAR(s.get<double>(), 1.0, 1e-5);

  EXPECT_LT(j["check"]["max_abs_diff_out"].get<double>(), 1e-5);
  EXPECT_LT(j["check"]["max_abs_diff_weights"].get<double>(), 1e-5);
  EXPECT_EQ(j["d_k"].get<int64_t>(), o.dim / o.heads);
}

TEST(Explain, DefaultNumbersAreRight) {
  check_all_numbers(ExplainOptions{});
}

TEST(Explain, NumbersAreRightAcrossOptions) {
  check_all_numbers({.batch = 3, .len = 5, .dim = 8, .heads = 1, .seed = 7});
  check_all_numbers({.batch = 2, .len = 4, .dim = 4, .heads = 2, .seed = 1});
  check_all_numbers({.batch = 2, .len = 3, .dim = 6, .heads = 3, .causal = true, .seed = 3});
  check_all_numbers({.batch = 2, .len = 5, .dim = 8, .heads = 2, .causal = true, .pad = 2});
  check_all_numbers({.batch = 1, .len = 4, .dim = 4, .heads = 1, .pad = 3, .seed = 11});
  check_all_numbers({.batch = 1, .len = 1, .dim = 1, .heads = 1});
}

TEST(Explain, InputsAreSmallRoundedAndSeeded) {
  const json j = run_json({});
  const Arr X = step(j, "X");
  EXPECT_EQ(X.shape, (std::vector<int64_t>{2, 3, 4}));
  bool any_nonzero = false;
  for (double x : X.v) {
    EXPECT_LE(std::fabs(x), 1.0);
    EXPECT_NEAR(x * 10, std::round(x * 10), 1e-4) << "X is rounded to 1 decimal";
    any_nonzero |= x != 0;
  }
  EXPECT_TRUE(any_nonzero);
  for (const char* w : {"W_Q", "W_K", "W_V"}) {
    const Arr W = step(j, w);
    EXPECT_EQ(W.shape, (std::vector<int64_t>{4, 4})) << w;
    for (double x : W.v) EXPECT_LE(std::fabs(x), 1.5) << w;
  }
  ExplainOptions o;
  EXPECT_EQ(explain(o), explain(o));
  ExplainOptions other;
  other.seed = 1;
  EXPECT_NE(explain(o), explain(other));
}

TEST(Explain, JsonHasTheDocumentedSchema) {
  const json j = run_json({});
  ASSERT_TRUE(j.contains("steps"));
  for (const auto& s : j["steps"]) {
    EXPECT_TRUE(s["name"].is_string());
    EXPECT_TRUE(s["shape"].is_array());
    EXPECT_TRUE(s["values"].is_array());
    EXPECT_TRUE(s["note"].is_string());
  }
  std::vector<std::string> names;
  for (const auto& s : j["steps"]) names.push_back(s["name"].get<std::string>());
  EXPECT_EQ(names, (std::vector<std::string>{"X", "W_Q", "W_K", "W_V", "Q", "K", "V", "scores",
                                             "scaled", "mask", "weights", "Z", "out"}));
  EXPECT_EQ(step(j, "scores").shape, (std::vector<int64_t>{2, 3, 3}));
  EXPECT_EQ(step(j, "weights").shape, (std::vector<int64_t>{2, 3, 3}));
  EXPECT_EQ(step(j, "Z").shape, (std::vector<int64_t>{2, 3, 4}));
  EXPECT_EQ(step(j, "out").shape, (std::vector<int64_t>{2, 3, 4}));
}

TEST(Explain, CausalMaskZeroesAboveTheDiagonal) {
  ExplainOptions o;
  o.causal = true;
  o.len = 4;
  const json j = run_json(o);
  EXPECT_TRUE(has_step(j, "masked"));
  const Arr m = step(j, "mask"), w = step(j, "weights"), masked = step(j, "masked");
  for (int64_t b = 0; b < o.batch; ++b)
    for (int64_t i = 0; i < o.len; ++i)
      for (int64_t k = 0; k < o.len; ++k) {
        const size_t idx = static_cast<size_t>((b * o.len + i) * o.len + k);
        if (k > i) {
          EXPECT_EQ(m[idx], -kInf);
          EXPECT_EQ(masked[idx], -kInf);
          EXPECT_EQ(w[idx], 0.0) << "above the diagonal must be exactly 0";
        } else {
          EXPECT_EQ(m[idx], 0.0);
          EXPECT_GT(w[idx], 0.0);
        }
      }
  // Row 0 of a causal mask sees only itself.
  EXPECT_EQ(w[0], 1.0);
  const std::string text = explain(o);
  EXPECT_NE(text.find("-inf"), std::string::npos);
  EXPECT_NE(text.find("Causal: −∞ above the diagonal"), std::string::npos);
}

TEST(Explain, PaddingColumnsGetZeroWeight) {
  ExplainOptions o;
  o.batch = 2;
  o.len = 4;
  o.pad = 2;
  const json j = run_json(o);
  const Arr w = step(j, "weights");
  const int64_t T = o.len;
  for (int64_t b = 0; b < o.batch; ++b)
    for (int64_t i = 0; i < T; ++i)
      for (int64_t k = 0; k < T; ++k) {
        const double x = w[static_cast<size_t>((b * T + i) * T + k)];
        if (b == o.batch - 1 && k >= T - o.pad) {
          EXPECT_EQ(x, 0.0) << "padded key column " << k;
        } else {
          EXPECT_GT(x, 0.0) << "b " << b << " i " << i << " k " << k;
        }
      }
  const std::string text = explain(o);
  EXPECT_NE(text.find("k3*"), std::string::npos) << "padded keys are marked";
  EXPECT_NE(text.find("t2*"), std::string::npos) << "padded tokens are marked";
}

TEST(Explain, MultiHeadShapes) {
  ExplainOptions o;
  o.dim = 4;
  o.heads = 2;
  const json j = run_json(o);
  using S = std::vector<int64_t>;
  EXPECT_EQ(step(j, "Q_heads").shape, (S{2, 2, 3, 2}));
  EXPECT_EQ(step(j, "K_heads").shape, (S{2, 2, 3, 2}));
  EXPECT_EQ(step(j, "V_heads").shape, (S{2, 2, 3, 2}));
  EXPECT_EQ(step(j, "scores").shape, (S{2, 2, 3, 3}));
  EXPECT_EQ(step(j, "weights").shape, (S{2, 2, 3, 3}));
  EXPECT_EQ(step(j, "mask").shape, (S{2, 3, 3}));
  EXPECT_EQ(step(j, "Z_heads").shape, (S{2, 2, 3, 2}));
  EXPECT_EQ(step(j, "concat").shape, (S{2, 3, 4}));
  EXPECT_EQ(step(j, "W_O").shape, (S{4, 4}));
  EXPECT_EQ(step(j, "Z").shape, (S{2, 3, 4}));
  EXPECT_EQ(step(j, "out").shape, (S{2, 3, 4}));
  EXPECT_EQ(j["d_k"].get<int64_t>(), 2);
  // The split is a pure rearrangement: Q_heads[b, h, t, i] = Q[b, t, h·2 + i].
  const Arr Q = step(j, "Q"), Qh = step(j, "Q_heads");
  for (int64_t b = 0; b < 2; ++b)
    for (int64_t h = 0; h < 2; ++h)
      for (int64_t t = 0; t < 3; ++t)
        for (int64_t i = 0; i < 2; ++i)
          EXPECT_EQ(Qh[static_cast<size_t>(((b * 2 + h) * 3 + t) * 2 + i)],
                    Q[static_cast<size_t>((b * 3 + t) * 4 + h * 2 + i)]);
  // One head: no split steps, no W_O.
  const json j1 = run_json({});
  EXPECT_FALSE(has_step(j1, "Q_heads"));
  EXPECT_FALSE(has_step(j1, "W_O"));
  EXPECT_FALSE(has_step(j1, "masked")) << "no mask, no masked step";
  // --heads changes nothing before the split.
  EXPECT_EQ(step(j, "Q").v, step(j1, "Q").v);
}

// ---------------------------------------------------------------------------------------------
// The text

// The numbers printed in step `title_start`'s block (value rows only; labels and sums dropped).
std::vector<double> text_block(const std::string& text, const std::string& title_start) {
  std::istringstream in(text);
  std::string line;
  bool inside = false;
  std::vector<double> vals;
  while (std::getline(in, line)) {
    if (!inside) {
      const size_t p = line.find("] ");
      inside = line.rfind("[", 0) == 0 && p != std::string::npos &&
               line.compare(p + 2, title_start.size(), title_start) == 0;
      continue;
    }
    if (line.empty()) break;
    if (line.rfind("      ", 0) != 0) continue;  // the note and the "b = 0" headers
    std::istringstream ls(line.substr(0, line.find("│")));
    std::string tok;
    std::vector<double> row;
    while (ls >> tok) {
      if (tok == "-inf") {
        row.push_back(-kInf);
      } else if (tok[0] == '-' || std::isdigit(static_cast<unsigned char>(tok[0]))) {
        row.push_back(std::stod(tok));
      }
    }
    vals.insert(vals.end(), row.begin(), row.end());
  }
  EXPECT_TRUE(inside) << "no step titled " << title_start;
  return vals;
}

void expect_text_matches(const std::vector<double>& want, const std::vector<double>& got,
                         double tol, const std::string& what) {
  ASSERT_EQ(want.size(), got.size()) << what;
  for (size_t i = 0; i < want.size(); ++i) {
    if (std::isinf(want[i])) {
      EXPECT_EQ(want[i], got[i]) << what << " at " << i;
    } else {
      EXPECT_NEAR(want[i], got[i], tol) << what << " at " << i;
    }
  }
}

TEST(ExplainText, PrintedNumbersAreRight) {
  for (const ExplainOptions& o :
       {ExplainOptions{}, ExplainOptions{.len = 4, .causal = true, .pad = 1},
        ExplainOptions{.batch = 1, .len = 3, .dim = 6, .heads = 2, .causal = true}}) {
    const json j = run_json(o);
    const Reference r = recompute(j, o);
    const std::string text = explain(o);
    const double tol = 6e-5;  // printed with 4 decimals
    expect_text_matches(step(j, "X").v, text_block(text, "X "), 1e-9, "X");
    expect_text_matches(r.Q, text_block(text, "Q = X·W_Q"), tol, "Q");
    expect_text_matches(r.scores, text_block(text, "scores = "), tol, "scores");
    expect_text_matches(r.scaled, text_block(text, "scaled = scores / √d_k"), tol, "scaled");
    expect_text_matches(r.mask, text_block(text, "mask "), 0, "mask");
    expect_text_matches(r.weights, text_block(text, "weights = softmax"), tol, "weights");
    expect_text_matches(r.Z, text_block(text, o.heads > 1 ? "Z = concat · W_O" : "Z = weights"),
                        tol, "Z");
    expect_text_matches(r.out, text_block(text, "out = X + Z (residual)"), tol, "out");
  }
}

TEST(ExplainText, TitlesSayWhatLearnersAsk) {
  const std::string t = explain({});
  auto has = [&](const std::string& s) { return t.find(s) != std::string::npos; };
  EXPECT_TRUE(has("scores = Q·Kᵀ  [2, 3, 3]  (one batched product over the batch — no loop)"));
  EXPECT_TRUE(has("d_k = 4 (the key width, not the sequence length 3)"));
  EXPECT_TRUE(has("weights = softmax over the last axis (keys): each row sums to 1  [2, 3, 3]"));
  EXPECT_TRUE(has("row sum 1.0000"));
  EXPECT_TRUE(has("Z = weights · V  [2, 3, 4]"));
  EXPECT_TRUE(has("out = X + Z (residual)  [2, 3, 4]"));
  EXPECT_TRUE(has("What to read"));
  EXPECT_TRUE(has("how much token i attends to token j"));
  EXPECT_TRUE(has("row 0: token 0 attends most to token"));
  EXPECT_TRUE(has("the mix of values token i takes on"));
  EXPECT_TRUE(has("They are different things"));
  EXPECT_TRUE(has("learns a change to its input"));
  EXPECT_TRUE(has("direct path"));
  EXPECT_TRUE(has("cpu::attention_forward"));
  EXPECT_FALSE(has("MISMATCH"));
}

TEST(ExplainText, DkIsTheKeyWidthNotTheLength) {
  // len 5, dim 4: d_k must be 4.
  const std::string a = explain({.len = 5, .dim = 4});
  EXPECT_NE(a.find("d_k = 4 (the key width, not the sequence length 5)"), std::string::npos);
  EXPECT_EQ(a.find("d_k = 5"), std::string::npos);
  EXPECT_NE(a.find("1/√4 = 0.5000"), std::string::npos);
  // Two heads of dim 8: d_k = 4 per head.
  const std::string b = explain({.len = 3, .dim = 8, .heads = 2});
  EXPECT_NE(b.find("d_k = 4 (the key width of one head, not the sequence length 3)"),
            std::string::npos);
  EXPECT_NE(b.find("d_k = dim / heads = 8 / 2 = 4"), std::string::npos);
  EXPECT_EQ(b.find("d_k = 8"), std::string::npos);
  EXPECT_NE(b.find("split Q into 2 heads  [2, 2, 3, 4]"), std::string::npos);
  EXPECT_NE(b.find("Z = concat · W_O  [2, 3, 8]"), std::string::npos);
}

TEST(ExplainText, ColumnsAreAligned) {
  const std::string t = explain({.causal = true});
  // Every value row of the weights block has the same length up to the row sum.
  std::istringstream in(t);
  std::string line;
  bool inside = false;
  size_t width = 0;
  int rows = 0;
  while (std::getline(in, line)) {
    if (line.find("] weights = softmax") != std::string::npos)
      inside = true;
    else if (inside && line.empty())
      break;
    else if (inside && line.rfind("      q", 0) == 0) {
      const size_t w = line.find("│");
      ASSERT_NE(w, std::string::npos);
      if (width == 0) width = w;
      EXPECT_EQ(w, width) << line;
      ++rows;
    }
  }
  EXPECT_EQ(rows, 6);
}

TEST(Explain, InvalidOptionsThrow) {
  auto message = [](ExplainOptions o) {
    try {
      explain(o);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message({.dim = 6, .heads = 4}).find("not divisible by --heads 4"), std::string::npos);
  EXPECT_NE(message({.len = 3, .pad = 3}).find("--pad 3"), std::string::npos);
  EXPECT_NE(message({.pad = -1}).find("--pad"), std::string::npos);
  EXPECT_NE(message({.batch = 0}).find("--batch"), std::string::npos);
  EXPECT_NE(message({.len = 65}).find("--len must be between 1 and 64"), std::string::npos);
  EXPECT_NE(message({.dim = 0}).find("--dim"), std::string::npos);
  EXPECT_NE(message({.heads = 0}).find("--heads"), std::string::npos);
  EXPECT_NE(message({.dim = 4, .heads = 8}).find("--heads"), std::string::npos);
  EXPECT_EQ(message({.batch = 64, .len = 2, .dim = 64, .heads = 64}), "no error");
}

// ---------------------------------------------------------------------------------------------
// The command line

struct CliRun {
  int rc;
  std::string out;
};

CliRun run_cli(const std::string& args) {
  const test::CliResult r = test::run_attnscope(args);
  return {r.exit_code, r.out};
}

TEST(ExplainCli, PrintsTextAndJson) {
  const CliRun t = run_cli("explain");
  EXPECT_EQ(t.rc, 0) << t.out;
  EXPECT_EQ(t.out, explain({}));
  const CliRun j = run_cli(
      "explain --batch 1 --len 4 --dim 8 --heads 2 --causal --pad 1 --seed 5 "
      "--json");
  ASSERT_EQ(j.rc, 0) << j.out;
  EXPECT_EQ(j.out, explain({.batch = 1,
                            .len = 4,
                            .dim = 8,
                            .heads = 2,
                            .causal = true,
                            .pad = 1,
                            .seed = 5,
                            .json = true}));
  EXPECT_TRUE(json::accept(j.out));
}

TEST(ExplainCli, BadOptionsExitWithAClearError) {
  const CliRun r = run_cli("explain --dim 6 --heads 4");
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.out.find("attnscope: error: explain: --dim 6 is not divisible by --heads 4"),
            std::string::npos)
      << r.out;
  const CliRun h = run_cli("explain --help");
  EXPECT_EQ(h.rc, 0);
  EXPECT_NE(h.out.find("--causal"), std::string::npos);
  EXPECT_NE(h.out.find("d_k"), std::string::npos);
}

}  // namespace
}  // namespace attnscope
