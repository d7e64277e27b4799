// The attnscope binary as a user runs it: `forward --json` reproduces PyTorch's numbers, and
// bad input ends with a message naming the culprit and a non-zero exit, never a crash.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>

#include "io/safetensors.h"
#include "nn/device.h"
#include "run_attnscope.h"

namespace attnscope {
namespace {

using Result = test::CliResult;
Result run(const std::string& args) {
  return test::run_attnscope(args);
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

// --device and --precision are checked before the model is read: a CPU-only build says it was
// built without CUDA, a CUDA build on a machine without a GPU says what is missing.
TEST(CliDevice, CudaWithoutCudaSaysWhyBeforeReadingTheModel) {
  const std::string dates = std::string(ATTNSCOPE_TEST_DATA) + "/tiny_dates_model";
  for (const std::string cmd :
       {"translate --model /nonexistent/model --device cuda",
        "forward --model /nonexistent/model --src \"5\" --tgt \"1\" --device cuda",
        "bench W6 --device cuda --small"}) {
    const Result r = run(cmd + " < /dev/null");
    if (attnscope::built_with_cuda() && r.exit_code == 0) continue;  // a GPU is here
    EXPECT_EQ(r.exit_code, 1) << cmd << "\n" << r.out;
    EXPECT_EQ(r.out.find("/nonexistent/model"), std::string::npos) << cmd << "\n" << r.out;
    if (attnscope::built_with_cuda()) {
      EXPECT_NE(r.out.find("--device cuda: no usable CUDA device here ("), std::string::npos)
          << cmd << "\n"
          << r.out;
    } else {
      EXPECT_NE(r.out.find("attnscope was built without CUDA"), std::string::npos) << cmd << "\n"
                                                                                   << r.out;
    }
  }
  Result r = run("translate --model " + dates + " --precision bf16 < /dev/null");
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find("--precision bf16 needs --device cuda: the CPU computes in fp32"),
            std::string::npos)
      << r.out;
  r = run("translate --model " + dates + " --device tpu < /dev/null");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.out.find("--device"), std::string::npos) << r.out;
  r = run("bench W6 --small");
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find("W6 runs on the GPU: add --device cuda"), std::string::npos) << r.out;
  // --device cpu (the default) and --precision fp32 change nothing.
  const Result plain = run("translate --model " + dates + " < /dev/null");
  ASSERT_EQ(plain.exit_code, 0) << plain.out;
  r = run("translate --model " + dates + " --device cpu --precision fp32 < /dev/null");
  EXPECT_EQ(r.exit_code, 0) << r.out;
}

// ---------- attnscope score: BLEU/chrF of any system's output ----------

std::string write_temp(const std::string& name, const std::string& text) {
  const auto path = std::filesystem::temp_directory_path() / ("attnscope_cli_" + name);
  std::ofstream(path, std::ios::binary) << text;
  return path.string();
}

TEST(CliScore, ScoresAFileAgainstReferencesAsSacreBleu) {
  // sacreBLEU's test_sentence_bleu.py example (issue #98): BLEU 8.49 with 13a and exp smoothing.
  const std::string hyp = write_temp(
      "hyp.txt", "Producția de zahăr primă va fi exprimată în ceea ce privește zahărul alb;\n");
  const std::string ref =
      write_temp("ref.txt", "producţia de zahăr brut se exprimă în zahăr alb;\n");
  const Result r = run("score --hypotheses " + hyp + " --references " + ref + " --json");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_NEAR(j.at("bleu").get<double>(), 8.49, 0.006);
  EXPECT_EQ(j.at("sentences").get<int>(), 1);
  EXPECT_GT(j.at("chrf").get<double>(), 0.0);
}

