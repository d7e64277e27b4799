// The CLI's argument helpers (app/), tested without the binary: token ids given on the command
// line, the text lines every sentence input reads, and what --config and --arch resolve to.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "app/model_presets.h"
#include "app/text_lines.h"
#include "app/token_args.h"
#include "core/error.h"
#include "nn/model_config.h"
#include "nn/rnn_attention_model.h"

namespace attnscope::app {
namespace {

namespace fs = std::filesystem;

template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// A scratch folder of this test process, removed at the end of each test.
class AppArgs : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("attnscope_app_args_" + std::to_string(getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string write(const std::string& name, const std::string& bytes) const {
    const fs::path p = dir_ / name;
    std::ofstream(p, std::ios::binary) << bytes;
    return p.string();
  }
  fs::path dir_;
};

TEST_F(AppArgs, TokenRowsArePaddedToTheLongest) {
  const TokenBatch b = parse_token_rows({"5 6 7", " 8\t9 "}, 0, "--src");
  EXPECT_EQ(b.rows, 2);
  EXPECT_EQ(b.cols, 3);
  EXPECT_EQ(b.ids, (std::vector<int32_t>{5, 6, 7, 8, 9, 0}));
  EXPECT_EQ(parse_token_rows({"4"}, 1, "--tgt").ids, std::vector<int32_t>{4});
}

TEST_F(AppArgs, BadTokenRowsNameTheOptionAndTheRow) {
  EXPECT_EQ(error_of([] {
              parse_token_rows({"5 6", "7 x8"}, 0, "--src");
            }),
            "--src #2: \"x8\" is not a token id (expected integers separated by spaces)");
  EXPECT_EQ(error_of([] { parse_token_rows({"5 6.5"}, 0, "--tgt"); }),
            "--tgt #1: \"6.5\" is not a token id (expected integers separated by spaces)");
  EXPECT_EQ(error_of([] { parse_token_rows({"99999999999"}, 0, "--src"); }),
            "--src #1: \"99999999999\" is not a token id (expected integers separated by spaces)");
  EXPECT_EQ(error_of([] { parse_token_rows({"1", "  "}, 0, "--src"); }), "--src #2 is empty");
  EXPECT_EQ(error_of([] { parse_token_rows({}, 0, "--src"); }),
            "--src needs at least one sequence");
}

TEST_F(AppArgs, TextLinesDropCarriageReturnsAndCountLines) {
  const std::string path = write("in.txt", "one\r\ntwo\n\nlast without newline");
  TextLines in(path);
  EXPECT_EQ(in.name(), path);
  std::vector<std::string> lines;
  std::vector<int64_t> numbers;
  for (std::string line; in.next(line);) {
    lines.push_back(line);
    numbers.push_back(in.line_number());
  }
  EXPECT_EQ(lines, (std::vector<std::string>{"one", "two", "", "last without newline"}));
  EXPECT_EQ(numbers, (std::vector<int64_t>{1, 2, 3, 4}));
}

TEST_F(AppArgs, TextLinesReadStdinByDefaultAndNameAMissingFile) {
  EXPECT_EQ(TextLines("").name(), "stdin");
  EXPECT_EQ(TextLines("-").name(), "stdin");
  const std::string missing = (dir_ / "missing.txt").string();
  EXPECT_EQ(error_of([&] { TextLines t(missing); }), "cannot open " + missing);
}

TEST_F(AppArgs, PresetsAndConfigFiles) {
  const auto transformer_d_model = [](const std::string& name) {
    return dynamic_cast<const ModelConfig&>(*model_preset("transformer", name)).d_model;
  };
  EXPECT_EQ(transformer_d_model("small"), 256);
  EXPECT_EQ(dynamic_cast<const ModelConfig&>(*model_preset("transformer", "base")).heads, 8);
  EXPECT_EQ(dynamic_cast<const RnnConfig&>(*model_preset("rnn-attention", "tiny")).encoder_hidden,
            128);
  const std::string transformer =
      std::string(ATTNSCOPE_TEST_DATA) + "/tiny_dates_model/config.json";
  EXPECT_EQ(transformer_d_model(transformer), 32);
  EXPECT_EQ(error_of([] { model_preset("transformer", "huge"); }),
            "--config huge: not a preset (tiny, small, base) nor a config.json file");
  EXPECT_EQ(error_of([] { model_preset("rnn-attention", "huge"); }),
            "--config huge: not a preset (tiny, small, base) nor a config.json file");
  EXPECT_EQ(
      error_of([&] { model_preset("rnn-attention", transformer); }),
      "--config " + transformer + ": a config of arch transformer, but --arch is rnn-attention");
}

TEST_F(AppArgs, ArchComesFromTheFlagThenTheConfigFile) {
  const std::string rnn = write("rnn.json", R"({"arch": "rnn-attention", "embed_size": 8,
    "encoder_hidden": 8, "decoder_hidden": 8, "attention_size": 8, "src_vocab": 20,
    "tgt_vocab": 20, "pad_id": 0, "bos_id": 1, "eos_id": 2, "unk_id": 3, "max_len": 16})");
  const std::string transformer =
      std::string(ATTNSCOPE_TEST_DATA) + "/tiny_dates_model/config.json";
  EXPECT_EQ(resolve_arch("", "tiny"), "transformer");
  EXPECT_EQ(resolve_arch("", transformer), "transformer");
  EXPECT_EQ(resolve_arch("", rnn), "rnn-attention");
  EXPECT_EQ(resolve_arch("transformer", rnn), "transformer");  // the flag wins
  EXPECT_EQ(resolve_arch("rnn-attention", "small"), "rnn-attention");
  EXPECT_EQ(error_of([] { resolve_arch("lstm", "tiny"); }),
            "--arch lstm: not an architecture that can be trained here (transformer, "
            "rnn-attention)");
  EXPECT_EQ(dynamic_cast<const RnnConfig&>(*model_preset("rnn-attention", rnn)).embed_size, 8);
  EXPECT_EQ(error_of([&] { model_preset("transformer", rnn); }),
            "--config " + rnn + ": a config of arch rnn-attention, but --arch is transformer");
}

}  // namespace
}  // namespace attnscope::app
