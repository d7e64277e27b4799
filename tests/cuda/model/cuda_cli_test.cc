// The commands with --device cuda, as a user runs them, against --device cpu on the trained model
// of tests/data: translate prints the same lines (fp32, greedy and beam 4), attention the same
// translations and attention.json with the same numbers, forward --json the same numbers, and
// bench --device cuda runs W6.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "cuda_model_test_util.h"
#include "data/date_corpus.h"
#include "run_attnscope.h"

namespace attnscope {
namespace {

namespace fs = std::filesystem;

std::string model_dir() {
  return test::test_data() + "/tiny_dates_model";
}

class CudaCli : public ::testing::Test {
 protected:
  void SetUp() override {
    ATTN_REQUIRE_GPU();
    dir_ = fs::temp_directory_path() / ("attnscope_cuda_cli_" + std::to_string(getpid()));
    fs::create_directories(dir_);
    std::ofstream in(dir_ / "dates.txt");
    for (const DatePair& p : generate_dates(30, 77)) in << p.written << "\n";
  }
  void TearDown() override {
    if (!dir_.empty()) fs::remove_all(dir_);
  }
  std::string input() const { return (dir_ / "dates.txt").string(); }
  fs::path dir_;
};

TEST_F(CudaCli, TranslateFp32PrintsTheCpusLines) {
  for (const char* beam : {"1", "4"}) {
    const std::string args =
        "translate --model " + model_dir() + " --input " + input() + " --beam " + beam;
    const test::CliResult cpu = test::run_attnscope(args, false);
    const test::CliResult gpu =
        test::run_attnscope(args + " --device cuda --precision fp32", false);
    ASSERT_EQ(cpu.exit_code, 0) << cpu.out;
    ASSERT_EQ(gpu.exit_code, 0) << gpu.out;
    EXPECT_EQ(gpu.out, cpu.out) << "beam " << beam;
    const test::CliResult bf16 = test::run_attnscope(args + " --device cuda", false);
    EXPECT_EQ(bf16.exit_code, 0) << bf16.out;
  }
}

// Every number of a and b within tol of each other, every string and key the same.
void expect_json_close(const nlohmann::json& a, const nlohmann::json& b, double tol,
                       const std::string& where, int& reported) {
  if (reported > 5) return;
  if (a.is_number() && b.is_number()) {
    if (std::abs(a.get<double>() - b.get<double>()) > tol && reported++ <= 5)
      ADD_FAILURE() << where << ": " << a << " vs " << b;
    return;
  }
  if (a.type() != b.type()) {
    if (reported++ <= 5) ADD_FAILURE() << where << ": " << a.type_name() << " vs " << b.type_name();
    return;
  }
  if (a.is_array()) {
    if (a.size() != b.size()) {
      if (reported++ <= 5) ADD_FAILURE() << where << ": " << a.size() << " vs " << b.size();
      return;
    }
    for (size_t i = 0; i < a.size(); ++i)
      expect_json_close(a[i], b[i], tol, where + "[" + std::to_string(i) + "]", reported);
    return;
  }
  if (a.is_object()) {
    for (auto it = a.begin(); it != a.end(); ++it) {
      if (!b.contains(it.key())) {
        if (reported++ <= 5) ADD_FAILURE() << where << ": no key " << it.key();
        continue;
      }
      expect_json_close(it.value(), b[it.key()], tol, where + "." + it.key(), reported);
    }
    return;
  }
  if (a != b && reported++ <= 5) ADD_FAILURE() << where << ": " << a << " vs " << b;
}

nlohmann::json read_json(const fs::path& p) {
  std::ifstream f(p);
  return nlohmann::json::parse(f);
}

TEST_F(CudaCli, AttentionFp32WritesTheCpusMaps) {
  const std::string common = "attention --model " + model_dir() +
                             " \"25 de dezembro de 1969\" \"October 9, 1993\" --beam 4 "
                             "--no-pictures --no-html --out ";
  const test::CliResult cpu = test::run_attnscope(common + (dir_ / "cpu").string(), false);
  const test::CliResult gpu = test::run_attnscope(
      common + (dir_ / "gpu").string() + " --device cuda --precision fp32", false);
  ASSERT_EQ(cpu.exit_code, 0) << cpu.out;
  ASSERT_EQ(gpu.exit_code, 0) << gpu.out;
  EXPECT_EQ(gpu.out, cpu.out);
  for (const char* sentence : {"0001", "0002"}) {
    int reported = 0;
    expect_json_close(read_json(dir_ / "gpu" / sentence / "attention.json"),
                      read_json(dir_ / "cpu" / sentence / "attention.json"), 1e-4, sentence,
                      reported);
  }
}

TEST_F(CudaCli, ForwardJsonMatchesTheCpu) {
  const std::string args = "forward --json --model " + model_dir() +
                           " --src \"5 6 7 8 2\" --src \"9 10 2\" --tgt \"1 4 5\" --tgt \"1 6\"";
  const test::CliResult cpu = test::run_attnscope(args, false);
  const test::CliResult gpu = test::run_attnscope(args + " --device cuda --precision fp32", false);
  ASSERT_EQ(cpu.exit_code, 0) << cpu.out;
  ASSERT_EQ(gpu.exit_code, 0) << gpu.out;
  int reported = 0;
  expect_json_close(nlohmann::json::parse(gpu.out), nlohmann::json::parse(cpu.out), 1e-4, "forward",
                    reported);
}

TEST_F(CudaCli, BenchRunsW6OnTheGpu) {
  const test::CliResult r =
      test::run_attnscope("bench W6 --device cuda --small --json --repeat 1", false);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const auto j = nlohmann::json::parse(r.out.substr(0, r.out.find('\n')));
  EXPECT_EQ(j["workload"], "W6");
  EXPECT_GT(j["tokens_per_s"].get<double>(), 0.0);
  EXPECT_NE(j["device"].get<std::string>().find("cuda"), std::string::npos);
  const test::CliResult cpu_workload = test::run_attnscope("bench W2 --device cuda --small");
  EXPECT_NE(cpu_workload.exit_code, 0);
  EXPECT_NE(cpu_workload.out.find("W2 is a CPU workload"), std::string::npos) << cpu_workload.out;
}

}  // namespace
}  // namespace attnscope