TEST(CliScore, TsvReferencesAndAPerfectMatch) {
  const std::string hyp = write_temp("hyp2.txt", "Tom wanted to fight.\nWe were eating pizza.\n");
  const std::string tsv =
      write_temp("test2.tsv",
                 "Tom queria brigar.\tTom wanted to fight.\nEstávamos comendo pizza.\tWe were "
                 "eating pizza.\n");
  Result r = run("score -i " + hyp + " --data " + tsv + " --json");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_NEAR(j.at("bleu").get<double>(), 100.0, 1e-9);
  EXPECT_NEAR(j.at("chrf").get<double>(), 100.0, 1e-9);
  // --reverse scores against the source column: no longer perfect.
  r = run("score -i " + hyp + " --data " + tsv + " --reverse --json");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  j = nlohmann::json::parse(r.out);
  EXPECT_LT(j.at("bleu").get<double>(), 50.0);
  // The plain output is sacreBLEU's signature line and chrF2.
  r = run("score -i " + hyp + " --data " + tsv);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("BLEU = 100.00"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("chrF2 = 100.00"), std::string::npos) << r.out;
}

TEST(CliScore, MismatchesAndBadLinesAreNamed) {
  const std::string hyp = write_temp("hyp3.txt", "one\ntwo\n");
  const std::string ref = write_temp("ref3.txt", "one\n");
  Result r = run("score -i " + hyp + " -r " + ref);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("has 2 lines but"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("ref3.txt has 1 references"), std::string::npos) << r.out;
  const std::string bad = write_temp("bad3.txt", "one\nt\xffo\n");
  r = run("score -i " + bad + " -r " + hyp);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("bad3.txt:2: invalid UTF-8"), std::string::npos) << r.out;
  // A TSV line that is not a pair would shift every later reference: refused, not skipped.
  const std::string tsv = write_temp("test3.tsv", "um\tone\nno tab here\n");
  r = run("score -i " + hyp + " --data " + tsv);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("test3.tsv:2"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("matched with a hypothesis line"), std::string::npos) << r.out;
  r = run("score -i " + hyp);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("--references FILE or as --data TSV"), std::string::npos) << r.out;
}

// ---------- attnscope demo --compare: both architectures, their figures side by side ----------

TEST(CliDemo, CompareWritesBothModelsFiguresAndPage) {
  const auto out = std::filesystem::temp_directory_path() / "attnscope_cli_demo_compare";
  std::filesystem::remove_all(out);
  const Result r =
      run("demo --compare --steps 12 --train-pairs 300 --test-pairs 40 --out " + out.string());
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("exact match by source length"), std::string::npos) << r.out;
  // The held-out dates, for `heads` and `eval` on the same pairs.
  std::ifstream test_tsv(out / "test.tsv");
  int lines = 0;
  for (std::string line; std::getline(test_tsv, line);) {
    EXPECT_NE(line.find('\t'), std::string::npos) << line;
    ++lines;
  }
  EXPECT_EQ(lines, 40);
  EXPECT_NE(r.out.find("attnscope heads --model "), std::string::npos) << r.out;
  std::ifstream in(out / "compare.json");
  ASSERT_TRUE(in.is_open());
  const auto j = nlohmann::json::parse(in);
  ASSERT_EQ(j.at("models").size(), 2u);
  EXPECT_EQ(j["models"][0].at("arch"), "transformer");
  EXPECT_EQ(j["models"][1].at("arch"), "rnn-attention");
  for (const auto& m : j["models"]) {
    EXPECT_EQ(m.at("steps").get<int>(), 12);
    EXPECT_GT(m.at("parameters").get<int64_t>(), 1000);
    EXPECT_GT(m.at("epochs").get<double>(), 0.0);
    EXPECT_GT(m.at("seconds_per_epoch").get<double>(), 0.0);
    EXPECT_GT(m.at("tgt_tokens_per_s").get<double>(), 0.0);
    // Every held-out date falls in exactly one length bucket.
    int64_t sentences = 0, exact = 0;
    for (const auto& b : m.at("exact_by_source_length")) {
      sentences += b.at("sentences").get<int64_t>();
      exact += b.at("exact").get<int64_t>();
    }
    EXPECT_EQ(sentences, 40);
    EXPECT_NEAR(m.at("exact_match_pct").get<double>(), 100.0 * static_cast<double>(exact) / 40,
                1e-9);
  }
  std::ifstream html(out / "compare.html");
  const std::string page((std::istreambuf_iterator<char>(html)), std::istreambuf_iterator<char>());
  EXPECT_NE(page.find("attention-rnn-attention/cross.png"), std::string::npos);
  EXPECT_NE(page.find("s/epoch"), std::string::npos);
  std::filesystem::remove_all(out);
}

}  // namespace
}  // namespace attnscope
