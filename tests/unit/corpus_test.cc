// Corpus reading: every skip reason counted with "file:line: reason" examples, CRLF, BOM, extra
// and chosen columns, reverse, aligned files and their errors, the UTF-8 validator on tricky
// byte sequences, and the deterministic split.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <string>

#include "core/error.h"
#include "data/corpus.h"

namespace attnscope {
namespace {

namespace fs = std::filesystem;

::testing::AssertionResult contains(const std::string& text, const std::string& part) {
  if (text.find(part) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "\"" << part << "\" is not in \"" << text << "\"";
}

class Corpus : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("attnscope_corpus_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string write(const std::string& name, const std::string& bytes) {
    const std::string path = (dir_ / name).string();
    std::ofstream(path, std::ios::binary) << bytes;
    return path;
  }
  template <typename F>
  std::string error_of(F&& f) {
    try {
      f();
    } catch (const Error& e) {
      return e.what();
    }
    ADD_FAILURE() << "no attnscope::Error thrown";
    return "";
  }
  fs::path dir_;
  CorpusOptions opt_;
  CorpusReport report_;
};

TEST_F(Corpus, ReadsPairsAndTrims) {
  const auto path = write("a.tsv", "Hallo Welt\tHello world\n  zwei \t two\t\n");
  const auto pairs = read_tsv(path, opt_, report_);
  ASSERT_EQ(pairs.size(), 2u);
  EXPECT_EQ(pairs[0].src, "Hallo Welt");
  EXPECT_EQ(pairs[0].tgt, "Hello world");
  EXPECT_EQ(pairs[0].line, 1);
  EXPECT_EQ(pairs[1].src, "zwei");
  EXPECT_EQ(pairs[1].tgt, "two");
  EXPECT_EQ(pairs[1].line, 2);
  EXPECT_EQ(report_.lines, 2);
  EXPECT_EQ(report_.kept, 2);
  EXPECT_EQ(report_.total_skipped(), 0);
  EXPECT_EQ(report_.source, path);
  EXPECT_EQ(report_.summary(), path + ": 2 pairs kept of 2 lines");
}

TEST_F(Corpus, EverySkipReasonCountedWithExamples) {
  opt_.max_chars = 10;
  const std::string text =
      "gut\tgood\n"             // 1 kept
      "kein tab hier\n"         // 2 missing tab
      "bad \xC3\x28\tbad\n"     // 3 invalid UTF-8 (source)
      "ok\tbad \xFF\n"          // 4 invalid UTF-8 (target)
      "   \tempty src\n"        // 5 empty source
      "empty tgt\t \t\n"        // 6 empty target
      "abcdefghijk\tlong\n"     // 7 over-long pair (11 bytes > 10)
      "short\tabcdefghijklm\n"  // 8 over-long pair
      "abcdefghij\tfits\n"      // 9 kept: exactly max_chars
      "\n"                      // 10 missing tab (blank line)
      "noch\tnone\n";           // 11 kept
  const auto path = write("r.tsv", text);
  const auto pairs = read_tsv(path, opt_, report_);
  ASSERT_EQ(pairs.size(), 3u);
  EXPECT_EQ(pairs[1].src, "abcdefghij");
  EXPECT_EQ(pairs[2].line, 11);
  EXPECT_EQ(report_.lines, 11);
  EXPECT_EQ(report_.kept, 3);
  const std::map<std::string, int64_t> expected = {{"missing tab", 2},
                                                   {"invalid UTF-8", 2},
                                                   {"empty source", 1},
                                                   {"empty target", 1},
                                                   {"over-long pair", 2}};
  EXPECT_EQ(report_.skipped, expected);
  EXPECT_EQ(report_.total_skipped(), 8);
  const std::vector<std::string> examples = {path + ":2: missing tab", path + ":3: invalid UTF-8",
                                             path + ":4: invalid UTF-8", path + ":5: empty source",
                                             path + ":6: empty target"};
  EXPECT_EQ(report_.examples, examples);  // only the first five
  const std::string s = report_.summary();
  EXPECT_TRUE(contains(s, path + ": 3 pairs kept of 11 lines; skipped "));
  EXPECT_TRUE(contains(s, "2 missing tab"));
  EXPECT_TRUE(contains(s, "2 over-long pair"));
  EXPECT_TRUE(contains(s, "1 empty source"));
  EXPECT_TRUE(contains(s, "(first: " + path + ":2: missing tab; "));
}

TEST_F(Corpus, InvalidLineWithoutTabIsInvalidUtf8) {
  const auto path = write("x.tsv", "a\tb\n\xC0\xAF no tab\n");
  read_tsv(path, opt_, report_);
  EXPECT_EQ(report_.skipped.at("invalid UTF-8"), 1);
  EXPECT_EQ(report_.skipped.count("missing tab"), 0u);
}

TEST_F(Corpus, CrlfAndBom) {
  const auto path = write("w.tsv", "\xEF\xBB\xBFguten Tag\tgood day\r\nja\tyes\r\nnein\tno");
  const auto pairs = read_tsv(path, opt_, report_);
  ASSERT_EQ(pairs.size(), 3u);
  EXPECT_EQ(pairs[0].src, "guten Tag");  // no BOM
  EXPECT_EQ(pairs[0].tgt, "good day");   // no \r
  EXPECT_EQ(pairs[1].tgt, "yes");
  EXPECT_EQ(pairs[2].tgt, "no");  // last line without a newline
  EXPECT_EQ(report_.lines, 3);
}

TEST_F(Corpus, BomOnlyStrippedOnFirstLine) {
  // A BOM later in the file is U+FEFF in the text: valid UTF-8, kept as is.
  const auto path = write("b.tsv", "a\tb\n\xEF\xBB\xBFx\ty\n");
  const auto pairs = read_tsv(path, opt_, report_);
  ASSERT_EQ(pairs.size(), 2u);
  EXPECT_EQ(pairs[1].src, "\xEF\xBB\xBFx");
}

TEST_F(Corpus, ExtraColumnsColumnsChoiceAndReverse) {
  const auto path = write("c.tsv", "id1\tquelle\tziel\tnote \xFF\nid2\tq2\tz2\n");
  opt_.src_col = 1;
  opt_.tgt_col = 2;
  auto pairs = read_tsv(path, opt_, report_);
  ASSERT_EQ(pairs.size(), 2u);  // the bad byte in the ignored column costs nothing
  EXPECT_EQ(pairs[0].src, "quelle");
  EXPECT_EQ(pairs[0].tgt, "ziel");
  EXPECT_EQ(pairs[1].tgt, "z2");

  opt_.reverse = true;
  pairs = read_tsv(path, opt_, report_);
  ASSERT_EQ(pairs.size(), 2u);
  EXPECT_EQ(pairs[0].src, "ziel");
  EXPECT_EQ(pairs[0].tgt, "quelle");

  opt_.reverse = false;
  opt_.src_col = 2;
  opt_.tgt_col = 0;
  pairs = read_tsv(path, opt_, report_);
  EXPECT_EQ(pairs[0].src, "ziel");
  EXPECT_EQ(pairs[0].tgt, "id1");

  opt_.src_col = 3;  // line 2 has only three columns
  opt_.tgt_col = 0;
  opt_.max_chars = 100;
  EXPECT_TRUE(contains(error_of([&] { read_tsv(path, opt_, report_); }), path));
  EXPECT_EQ(report_.skipped.at("invalid UTF-8"), 1);
  EXPECT_EQ(report_.skipped.at("missing tab"), 1);
}

TEST_F(Corpus, ReverseAppliesBeforeEmptyChecks) {
  const auto path = write("e.tsv", "a\t\nb\tc\n");
  opt_.reverse = true;
  read_tsv(path, opt_, report_);
  EXPECT_EQ(report_.skipped.at("empty source"), 1);
}

TEST_F(Corpus, ParallelFiles) {
  const auto de = write("t.de", "\xEF\xBB\xBFHallo\r\n\nWelt\nzu lang hier\n");
  const auto en = write("t.en", "Hello\r\nnothing\n  \nshort\n");
  opt_.max_chars = 8;
  auto pairs = read_parallel(de, en, opt_, report_);
  ASSERT_EQ(pairs.size(), 1u);
  EXPECT_EQ(pairs[0].src, "Hallo");
  EXPECT_EQ(pairs[0].tgt, "Hello");
  EXPECT_EQ(report_.lines, 4);
  const std::vector<std::string> examples = {de + ":2: empty source", en + ":3: empty target",
                                             de + ":4: over-long pair"};
  EXPECT_EQ(report_.examples, examples);
  EXPECT_TRUE(contains(report_.source, de));
  EXPECT_TRUE(contains(report_.source, en));

  opt_.reverse = true;
  pairs = read_parallel(de, en, opt_, report_);
  ASSERT_EQ(pairs.size(), 1u);
  EXPECT_EQ(pairs[0].src, "Hello");
  EXPECT_EQ(pairs[0].tgt, "Hallo");
  EXPECT_EQ(report_.examples[0], de + ":2: empty target");
}

TEST_F(Corpus, ParallelLineCountMismatchNamesBothFiles) {
  const auto a = write("m.de", "eins\nzwei\ndrei\n");
  const auto b = write("m.en", "one\ntwo\n");
  auto msg = error_of([&] { read_parallel(a, b, opt_, report_); });
  EXPECT_TRUE(contains(msg, a + " has 3 lines"));
  EXPECT_TRUE(contains(msg, b + " has 2 lines"));
  msg = error_of([&] { read_parallel(b, a, opt_, report_); });
  EXPECT_TRUE(contains(msg, b + " has 2 lines"));
  EXPECT_TRUE(contains(msg, a + " has 3 lines"));
}

TEST_F(Corpus, UnreadableFileNamed) {
  const std::string missing = (dir_ / "nope.tsv").string();
  EXPECT_TRUE(contains(error_of([&] { read_tsv(missing, opt_, report_); }), missing));
  const auto en = write("ok.en", "x\n");
  EXPECT_TRUE(contains(error_of([&] { read_parallel(missing, en, opt_, report_); }), missing));
  EXPECT_TRUE(contains(error_of([&] { read_parallel(en, missing, opt_, report_); }), missing));
  EXPECT_TRUE(
      contains(error_of([&] { read_tsv(dir_.string(), opt_, report_); }), "is a directory"));
}

TEST_F(Corpus, NoUsablePairNamesFileAndReasons) {
  const auto path = write("bad.tsv", "no tab\n\t\nstill none\n");
  const auto msg = error_of([&] { read_tsv(path, opt_, report_); });
  EXPECT_TRUE(contains(msg, path + ": no usable sentence pair"));
  EXPECT_TRUE(contains(msg, "2 missing tab"));
  EXPECT_TRUE(contains(msg, "1 empty source"));
  EXPECT_TRUE(contains(msg, path + ":1: missing tab"));

  const auto empty = write("empty.tsv", "");
  EXPECT_TRUE(contains(error_of([&] { read_tsv(empty, opt_, report_); }),
                       empty + ": no usable sentence pair"));
}

TEST_F(Corpus, BadOptionsRejected) {
  const auto path = write("o.tsv", "a\tb\n");
  opt_.tgt_col = 0;
  EXPECT_TRUE(contains(error_of([&] { read_tsv(path, opt_, report_); }), "column"));
  opt_ = CorpusOptions{};
  opt_.src_col = -1;
  EXPECT_TRUE(contains(error_of([&] { read_tsv(path, opt_, report_); }), "column"));
}

TEST(Utf8, Validator) {
  EXPECT_TRUE(is_valid_utf8(""));
  EXPECT_TRUE(is_valid_utf8("plain ascii\t\x7F"));
  EXPECT_TRUE(is_valid_utf8("\xC2\x80"));  // U+0080, smallest 2-byte
  EXPECT_TRUE(
      is_valid_utf8("Stra\xC3\x9F"
                    "e"));                             // ß
  EXPECT_TRUE(is_valid_utf8("\xE0\xA0\x80"));          // U+0800, smallest 3-byte
  EXPECT_TRUE(is_valid_utf8("\xED\x9F\xBF"));          // U+D7FF, just below surrogates
  EXPECT_TRUE(is_valid_utf8("\xEE\x80\x80"));          // U+E000, just above surrogates
  EXPECT_TRUE(is_valid_utf8("\xEF\xBF\xBF"));          // U+FFFF
  EXPECT_TRUE(is_valid_utf8("\xF0\x9F\x98\x80"));      // U+1F600 😀, valid 4-byte
  EXPECT_TRUE(is_valid_utf8("\xF0\x90\x80\x80"));      // U+10000, smallest 4-byte
  EXPECT_TRUE(is_valid_utf8("\xF4\x8F\xBF\xBF"));      // U+10FFFF, the largest
  EXPECT_TRUE(is_valid_utf8(std::string("a\0b", 3)));  // NUL is valid UTF-8

  EXPECT_FALSE(is_valid_utf8("\xC0\xAF"));                  // overlong '/'
  EXPECT_FALSE(is_valid_utf8("\xC1\xBF"));                  // overlong
  EXPECT_FALSE(is_valid_utf8("\xE0\x80\xAF"));              // overlong 3-byte
  EXPECT_FALSE(is_valid_utf8("\xE0\x9F\xBF"));              // overlong U+07FF
  EXPECT_FALSE(is_valid_utf8("\xF0\x80\x80\xAF"));          // overlong 4-byte
  EXPECT_FALSE(is_valid_utf8("\xF0\x8F\xBF\xBF"));          // overlong U+FFFF
  EXPECT_FALSE(is_valid_utf8("\xED\xA0\x80"));              // U+D800 high surrogate
  EXPECT_FALSE(is_valid_utf8("\xED\xBF\xBF"));              // U+DFFF low surrogate
  EXPECT_FALSE(is_valid_utf8("\xED\xA0\xBD\xED\xB8\x80"));  // CESU-8 surrogate pair
  EXPECT_FALSE(is_valid_utf8("\xF4\x90\x80\x80"));          // U+110000
  EXPECT_FALSE(is_valid_utf8("\xF5\x80\x80\x80"));          // lead byte past U+10FFFF
  EXPECT_FALSE(is_valid_utf8("\xFF"));
  EXPECT_FALSE(is_valid_utf8("\xFE"));
  EXPECT_FALSE(is_valid_utf8("\x80"));           // lone continuation
  EXPECT_FALSE(is_valid_utf8("ab\xC3"));         // truncated 2-byte at the end
  EXPECT_FALSE(is_valid_utf8("\xE2\x82"));       // truncated 3-byte
  EXPECT_FALSE(is_valid_utf8("\xF0\x9F\x98"));   // truncated 4-byte
  EXPECT_FALSE(is_valid_utf8("\xF0\x9F\x98x"));  // bad last continuation byte
  EXPECT_FALSE(is_valid_utf8("\xE2\x28\xA1"));   // bad second byte
  EXPECT_FALSE(is_valid_utf8("\xC3 x"));         // lead byte then ASCII
}

TEST(SplitCorpus, DeterministicDisjointComplete) {
  std::vector<SentencePair> pairs;
  for (int i = 0; i < 50; ++i)
    pairs.push_back({fmt::format("s{}", i), fmt::format("t{}", i), i + 1});
  const auto a = split_corpus(pairs, 5, 7, 42);
  const auto b = split_corpus(pairs, 5, 7, 42);
  const auto c = split_corpus(pairs, 5, 7, 43);
  ASSERT_EQ(a.dev.size(), 5u);
  ASSERT_EQ(a.test.size(), 7u);
  ASSERT_EQ(a.train.size(), 38u);
  std::set<int64_t> seen;
  std::vector<int64_t> order_a, order_b, order_c;
  for (const auto* part : {&a.dev, &a.test, &a.train})
    for (const auto& p : *part) {
      EXPECT_TRUE(seen.insert(p.line).second) << "line " << p.line << " twice";
      EXPECT_EQ(p.src, fmt::format("s{}", p.line - 1));
      order_a.push_back(p.line);
    }
  EXPECT_EQ(seen.size(), 50u);
  for (const auto* part : {&b.dev, &b.test, &b.train})
    for (const auto& p : *part) order_b.push_back(p.line);
  for (const auto* part : {&c.dev, &c.test, &c.train})
    for (const auto& p : *part) order_c.push_back(p.line);
  EXPECT_EQ(order_a, order_b);
  EXPECT_NE(order_a, order_c);
  std::vector<int64_t> identity(50);
  for (int i = 0; i < 50; ++i) identity[i] = i + 1;
  EXPECT_NE(order_a, identity);  // actually shuffled

  EXPECT_THROW(split_corpus(pairs, 25, 25, 1), Error);  // nothing left to train on
  EXPECT_THROW(split_corpus(pairs, -1, 0, 1), Error);
}

}  // namespace
}  // namespace attnscope
