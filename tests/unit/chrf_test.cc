// corpus_chrf against sacreBLEU 2.x's CHRF defaults (char_order 6, word_order 0, beta 2,
// whitespace removed, eps_smoothing=False i.e. effective-order averaging).
//
// Published values:
//  - github.com/mjpost/sacrebleu, test/test_chrf.py, test_cases_effective_order (sacreBLEU's
//    eps_smoothing=False mode). That test runs with beta=3, but in each of its cases precision
//    equals recall at every order, where F-beta is the same for every beta, so the published
//    scores hold for beta=2 too.
//  - github.com/huggingface/datasets, metrics/chrf/chrf.py (docstring example) and
//    metrics/chrf/README.md: sacreBLEU's CHRF with its defaults (char_order 6, word_order 0,
//    beta 2, eps_smoothing False) → 61.576379378113785 and 84.64214891738334.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/error.h"
#include "eval/chrf.h"

namespace attnscope {
namespace {

TEST(CorpusChrf, SacreBleuEffectiveOrderCases) {
  // test_chrf.py test_cases_effective_order.
  EXPECT_NEAR(corpus_chrf({"a"}, {"a"}), 100.0, 1e-4);
  EXPECT_NEAR(corpus_chrf({""}, {"reference"}), 0.0, 1e-4);
  EXPECT_NEAR(corpus_chrf({"a b c"}, {"a b c"}), 100.0, 1e-4);
  EXPECT_NEAR(corpus_chrf({"a b c"}, {"abc"}), 100.0, 1e-4);
  EXPECT_NEAR(corpus_chrf({""}, {"c"}), 0.0, 1e-4);
  EXPECT_NEAR(corpus_chrf({"a", "b"}, {"a", "c"}), 50.0, 1e-4);
  EXPECT_NEAR(corpus_chrf({"aa"}, {"ab"}), 25.0, 1e-4);
}

TEST(CorpusChrf, HuggingFaceSacreBleuExamples) {
  EXPECT_NEAR(corpus_chrf({"The relationship between Obama and Netanyahu is not exactly friendly."},
                          {"The ties between Obama and Netanyahu are not particularly friendly."}),
              61.576379378113785, 1e-9);
  EXPECT_NEAR(corpus_chrf({"The relationship between cats and dogs is not exactly friendly.",
                           "a good bookshop is just a genteel black hole that knows how to read."},
                          {"The relationship between dogs and cats is not exactly friendly.",
                           "A good bookshop is just a genteel Black Hole that knows how to read."}),
              84.64214891738334, 1e-9);
}

TEST(CorpusChrf, PerfectMatchAndEmpty) {
  EXPECT_NEAR(corpus_chrf({"Niemand hat die Absicht, eine Mauer zu errichten"},
                          {"Niemand hat die Absicht, eine Mauer zu errichten"}),
              100.0, 1e-9);
  EXPECT_EQ(corpus_chrf({""}, {""}), 0.0);
  EXPECT_EQ(corpus_chrf({}, {}), 0.0);
  EXPECT_EQ(corpus_chrf({"abcdefg"}, {"hijklmnop"}), 0.0);
}

TEST(CorpusChrf, WhitespaceIsRemoved) {
  EXPECT_NEAR(corpus_chrf({" a  b\tc "}, {"abc"}), 100.0, 1e-9);
  EXPECT_NEAR(corpus_chrf({"a\u00a0b c"}, {"abc"}), 100.0, 1e-9);  // NBSP is whitespace too
}

TEST(CorpusChrf, CharactersAreCodePointsNotBytes) {
  // "ção" vs "cao": only "o" matches among 3 characters; no 2- or 3-gram matches; orders 1–3
  // are effective → P = R = (1/3) / 3. Counting bytes would give a different score.
  EXPECT_NEAR(corpus_chrf({"ção"}, {"cao"}), 100.0 / 9.0, 1e-9);
  EXPECT_NEAR(corpus_chrf({"ção"}, {"ção"}), 100.0, 1e-9);
}

TEST(CorpusChrf, BetaTwoWeighsRecallMore) {
  // "abc" vs "abcdef": orders 1–3 effective; P = 1 everywhere, R = 3/6, 2/5, 1/4.
  const double r = (3.0 / 6 + 2.0 / 5 + 1.0 / 4) / 3;
  const double f_short = 5 * 1.0 * r / (4 * 1.0 + r);
  EXPECT_NEAR(corpus_chrf({"abc"}, {"abcdef"}), 100 * f_short, 1e-9);
  EXPECT_NEAR(corpus_chrf({"abc"}, {"abcdef"}), 43.72623574144487, 1e-9);
  // Swapped: recall 1, precision low → a higher score, since beta = 2 favours recall.
  EXPECT_NEAR(corpus_chrf({"abcdef"}, {"abc"}), 75.6578947368421, 1e-9);
}

TEST(CorpusChrf, CorpusStatisticsAreSummedNotAveraged) {
  // Sentence scores 100 and 0 would average to 50; summed statistics give order 1
  // P = R = 6/7 and orders 2–6 P = R = 1 (the one-character pair adds no n-gram there).
  const double expected = 100.0 * (6.0 / 7 + 5.0) / 6;
  EXPECT_NEAR(corpus_chrf({"abcdef", "x"}, {"abcdef", "y"}), expected, 1e-9);
}

TEST(CorpusChrf, HypothesisNgramsCountOnlyWhereTheReferenceHasThatOrder) {
  // sacreBLEU counts a sentence's hypothesis n-grams of an order only if its reference has
  // n-grams of that order. Here "abc" has no 4-grams, so "abcdef"'s three 4-grams are not
  // counted; the 4-gram order has P = R = 1 from "wxyz" alone. Orders 1–3: R = 1,
  // P = 7/10, 5/8, 3/6; orders 5–6 have no reference n-grams.
  const double p = (0.7 + 0.625 + 0.5 + 1.0) / 4;
  const double expected = 100 * 5 * p * 1.0 / (4 * p + 1.0);
  EXPECT_NEAR(corpus_chrf({"abcdef", "wxyz"}, {"abc", "wxyz"}), expected, 1e-9);
  EXPECT_NEAR(corpus_chrf({"abcdef", "wxyz"}, {"abc", "wxyz"}), 92.32026143790848, 1e-9);
}

TEST(CorpusChrf, MismatchedLengthsThrow) {
  EXPECT_THROW(corpus_chrf({"a"}, {}), Error);
}

}  // namespace
}  // namespace attnscope
