// The attnscope binary as a user runs it: `forward --json` reproduces PyTorch's numbers, and
// bad input ends with a message naming the culprit and a non-zero exit, never a crash.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

#include "io/safetensors.h"

namespace attnscope {
namespace {

struct Result {
  int exit_code = -1;
  std::string out;  // stdout and stderr together
};

Result run(const std::string& args) {
  const std::string cmd = std::string(ATTNSCOPE_BINARY) + " " + args + " 2>&1";
  Result r;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf{};
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  const int status = pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

const std::string kModel = std::string(ATTNSCOPE_TEST_DATA) + "/parity/post_relu";

std::string ids_row(const Tensor& t, int64_t row) {
  std::string s;
  for (int64_t j = 0; j < t.dim(1); ++j) {
    const auto id = static_cast<int64_t>(t[row * t.dim(1) + j]);
    if (id == 0) break;  // trailing padding: the CLI pads again itself
    if (!s.empty()) s += ' ';
    s += std::to_string(id);
  }
  return s;
}

TEST(Cli, ForwardJsonMatchesPyTorch) {
  const auto fx = read_safetensors(kModel + "/fixture.safetensors");
  const Tensor& src = fx.tensors.at("src");
  const Tensor& tgt = fx.tensors.at("tgt_in");
  std::string args = "forward --json --model " + kModel;
  for (int64_t b = 0; b < src.dim(0); ++b)
    args += " --src \"" + ids_row(src, b) + "\" --tgt \"" + ids_row(tgt, b) + "\"";
  const Result r = run(args);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const auto j = nlohmann::json::parse(r.out);
  const Tensor& logits = fx.tensors.at("logits");
  const auto& jl = j.at("logits");
  const int64_t B = logits.dim(0), T = logits.dim(1), V = logits.dim(2);
  ASSERT_EQ(static_cast<int64_t>(jl.size()), B);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < T; ++t)
      for (int64_t v = 0; v < V; ++v)
        ASSERT_NEAR(jl[b][t][v].get<double>(), logits[(b * T + t) * V + v], 1e-4);
  const Tensor& cross = fx.tensors.at("attn.cross.1");  // [B, H, Tt, Ts]
  const auto& jc = j.at("attention").at("cross").at(1);
  for (int64_t i = 0; i < cross.numel(); ++i) {
    const int64_t Ts = cross.dim(3), Tt = cross.dim(2), H = cross.dim(1);
    const int64_t k = i % Ts, q = (i / Ts) % Tt, h = (i / Ts / Tt) % H, b = i / Ts / Tt / H;
    ASSERT_NEAR(jc[b][h][q][k].get<double>(), cross[i], 1e-6);
  }
  EXPECT_EQ(j.at("attention").at("encoder_self").size(), 2u);
  EXPECT_EQ(j.at("attention").at("decoder_self").size(), 2u);
}

TEST(Cli, BadInputNamesTheCulpritAndExitsNonZero) {
  Result r = run("forward --model /nonexistent/model --src \"5 6\" --tgt \"1 3\"");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("/nonexistent/model"), std::string::npos) << r.out;
  r = run("forward --model " + kModel + " --src \"5 six\" --tgt \"1 3\"");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("\"six\" is not a token id"), std::string::npos) << r.out;
  r = run("forward --model " + kModel + " --src \"5 999\" --tgt \"1 3\"");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("source token id 999"), std::string::npos) << r.out;
  r = run("forward --model " + kModel + " --src \"5 6\" --src \"7\" --tgt \"1 3\"");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("2 --src sequences but 1 --tgt"), std::string::npos) << r.out;
  r = run("translate --model " + kModel);  // a parity model has no tokenizer
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("no tokenizer"), std::string::npos) << r.out;
  r = run("explain --dim 5 --heads 2");
  EXPECT_EQ(r.exit_code, 1);
  r = run("no-such-command");
  EXPECT_NE(r.exit_code, 0);
}

}  // namespace
}  // namespace attnscope
