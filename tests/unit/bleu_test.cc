// corpus_bleu and tokenize_13a against sacreBLEU 2.x (defaults: 13a, exp smoothing).
//
// Published values come from sacreBLEU's own test suite, github.com/mjpost/sacrebleu:
//  - test/test_sentence_bleu.py: SYS/REF from issue #98, smooth 'exp', tokenize '13a' → 8.493
//    (EPSILON 1e-3 there), and smooth 'none' → 0.0 (so some order has zero matches); #141's
//    "this is a cat" / "okay thanks" → 0.0.
//  - test/test_bleu.py: test_case_statistics (counts [4,2,1,0], totals [6,5,4,3] for "am I am a
//    character sequence" / "I am a symbol string sequence a a"); test_case_scoring
//    (counts [9,7,5,3], totals [10,8,6,4], equal lengths → 0.8375922397); test_raw_bleu_cases
//    ("this is a test" vs itself → 1.0; no match at all → 0.0, #141); test_corpus_bleu_cases
//    (empty hypotheses are kept and score 0.0).
// Values marked "derived" follow from sacreBLEU's formulas (bleu.py: compute_bleu) by hand.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "core/error.h"
#include "eval/bleu.h"

namespace attnscope {
namespace {

// ---------- 13a tokenizer ----------

TEST(Tokenize13a, SplitsPunctuationAndSymbols) {
  EXPECT_EQ(tokenize_13a("Hello, world!"), "Hello , world !");
  EXPECT_EQ(tokenize_13a("(a+b)*c=d/e"), "( a + b ) * c = d / e");
  EXPECT_EQ(tokenize_13a("$5 @home #tag 50%"), "$ 5 @ home # tag 50 %");
  EXPECT_EQ(tokenize_13a("[x]{y}|z~^_`"), "[ x ] { y } | z ~ ^ _ `");
}

TEST(Tokenize13a, KeepsApostrophesAndInnerHyphens) {
  EXPECT_EQ(tokenize_13a("It wasn't surprising."), "It wasn't surprising .");
  EXPECT_EQ(tokenize_13a("well-known"), "well-known");
  EXPECT_EQ(tokenize_13a("-5"), "-5");
}

TEST(Tokenize13a, PeriodsAndCommasAreSplitUnlessBetweenDigits) {
  EXPECT_EQ(tokenize_13a("1,000.50 dollars"), "1,000.50 dollars");
  EXPECT_EQ(tokenize_13a("costs 3.5, or 4."), "costs 3.5 , or 4 .");
  EXPECT_EQ(tokenize_13a("in 1993."), "in 1993 .");
  EXPECT_EQ(tokenize_13a("1993.10.09"), "1993.10.09");
  EXPECT_EQ(tokenize_13a("3,5 ou 3.5,"), "3,5 ou 3.5 ,");
  EXPECT_EQ(tokenize_13a("v.2"), "v . 2");
  EXPECT_EQ(tokenize_13a("e.g. U.S.A."), "e . g . U . S . A .");
  EXPECT_EQ(tokenize_13a("a..."), "a . . .");
  EXPECT_EQ(tokenize_13a(",5 .5 5, 5."), ", 5 . 5 5 , 5 .");
}

TEST(Tokenize13a, DashIsSplitOnlyAfterADigit) {
  EXPECT_EQ(tokenize_13a("1993-10-09"), "1993 - 10 - 09");
  EXPECT_EQ(tokenize_13a("pages 10-20"), "pages 10 - 20");
  EXPECT_EQ(tokenize_13a("9-out-1993"), "9 - out-1993");
}

TEST(Tokenize13a, UnescapesEntitiesOncePerEntityInOrder) {
  EXPECT_EQ(tokenize_13a("&quot;Hi&quot; &amp; &lt;b&gt;"), "\" Hi \" & < b >");
  // &quot; is replaced before &amp;, so "&amp;quot;" ends as the text "&quot;" (then split),
  // while &lt; comes after &amp; and "&amp;lt;" ends as "<".
  EXPECT_EQ(tokenize_13a("&amp;quot;"), "& quot ;");
  EXPECT_EQ(tokenize_13a("&amp;lt;"), "<");
  EXPECT_EQ(tokenize_13a("&apos;"), "& apos ;");  // not an entity 13a knows
}

TEST(Tokenize13a, SkippedMarkersAndLineBreaks) {
  EXPECT_EQ(tokenize_13a("<skipped>ok"), "ok");
  EXPECT_EQ(tokenize_13a("hyphen-\nated"), "hyphenated");
  EXPECT_EQ(tokenize_13a("two\nlines"), "two lines");
}

TEST(Tokenize13a, WhitespaceAsPythonSplitsIt) {
  EXPECT_EQ(tokenize_13a("  spaced   out  "), "spaced out");
  EXPECT_EQ(tokenize_13a(""), "");
  // NBSP and EM SPACE are whitespace to Python's str.split(), hence to sacreBLEU.
  EXPECT_EQ(tokenize_13a("a\u00a0b\u2003c"), "a b c");
}

TEST(Tokenize13a, NonAsciiPunctuationIsNotSplit) {
  EXPECT_EQ(tokenize_13a("Olá, mundo… «ok»"), "Olá , mundo… «ok»");
  EXPECT_EQ(tokenize_13a("ção.x"), "ção . x");
}

// ---------- corpus BLEU ----------

TEST(CorpusBleu, PerfectMatchIs100) {
  // test_bleu.py test_raw_bleu_cases: "this is a test" vs itself → 1.0 (× 100 here).
  const BleuScore s = corpus_bleu({"this is a test"}, {"this is a test"});
  EXPECT_NEAR(s.score, 100.0, 1e-9);
  EXPECT_DOUBLE_EQ(s.bp, 1.0);
  for (double p : s.precisions) EXPECT_DOUBLE_EQ(p, 100.0);
  const BleuScore t = corpus_bleu({"Hello, world! How are you?", "The dog bit the man."},
                                  {"Hello , world ! How are you ?", "The dog bit the man."});
  EXPECT_NEAR(t.score, 100.0, 1e-9);
}

TEST(CorpusBleu, SacreBleuSentenceExampleWithExpSmoothing) {
  // test_sentence_bleu.py (issue #98): ('exp', None, False, '13a', 8.493); hypothesis and
  // reference have ≥ 4 tokens, so effective_order=True there changes nothing here.
  const std::string ref = "producţia de zahăr brut se exprimă în zahăr alb;";
  const std::string sys =
      "Producția de zahăr primă va fi exprimată în ceea ce privește zahărul alb;";
  const BleuScore s = corpus_bleu({sys}, {ref});
  EXPECT_NEAR(s.score, 8.493, 1e-3);
  // Derived: counts [5,2,0,0] of totals [14,13,12,11]; the two zero orders are smoothed to
  // 1/(2·12) and 1/(4·11).
  ASSERT_EQ(s.precisions.size(), 4u);
  EXPECT_NEAR(s.precisions[0], 100.0 * 5 / 14, 1e-12);
  EXPECT_NEAR(s.precisions[1], 100.0 * 2 / 13, 1e-12);
  EXPECT_NEAR(s.precisions[2], 100.0 / (2 * 12), 1e-12);
  EXPECT_NEAR(s.precisions[3], 100.0 / (4 * 11), 1e-12);
  EXPECT_EQ(s.hyp_len, 14);
  EXPECT_EQ(s.ref_len, 10);
  EXPECT_NEAR(s.score, 8.493098745313148, 1e-9);
  EXPECT_EQ(s.signature(),
            "BLEU = 8.49 35.7/15.4/4.2/2.3 (BP = 1.000 ratio = 1.400 hyp_len = 14 ref_len = 10)");
}

TEST(CorpusBleu, SacreBleuStatisticsExample) {
  // test_bleu.py test_case_statistics: counts [4,2,1,0], totals [6,5,4,3].
  const BleuScore s =
      corpus_bleu({"am I am a character sequence"}, {"I am a symbol string sequence a a"});
  EXPECT_EQ(s.hyp_len, 6);
  EXPECT_EQ(s.ref_len, 8);
  EXPECT_NEAR(s.precisions[0], 100.0 * 4 / 6, 1e-12);
  EXPECT_NEAR(s.precisions[1], 100.0 * 2 / 5, 1e-12);
  EXPECT_NEAR(s.precisions[2], 100.0 * 1 / 4, 1e-12);
  // Derived: the 4-gram order has no match → exp smoothing gives 1 / (2 · 3).
  EXPECT_NEAR(s.precisions[3], 100.0 / (2 * 3), 1e-12);
  const double bp = std::exp(1.0 - 8.0 / 6.0);
  EXPECT_NEAR(s.bp, bp, 1e-15);
  const double expected =
      bp *
      std::exp((std::log(400.0 / 6) + std::log(40.0) + std::log(25.0) + std::log(100.0 / 6)) / 4);
  EXPECT_NEAR(s.score, expected, 1e-9);
  EXPECT_NEAR(s.score, 23.263472697663296, 1e-9);
}

TEST(CorpusBleu, SacreBleuScoringExample) {
  // test_bleu.py test_case_scoring: counts [9,7,5,3], totals [10,8,6,4], lengths equal →
  // 0.8375922397. Two 5-token sentences give those statistics: one exact, one with a wrong
  // last token.
  const BleuScore s = corpus_bleu({"a b c d e", "a b c d X"}, {"a b c d e", "a b c d e"});
  EXPECT_EQ(s.hyp_len, 10);
  EXPECT_EQ(s.ref_len, 10);
  EXPECT_NEAR(s.precisions[0], 90.0, 1e-12);
  EXPECT_NEAR(s.precisions[1], 87.5, 1e-12);
  EXPECT_NEAR(s.precisions[2], 100.0 * 5 / 6, 1e-12);
  EXPECT_NEAR(s.precisions[3], 75.0, 1e-12);
  EXPECT_NEAR(s.score / 100, 0.8375922397, 1e-8);
}

TEST(CorpusBleu, NoMatchAtAllIsZero) {
  // test_bleu.py test_raw_bleu_cases (#141) and test_sentence_bleu.py test_cases_zero_bleu.
  EXPECT_EQ(corpus_bleu({"this is a test", "another test"}, {"ref1", "ref2"}).score, 0.0);
  const BleuScore s = corpus_bleu({"this is a cat"}, {"okay thanks"});
  EXPECT_EQ(s.score, 0.0);
  for (double p : s.precisions) EXPECT_EQ(p, 0.0);  // early exit: no smoothing applied
}

TEST(CorpusBleu, EmptyHypothesesScoreZero) {
  // test_bleu.py test_corpus_bleu_cases: ('', '', '') → 0.0 (empty lines are not removed).
  const BleuScore s = corpus_bleu(
      {"", "", ""}, {"The dog bit the man.", "It was not unexpected.", "The man bit him first."});
  EXPECT_EQ(s.score, 0.0);
  EXPECT_EQ(s.hyp_len, 0);
  EXPECT_EQ(s.ref_len, 6 + 5 + 6);
  EXPECT_EQ(s.bp, 0.0);
}

TEST(CorpusBleu, BrevityPenalty) {
  // Derived: hypothesis 5 tokens, reference 6, all n-grams match → BP = exp(1 − 6/5).
  const BleuScore short_hyp = corpus_bleu({"the cat sat on the"}, {"the cat sat on the mat"});
  EXPECT_NEAR(short_hyp.bp, std::exp(-0.2), 1e-15);
  EXPECT_NEAR(short_hyp.ratio, 5.0 / 6.0, 1e-15);
  EXPECT_NEAR(short_hyp.score, 100.0 * std::exp(-0.2), 1e-9);
  EXPECT_EQ(short_hyp.signature(),
            "BLEU = 81.87 100.0/100.0/100.0/100.0 (BP = 0.819 ratio = 0.833 hyp_len = 5 "
            "ref_len = 6)");
  // A longer hypothesis is not penalised by BP, only by precision.
  const BleuScore long_hyp =
      corpus_bleu({"the cat sat on the mat today"}, {"the cat sat on the mat"});
  EXPECT_DOUBLE_EQ(long_hyp.bp, 1.0);
  EXPECT_NEAR(long_hyp.score, 80.91067115702207, 1e-9);
}

TEST(CorpusBleu, ShortCorpusWithoutFourGramsScoresZero) {
  // Corpus BLEU has no effective order: with no 4-gram at all the 4-gram precision stays 0
  // (log → -9999999999), so the score is 0 even for an exact match.
  const BleuScore s = corpus_bleu({"a b c"}, {"a b c"});
  EXPECT_EQ(s.score, 0.0);
  EXPECT_DOUBLE_EQ(s.precisions[2], 100.0);
  EXPECT_EQ(s.precisions[3], 0.0);
  // Statistics are pooled over the corpus, so one long sentence supplies the 4-grams.
  EXPECT_NEAR(
      corpus_bleu({"a b c", "the cat sat on the mat"}, {"a b c", "the cat sat on the mat"}).score,
      100.0, 1e-9);
}

TEST(CorpusBleu, ZeroCountSmoothingDoublesPerZeroOrder) {
  // Derived (exp smoothing, bleu.py): 2-gram matches exist, 3- and 4-grams do not.
  // "a b x c d" vs "a b y c d": counts [4,2,0,0], totals [5,4,3,2].
  const BleuScore s = corpus_bleu({"a b x c d"}, {"a b y c d"});
  EXPECT_NEAR(s.precisions[0], 80.0, 1e-12);
  EXPECT_NEAR(s.precisions[1], 50.0, 1e-12);
  EXPECT_NEAR(s.precisions[2], 100.0 / (2 * 3), 1e-12);
  EXPECT_NEAR(s.precisions[3], 100.0 / (4 * 2), 1e-12);
  const double expected =
      std::exp((std::log(80.0) + std::log(50.0) + std::log(100.0 / 6) + std::log(12.5)) / 4);
  EXPECT_NEAR(s.score, expected, 1e-9);
}

TEST(CorpusBleu, TrailingWhitespaceIsStrippedAndTokenizationApplies) {
  EXPECT_NEAR(corpus_bleu({"a b c d\n  "}, {"a b c d"}).score, 100.0, 1e-9);
  // rstrip comes before tokenizing, so a final "-\n" loses its newline, not its hyphen
  // (tokenize_13a alone would join it away: "d-\n" → "d").
  EXPECT_EQ(tokenize_13a("a b c d-\n"), "a b c d");
  EXPECT_NEAR(corpus_bleu({"a b c d-\n"}, {"a b c d-"}).score, 100.0, 1e-9);
  // Clipping: a repeated word counts at most as often as in the reference.
  const BleuScore s = corpus_bleu({"the the the the"}, {"the cat is here"});
  EXPECT_NEAR(s.precisions[0], 25.0, 1e-12);
}

TEST(CorpusBleu, MismatchedLengthsThrow) {
  EXPECT_THROW(corpus_bleu({"a"}, {"a", "b"}), Error);
}

}  // namespace
}  // namespace attnscope
