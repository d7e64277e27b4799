// `attnscope bench --json` prints one JSON object per line and workload with the fields
// docs/benchmarks.md names (run on the hidden --small shapes; no timing is asserted).
#include <gtest/gtest.h>

#include <cstdio>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "run_attnscope.h"

namespace attnscope {
namespace {

using Result = test::CliResult;
// stdout only: stderr goes to the test log.
Result run(const std::string& args) {
  return test::run_attnscope(args, /*with_stderr=*/false);
}

std::vector<nlohmann::json> json_lines(const std::string& out) {
  std::vector<nlohmann::json> lines;
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line))
    if (!line.empty()) lines.push_back(nlohmann::json::parse(line));
  return lines;
}

void expect_environment(const nlohmann::json& j) {
  EXPECT_EQ(j.at("impl"), "attnscope");
  EXPECT_GE(j.at("threads").get<int>(), 1);
  EXPECT_TRUE(j.at("isa").is_string());
  EXPECT_EQ(j.at("repeat").get<int>(), 1);
}

TEST(BenchCli, W1JsonHasTheFieldsOfBenchmarksMd) {
  const Result r = run("bench W1 --json --repeat 1 --small --threads 2");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const auto lines = json_lines(r.out);
  ASSERT_EQ(lines.size(), 2u) << r.out;
  for (size_t i = 0; i < 2; ++i) {
    const auto& j = lines[i];
    EXPECT_EQ(j.at("workload"), "W1");
    EXPECT_EQ(j.at("causal").get<bool>(), i == 1);
    for (const char* key : {"fwd_ms", "fwdbwd_ms", "gflops", "fwdbwd_gflops"})
      EXPECT_GT(j.at(key).get<double>(), 0.0) << key;
    EXPECT_LE(j.at("fwd_min_ms").get<double>(), j.at("fwd_ms").get<double>());
    EXPECT_EQ(j.at("threads").get<int>(), 2);
    expect_environment(j);
  }
}

TEST(BenchCli, EveryWorkloadPrintsItsMetric) {
  const Result r = run("bench w1w W2 W3 --json --repeat 1 --warmup 1 --small");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const auto lines = json_lines(r.out);
  ASSERT_EQ(lines.size(), 4u) << r.out;
  EXPECT_EQ(lines[0].at("workload"), "W1w");
  EXPECT_GT(lines[0].at("ratio_to_w1_fwd").get<double>(), 0.0);
  EXPECT_GT(lines[0].at("fwd_ms").get<double>(), 0.0);
  EXPECT_EQ(lines[2].at("workload"), "W2");
  EXPECT_GT(lines[2].at("tgt_tokens_per_s").get<double>(), 0.0);
  EXPECT_GT(lines[2].at("peak_rss_mb").get<double>(), 0.0);
  EXPECT_GE(lines[2].at("peak_rss_mb").get<double>(), lines[2].at("base_rss_mb").get<double>());
  EXPECT_EQ(lines[2].at("tgt_tokens").get<int>(), 4 * 8);
  EXPECT_EQ(lines[3].at("workload"), "W3");
  EXPECT_GT(lines[3].at("tokens_per_s").get<double>(), 0.0);
  EXPECT_EQ(lines[3].at("tokens").get<int>(), 6 * 4);  // every sentence decoded to full length
  for (const auto& j : lines) expect_environment(j);
}

TEST(BenchCli, W3mRunsGreedyAndBeamFourOfAMarianShapedModel) {
  const Result r = run("bench W3m --json --repeat 1 --warmup 1 --small");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const auto lines = json_lines(r.out);
  ASSERT_EQ(lines.size(), 2u) << r.out;
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(lines[i].at("workload"), "W3m");
    EXPECT_EQ(lines[i].at("beam").get<int>(), i == 0 ? 1 : 4);
    EXPECT_GT(lines[i].at("tokens_per_s").get<double>(), 0.0);
    EXPECT_EQ(lines[i].at("tokens").get<int>(), 6 * 4);  // every hypothesis to full length
    EXPECT_EQ(lines[i].at("vocab").get<int>(), 101);
    expect_environment(lines[i]);
  }
}

TEST(BenchCli, TableByDefaultAndUnknownWorkloadIsAnError) {
  Result r = run("bench W1 --repeat 1 --small");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("GFLOP/s"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("non-causal fwd+bwd"), std::string::npos) << r.out;
  r = run("bench W9 --small 2>&1");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.out.find("W9"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace attnscope
