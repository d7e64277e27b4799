// Long input is cut early: a line keeps at most kMaxLineBytes while it is read (the rest is
// dropped, not stored), a sentence is cut to what a model can read before it is tokenized — and
// the tokens the model sees are the same as when the whole sentence was tokenized.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "app/text_lines.h"
#include "core/line_reader.h"
#include "data/corpus.h"
#include "data/sentence_cut.h"
#include "data/tokenizer.h"
#include "decode/translate.h"
#include "io/model_dir.h"

namespace attnscope {
namespace {

namespace fs = std::filesystem;

TEST(LineReader, KeepsAtMostTheLimitAndReadsOnToTheNextLine) {
  std::istringstream in("short\r\n" + std::string(100, 'x') + "\nlast");
  std::string line;
  bool cut = true;
  ASSERT_TRUE(read_line(in, line, 10, &cut));
  EXPECT_EQ(line, "short\r");
  EXPECT_FALSE(cut);
  ASSERT_TRUE(read_line(in, line, 10, &cut));
  EXPECT_EQ(line, std::string(10, 'x'));
  EXPECT_TRUE(cut);
  ASSERT_TRUE(read_line(in, line, 10, &cut));  // a last line without "\n" counts
  EXPECT_EQ(line, "last");
  EXPECT_FALSE(cut);
  EXPECT_FALSE(read_line(in, line, 10, &cut));
  std::istringstream empty_lines("\n\n");
  EXPECT_TRUE(read_line(empty_lines, line, 10, nullptr));
  EXPECT_EQ(line, "");
  EXPECT_TRUE(read_line(empty_lines, line, 10, nullptr));
  EXPECT_FALSE(read_line(empty_lines, line, 10, nullptr));
}

TEST(SentenceCut, CutsAtAWordOrACharacterBoundary) {
  EXPECT_EQ(text_for_tokens("a short sentence", 4), "a short sentence");  // 16 ≤ 4 · 64
  const std::string words = std::string(200, 'a') + " " + std::string(100, 'b') + " c";
  EXPECT_EQ(text_for_tokens(words, 4), std::string(200, 'a'));  // budget 256: "aaa… bbb|"
  std::string accents;
  for (int i = 0; i < 200; ++i) accents += "\xC3\xA9";       // one 400-byte word of "é"
  const std::string_view cut = text_for_tokens(accents, 2);  // budget 128: 64 whole "é"
  EXPECT_EQ(cut.size(), 128u);
  EXPECT_TRUE(is_valid_utf8(std::string(cut)));
  std::string leading_space(301, 'x');
  leading_space[0] = ' ';
  EXPECT_EQ(text_for_tokens(leading_space, 1).size(), 64u);  // a space only at the start
}

// The model sees the same tokens with the cut as without it: the first max_len − 1 tokens of
// the whole sentence, then eos — here on the demo model's tokenizer and a sentence of 40,000
// words (the uncut path took seconds for this; a 10 MB line took minutes and 1.3 GB).
TEST(SentenceCut, TheModelSeesTheSameTokensAsWithoutTheCut) {
  const Tokenizer tok =
      Tokenizer::load(std::string(ATTNSCOPE_TEST_DATA) + "/tiny_dates_model/shared.spm");
  std::string text;
  for (int i = 0; i < 4000; ++i) text += "terça-feira, 12 de outubro de 1993 e 9 de janeiro ";
  for (const int64_t max_len : {2, 16, 64, 256, 1000}) {
    std::vector<int32_t> whole = tok.encode(text);
    ASSERT_GT(static_cast<int64_t>(whole.size()), max_len);
    whole.resize(static_cast<size_t>(max_len - 1));
    whole.push_back(2);
    EXPECT_EQ(encode_source(tok, text, max_len, 2), whole) << max_len;
  }
}

TEST(TextLines, ALineOverTheLimitIsCutAtACharacterAndReported) {
  const fs::path path =
      fs::temp_directory_path() / ("attnscope_text_lines_" + std::to_string(::getpid()));
  {
    std::ofstream f(path, std::ios::binary);
    f << "one\n";
    for (size_t i = 0; i < kMaxLineBytes / 2 + 10; ++i) f << "\xC3\xA9";  // 1 MiB + 20 bytes of "é"
    f << "\nthree\r\n";
  }
  app::TextLines in(path.string());
  std::string line;
  ASSERT_TRUE(in.next(line));
  EXPECT_FALSE(in.cut());
  ASSERT_TRUE(in.next(line));
  EXPECT_TRUE(in.cut());
  EXPECT_LE(line.size(), kMaxLineBytes);
  EXPECT_GE(line.size(), kMaxLineBytes - 2);
  EXPECT_TRUE(is_valid_utf8(line));
  ASSERT_TRUE(in.next(line));
  EXPECT_EQ(line, "three");
  EXPECT_EQ(in.line_number(), 3);
  EXPECT_EQ(in.cut_note(), "1 line(s) of " + path.string() +
                               " were longer than 1 MiB and were cut (first: " + path.string() +
                               ":2)");
  fs::remove(path);
}

TEST(CorpusLimits, ALineOverTheLimitIsAnOverLongPairAndTheRestStillReads) {
  const fs::path path =
      fs::temp_directory_path() / ("attnscope_corpus_long_" + std::to_string(::getpid()));
  {
    std::ofstream f(path, std::ios::binary);
    f << "o gato\tthe cat\n" << std::string(kMaxLineBytes + 5, 'x') << "\tx\ndois\ttwo\n";
  }
  CorpusReport report;
  CorpusOptions opt;
  opt.max_chars = int64_t{4} << 20;  // even when a side may be longer: the line is not kept
  const auto pairs = read_tsv(path.string(), opt, report);
  ASSERT_EQ(pairs.size(), 2u);
  EXPECT_EQ(pairs[1].src, "dois");
  EXPECT_EQ(pairs[1].line, 3);
  EXPECT_EQ(report.skipped.at("over-long pair"), 1);
  fs::remove(path);
}

}  // namespace
}  // namespace attnscope
