// `attnscope align`'s checks (app/align_checks.h), without running a model: its flags, the gold
// file's line count, which sentence pairs go into the AER (truncated pairs and pieces that do
// not make the text's words are left out, gold links past the sentence are counted), the notes
// naming the first case of each, and the flags it suggests for the best source.
#include "app/align_checks.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "core/error.h"

namespace attnscope::app {
namespace {

// The message of the attnscope::Error that f throws ("" when it throws none).
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

::testing::AssertionResult mentions(const std::string& text, const std::string& words) {
  if (text.find(words) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "\"" << text << "\" does not mention \"" << words << "\"";
}

TEST(AlignChecks, FlagsAreCheckedBeforeAnyWork) {
  EXPECT_EQ(error_of([] { check_align_flags({}); }), "");
  EXPECT_EQ(error_of([] { check_align_flags({"pairs.tsv", "gold.txt", 1, 0.5f}); }), "");
  EXPECT_EQ(error_of([] { check_align_flags({"", "", 0, 1.0f}); }), "");
  EXPECT_TRUE(mentions(error_of([] {
                         check_align_flags({"", "gold.txt", 0, 0});
                       }),
                       "--gold needs --data"));
  EXPECT_TRUE(mentions(error_of([] {
                         check_align_flags({"pairs.tsv", "gold.txt", 2, 0});
                       }),
                       "--gold-base must be 0 or 1, not 2"));
  EXPECT_TRUE(mentions(error_of([] {
                         check_align_flags({"", "", -1, 0});
                       }),
                       "--gold-base must be 0 or 1, not -1"));
  EXPECT_TRUE(mentions(error_of([] {
                         check_align_flags({"", "", 0, 1.5f});
                       }),
                       "--threshold 1.5 is outside [0, 1]"));
  EXPECT_TRUE(mentions(error_of([] {
                         check_align_flags({"", "", 0, -0.1f});
                       }),
                       "--threshold -0.1 is outside [0, 1]"));
  EXPECT_TRUE(mentions(error_of([] {
                         check_align_flags({"", "", 0, std::nanf("")});
                       }),
                       "--threshold"));
}

TEST(AlignChecks, OneGoldLinePerSentencePair) {
  EXPECT_EQ(error_of([] { check_gold_line_count("gold.txt", 3, "pairs.tsv", 3); }), "");
  EXPECT_EQ(error_of([] { check_gold_line_count("gold.txt", 2, "pairs.tsv", 3); }),
            "gold.txt has 2 lines but pairs.tsv has 3: one gold alignment per sentence pair");
}

TEST(AlignChecks, CountWordsSplitsOnAnyWhitespace) {
  EXPECT_EQ(count_words(""), 0);
  EXPECT_EQ(count_words("   "), 0);
  EXPECT_EQ(count_words("o gato"), 2);
  EXPECT_EQ(count_words("  o \t gato  preto "), 3);
}

GoldAlignment gold_links(std::initializer_list<AlignmentLink> sure) {
  GoldAlignment g;
  g.sure = sure;
  g.possible = sure;  // every sure link is also possible
  return g;
}

GoldPair pair(int64_t line, int64_t src_units, int64_t tgt_units, const GoldAlignment& gold) {
  GoldPair p;
  p.where = "pairs.tsv:" + std::to_string(line);
  p.line = line;
  p.src_units = p.src_words = src_units;
  p.tgt_units = p.tgt_words = tgt_units;
  p.gold = &gold;
  return p;
}

TEST(AlignChecks, AWellFormedPairIsScoredWithoutNotes) {
  const GoldAlignment g = gold_links({{0, 0}, {1, 2}});
  GoldTally tally("gold.txt", /*pieces=*/false, /*gold_base=*/0);
  EXPECT_TRUE(tally.admit(pair(1, 2, 3, g)));
  EXPECT_EQ(tally.scored(), 1);
  EXPECT_TRUE(tally.notes(128).empty());
  EXPECT_EQ(error_of([&] { tally.check_some_scored(); }), "");
}

TEST(AlignChecks, TruncatedPairsAreLeftOutAndTheFirstIsNamed) {
  const GoldAlignment g = gold_links({{0, 0}});
  GoldTally tally("gold.txt", false, 0);
  GoldPair a = pair(2, 1, 1, g), b = pair(5, 1, 1, g);
  a.truncated = b.truncated = true;
  EXPECT_FALSE(tally.admit(a));
  EXPECT_FALSE(tally.admit(b));
  EXPECT_TRUE(tally.admit(pair(6, 1, 1, g)));
  EXPECT_EQ(tally.truncated(), 2);
  EXPECT_EQ(tally.scored(), 1);
  const auto notes = tally.notes(64);
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_EQ(notes[0],
            "2 sentence pair(s) longer than the model's 64 positions were left out of the AER "
            "(first: pairs.tsv:2)");
}

TEST(AlignChecks, PiecesThatDoNotMakeTheTextsWordsAreLeftOut) {
  const GoldAlignment g = gold_links({{0, 0}});
  GoldTally tally("gold.txt", false, 0);
  GoldPair p = pair(3, 2, 2, g);
  p.src_words = 3;  // the text has 3 source words; the pieces make 2
  EXPECT_FALSE(tally.admit(p));
  GoldPair q = pair(4, 2, 2, g);
  q.tgt_words = 1;
  EXPECT_FALSE(tally.admit(q));
  EXPECT_EQ(tally.word_mismatches(), 2);
  const auto notes = tally.notes(64);
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_EQ(notes[0],
            "2 sentence pair(s) whose pieces do not split into the text's whitespace words were "
            "left out of the AER (first: pairs.tsv:3: the pieces make 2 source / 2 target words, "
            "the text has 3 / 2)");
  // The same check does not apply to --pieces: gold links index pieces then.
  GoldTally pieces("gold.txt", /*pieces=*/true, 0);
  EXPECT_TRUE(pieces.admit(p));
  EXPECT_EQ(pieces.word_mismatches(), 0);
}

TEST(AlignChecks, GoldLinksPastTheSentenceAreCountedInTheFilesBase) {
  // 1-based gold "3-1" is source word 2 (0-based), past a 2-word source.
  const GoldAlignment g = gold_links({{0, 0}, {2, 0}, {0, 5}});
  GoldTally tally("gold.txt", false, /*gold_base=*/1);
  EXPECT_TRUE(tally.admit(pair(7, 2, 3, g)));  // still scored: the links inside count
  EXPECT_EQ(tally.links_outside(), 2);
  const auto notes = tally.notes(64);
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_EQ(notes[0],
            "2 gold link(s) point past the sentence (first: gold.txt:7: 1-6 with 2 source and 3 "
            "target words); check --gold-base and that the pairs are source-target");
  GoldTally pieces("gold.txt", true, 0);
  EXPECT_TRUE(pieces.admit(pair(1, 2, 3, g)));
  EXPECT_TRUE(mentions(pieces.notes(64).at(0), "0-5 with 2 source and 3 target pieces"));
}

TEST(AlignChecks, NotesComeInOrderAndNothingLeftIsAnError) {
  const GoldAlignment g = gold_links({{9, 9}});
  GoldTally tally("gold.txt", false, 0);
  GoldPair cut = pair(1, 1, 1, g);
  cut.truncated = true;
  GoldPair words = pair(2, 1, 1, g);
  words.src_words = 2;
  EXPECT_FALSE(tally.admit(cut));
  EXPECT_FALSE(tally.admit(words));
  EXPECT_EQ(tally.scored(), 0);
  EXPECT_EQ(error_of([&] { tally.check_some_scored(); }), "no sentence pair left to score");
  EXPECT_TRUE(tally.admit(pair(3, 1, 1, g)));
  const auto notes = tally.notes(32);
  ASSERT_EQ(notes.size(), 3u);
  EXPECT_TRUE(mentions(notes[0], "longer than the model's 32 positions"));
  EXPECT_TRUE(mentions(notes[1], "do not split into the text's whitespace words"));
  EXPECT_TRUE(mentions(notes[2], "point past the sentence"));
}

TEST(AlignChecks, SuggestedFlagsReadTheBestSource) {
  EXPECT_EQ(align_source_flags(AlignmentSource::one_head(1, 3)), "--layer 1 --head 3");
  EXPECT_EQ(align_source_flags(AlignmentSource::layer_mean(0)), "--mean-layer 0");
  EXPECT_EQ(align_source_flags(AlignmentSource::all_mean()), "--mean-all");
}

}  // namespace
}  // namespace attnscope::app
