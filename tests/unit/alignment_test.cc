// Alignments from cross-attention: the row shift between a map and the output tokens, argmax and
// threshold links in Pharaoh "src-tgt" format, pieces → words, gold parsing with errors that
// name the line, AER on a hand-computed example, head ranking, and the forced maps.
#include "inspect/alignment.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "nn/transformer.h"

namespace attnscope {
namespace {

namespace fs = std::filesystem;

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

void expect_tensor(const Tensor& t, const Shape& shape, const std::vector<float>& values,
                   float tol = 1e-6f) {
  ASSERT_EQ(t.shape(), shape);
  for (size_t i = 0; i < values.size(); ++i) EXPECT_NEAR(t[i], values[i], tol) << "at " << i;
}

TEST(SoftAlignment, OutputTokenIReadsRowIMinusOneAndDropsEos) {
  // rows: fed <s>, y1, y2, y3; columns: a, b, </s>. Output y1 is predicted at row 0.
  const Tensor map = Tensor::from({4, 3}, {0.6f, 0.2f, 0.2f,  //
                                           0.1f, 0.4f, 0.5f,  //
                                           0.3f, 0.3f, 0.4f,  //
                                           0.0f, 0.5f, 0.5f});
  AlignOptions opt;
  // y1, y2 (n = 2): rows 0 and 1, without the </s> column, renormalised.
  expect_tensor(soft_alignment(map, 2, opt), {2, 2}, {0.75f, 0.25f, 0.2f, 0.8f});
  // Shift-Att: y1, y2 from rows 1 and 2.
  opt.shift = true;
  expect_tensor(soft_alignment(map, 2, opt), {2, 2}, {0.2f, 0.8f, 0.5f, 0.5f});
  // Keep eos: rows 0..2 (the eos after y2 is predicted at row 2), every column as it is.
  opt.shift = false;
  opt.skip_eos = false;
  expect_tensor(soft_alignment(map, 2, opt), {3, 3},
                {0.6f, 0.2f, 0.2f, 0.1f, 0.4f, 0.5f, 0.3f, 0.3f, 0.4f});
}

TEST(SoftAlignment, RowsSumToOneAndAllEosRowIsUniform) {
  const Tensor map = Tensor::from({2, 4}, {0.1f, 0.2f, 0.3f, 0.4f, 0.0f, 0.0f, 0.0f, 1.0f});
  const Tensor s = soft_alignment(map, 2, {});
  expect_tensor(s, {2, 3}, {1 / 6.f, 2 / 6.f, 3 / 6.f, 1 / 3.f, 1 / 3.f, 1 / 3.f});
}

TEST(SoftAlignment, TooFewRowsIsAnError) {
  const Tensor map({3, 4});  // <s>, y1, y2
  AlignOptions opt;
  EXPECT_NO_THROW(soft_alignment(map, 3, opt));
  EXPECT_NE(error_of([&] { soft_alignment(map, 4, opt); }).find("needs 4"), std::string::npos);
  opt.shift = true;  // y3 is never fed: no row 3
  EXPECT_NE(error_of([&] { soft_alignment(map, 3, opt); }).find("has 3 rows"), std::string::npos);
  EXPECT_NO_THROW(soft_alignment(map, 2, opt));
}

TEST(SelectCrossMap, HeadLayerMeanAndAllMean) {
  // 2 layers × 2 heads, T = 1, Ts = 2.
  const std::vector<Tensor> cross = {Tensor::from({2, 1, 2}, {1, 0, 0, 1}),
                                     Tensor::from({2, 1, 2}, {0.5f, 0.5f, 1, 0})};
  expect_tensor(select_cross_map(cross, AlignmentSource::one_head(0, 1)), {1, 2}, {0, 1});
  expect_tensor(select_cross_map(cross, AlignmentSource::one_head(1, 0)), {1, 2}, {0.5f, 0.5f});
  expect_tensor(select_cross_map(cross, AlignmentSource::layer_mean(1)), {1, 2}, {0.75f, 0.25f});
  expect_tensor(select_cross_map(cross, AlignmentSource::all_mean()), {1, 2}, {0.625f, 0.375f});
  EXPECT_NE(error_of([&] {
              select_cross_map(cross, AlignmentSource::one_head(2, 0));
            }).find("layer 2 does not exist"),
            std::string::npos);
  EXPECT_NE(error_of([&] {
              select_cross_map(cross, AlignmentSource::one_head(0, 2));
            }).find("head 2 does not exist"),
            std::string::npos);
  EXPECT_EQ(AlignmentSource::one_head(1, 3).name(), "layer 1 head 3");
  EXPECT_EQ(AlignmentSource::layer_mean(0).name(), "layer 0 mean");
}

TEST(HardAlignment, ArgmaxPerTargetTokenInPharaohSourceFirst) {
  // 3 target tokens × 4 source tokens.
  const Tensor soft = Tensor::from({3, 4}, {0.1f, 0.2f, 0.6f, 0.1f,    //
                                            0.7f, 0.1f, 0.1f, 0.1f,    //
                                            0.3f, 0.3f, 0.1f, 0.3f});  // tie → first
  const auto links = hard_alignment(soft);
  ASSERT_EQ(links.size(), 3u);
  EXPECT_EQ(format_pharaoh(links), "2-0 0-1 0-2");
  EXPECT_EQ(links[0], (AlignmentLink{2, 0}));
  EXPECT_EQ(format_pharaoh(threshold_alignment(soft, 0.3f)), "2-0 0-1 0-2 1-2 3-2");
  EXPECT_EQ(format_pharaoh(threshold_alignment(soft, 0.65f)), "0-1");
  AlignOptions opt;
  EXPECT_EQ(format_pharaoh(extract_links(soft, opt)), "2-0 0-1 0-2");
  opt.threshold = 0.65f;
  EXPECT_EQ(format_pharaoh(extract_links(soft, opt)), "0-1");
  EXPECT_TRUE(hard_alignment(Tensor({2, 0})).empty());  // empty source: no link
  EXPECT_EQ(format_pharaoh({}), "");
}

TEST(PiecesToWords, WordStartMarksAndSpecials) {
  EXPECT_EQ(word_index_of_pieces({"\xE2\x96\x81the",
                                  "\xE2\x96\x81"
                                  "cat",
                                  "s", "\xE2\x96\x81sat", "</s>"}),
            (std::vector<int64_t>{0, 1, 1, 2, 3}));
  // No ▁ on the first piece; a lone ▁ followed by digit pieces is one word.
  EXPECT_EQ(word_index_of_pieces({"x", "y", "\xE2\x96\x81", "1", "9", "\xE2\x96\x81z"}),
            (std::vector<int64_t>{0, 0, 1, 1, 1, 2}));
  EXPECT_EQ(word_index_of_pieces({"<s>", "a",
                                  "\xE2\x96\x81"
                                  "b",
                                  "</s>"}),
            (std::vector<int64_t>{0, 1, 2, 3}));
  EXPECT_TRUE(word_index_of_pieces({}).empty());
}

TEST(PiecesToWords, PoolingSumsSourcePiecesAndAveragesTargetPieces) {
  // Target pieces → words {0, 0, 1}; source pieces → words {0, 1, 1}.
  const Tensor soft = Tensor::from({3, 3}, {0.2f, 0.3f, 0.5f,  //
                                            0.6f, 0.4f, 0.0f,  //
                                            0.1f, 0.1f, 0.8f});
  const Tensor w = pool_to_words(soft, {0, 0, 1}, {0, 1, 1});
  // word 0 = mean of rows 0, 1: [(0.2+0.6)/2, (0.8+0.4)/2]; word 1 = row 2: [0.1, 0.9]
  expect_tensor(w, {2, 2}, {0.4f, 0.6f, 0.1f, 0.9f});
  EXPECT_EQ(format_pharaoh(hard_alignment(w)), "1-0 1-1");
  EXPECT_NE(error_of([&] {
              pool_to_words(soft, {0, 0}, {0, 1, 1});
            }).find("target word map"),
            std::string::npos);
  EXPECT_NE(error_of([&] {
              pool_to_words(soft, {0, 0, 1}, {0, 2, 2});
            }).find("entry 1 is 2"),
            std::string::npos);
}

TEST(PiecesToWords, WordTextsJoinPiecesWithoutTheMark) {
  const std::vector<std::string> pieces = {
      "\xE2\x96\x81"
      "the",
      "\xE2\x96\x81"
      "cat",
      "s",
      "\xE2\x96\x81",
      "1",
      "9",
      "</s>"};
  EXPECT_EQ(word_texts(pieces, word_index_of_pieces(pieces)),
            (std::vector<std::string>{"the", "cats", "19", "</s>"}));
  EXPECT_THROW(word_texts(pieces, {0, 1}), Error);
}

// align_sentence is `attnscope align` for one sentence: the shift, </s> dropped, pieces pooled
// to words, the argmax links.
TEST(AlignSentence, PiecesToWordsLinksAndLabels) {
  // One layer, one head: rows <s> y1 y2 y3 (+ the eos row), columns ▁a ▁b c </s>.
  const Tensor map = Tensor::from({1, 4, 4}, {0.7f, 0.1f, 0.1f, 0.1f,  //
                                              0.1f, 0.2f, 0.6f, 0.1f,  //
                                              0.1f, 0.8f, 0.0f, 0.1f,  //
                                              0.2f, 0.2f, 0.2f, 0.4f});
  const std::vector<std::string> src = {
      "\xE2\x96\x81"
      "a",
      "\xE2\x96\x81"
      "b",
      "c", "</s>"};
  const std::vector<std::string> out = {
      "\xE2\x96\x81"
      "x",
      "y",
      "\xE2\x96\x81"
      "z"};
  const SentenceAlignment words =
      align_sentence({map}, src, out, AlignmentSource::all_mean(), AlignOptions{}, false);
  EXPECT_EQ(words.src_labels, (std::vector<std::string>{"a", "bc"}));
  EXPECT_EQ(words.tgt_labels, (std::vector<std::string>{"xy", "z"}));
  EXPECT_EQ(words.src_word, (std::vector<int64_t>{0, 1, 1}));
  EXPECT_EQ(words.tgt_word, (std::vector<int64_t>{0, 0, 1}));
  ASSERT_EQ(words.soft.shape(), (Shape{2, 2}));
  // Target word xy: rows 0 and 1 (renormalised without </s>) averaged, a 0.44 against bc 0.56;
  // z: row 2, bc 0.89.
  EXPECT_NEAR(words.soft[0], (0.7f / 0.9f + 0.1f / 0.9f) / 2, 1e-6f);
  EXPECT_EQ(format_pharaoh(words.links), "1-0 1-1");
  const SentenceAlignment pieces =
      align_sentence({map}, src, out, AlignmentSource::all_mean(), AlignOptions{}, true);
  EXPECT_EQ(pieces.src_labels, (std::vector<std::string>{src[0], src[1], src[2]}));
  EXPECT_EQ(pieces.tgt_labels, out);
  EXPECT_TRUE(pieces.src_word.empty());
  EXPECT_EQ(format_pharaoh(pieces.links), "0-0 2-1 1-2");
  AlignOptions keep;
  keep.skip_eos = false;
  const SentenceAlignment with_eos =
      align_sentence({map}, src, out, AlignmentSource::all_mean(), keep, true);
  EXPECT_EQ(with_eos.src_labels, src);
  EXPECT_EQ(with_eos.tgt_labels.back(), "</s>");
  EXPECT_EQ(with_eos.soft.shape(), (Shape{4, 4}));
  EXPECT_EQ(format_pharaoh(with_eos.links), "0-0 2-1 1-2 3-3");
}

TEST(GoldAlignment, SureAndPossibleLinks) {
  const GoldAlignment g = parse_gold_alignment("0-0 1-2\t2p1  3?3 ", "gold.txt:1");
  EXPECT_EQ(g.sure, (std::set<AlignmentLink>{{0, 0}, {1, 2}}));
  EXPECT_EQ(g.possible, (std::set<AlignmentLink>{{0, 0}, {1, 2}, {2, 1}, {3, 3}}));
  const GoldAlignment one = parse_gold_alignment("1-1 2?3", "x", 1);
  EXPECT_EQ(one.sure, (std::set<AlignmentLink>{{0, 0}}));
  EXPECT_EQ(one.possible, (std::set<AlignmentLink>{{0, 0}, {1, 2}}));
  EXPECT_TRUE(parse_gold_alignment("", "x").possible.empty());
}

TEST(GoldAlignment, MalformedPairsNameTheLineAndThePair) {
  for (const char* bad : {"1x2", "0-", "-1", "a-b", "1-2-3", "1 - 2", "1-+2", "12"}) {
    const std::string line = std::string("0-0 ") + bad;
    const std::string e = error_of([&] { parse_gold_alignment(line, "gold.txt:3"); });
    EXPECT_EQ(e.rfind("gold.txt:3: malformed alignment pair", 0), 0u) << bad << ": " << e;
  }
  EXPECT_NE(error_of([] { parse_gold_alignment("0-0 0-1", "g:1", 1); }).find("'0-0'"),
            std::string::npos);
  const fs::path path = fs::temp_directory_path() / "attnscope_alignment_test_gold.txt";
  {
    std::ofstream f(path);
    f << "0-0 1-1\n\n2-x\n";
  }
  const std::string e = error_of([&] { read_gold_alignments(path.string()); });
  EXPECT_NE(e.find(path.string() + ":3: malformed alignment pair '2-x'"), std::string::npos) << e;
  {
    std::ofstream f(path);
    f << "0-0 1-1\n\n1?0\n";
  }
  const auto golds = read_gold_alignments(path.string());
  ASSERT_EQ(golds.size(), 3u);
  EXPECT_EQ(golds[0].sure.size(), 2u);
  EXPECT_TRUE(golds[1].possible.empty());
  EXPECT_EQ(golds[2].possible, (std::set<AlignmentLink>{{1, 0}}));
  fs::remove(path);
  EXPECT_NE(error_of([] { read_gold_alignments("/nonexistent/gold.txt"); }).find("cannot open"),
            std::string::npos);
}

TEST(Aer, HandComputedExample) {
  GoldAlignment g;
  g.sure = {{0, 0}, {1, 1}};
  g.possible = {{0, 0}, {1, 1}, {2, 1}};
  // A = {0-0, 2-1, 2-2}: A∩S = {0-0}, A∩P = {0-0, 2-1}.
  const AerCounts c = aer_counts({{0, 0}, {2, 1}, {2, 2}}, g);
  EXPECT_EQ(c.a, 3);
  EXPECT_EQ(c.s, 2);
  EXPECT_EQ(c.a_sure, 1);
  EXPECT_EQ(c.a_possible, 2);
  EXPECT_DOUBLE_EQ(c.aer(), 1.0 - 3.0 / 5.0);
  EXPECT_DOUBLE_EQ(c.precision(), 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(c.recall(), 0.5);
  EXPECT_DOUBLE_EQ(aer_counts({{0, 0}, {1, 1}}, g).aer(), 0.0);              // A = S
  EXPECT_DOUBLE_EQ(aer_counts({{3, 3}}, g).aer(), 1.0);                      // nothing right
  EXPECT_DOUBLE_EQ(aer_counts({{0, 0}, {0, 0}}, g).aer(), 1.0 - 2.0 / 3.0);  // A is a set
  // Corpus AER sums the counts: (1 + 2 + 2 + 2) / (3 + 2 + 2 + 2).
  AerCounts sum = c;
  sum += aer_counts({{0, 0}, {1, 1}}, g);
  EXPECT_DOUBLE_EQ(sum.aer(), 1.0 - 7.0 / 9.0);
  // P ⊇ S even when only sure links were filled in.
  GoldAlignment only_sure;
  only_sure.sure = {{0, 0}};
  EXPECT_DOUBLE_EQ(aer_counts({{0, 0}}, only_sure).aer(), 0.0);
  EXPECT_DOUBLE_EQ(AerCounts{}.aer(), 0.0);
}

// A [T = n + 1, Ts = n + 1] map whose row r + offset puts 0.7 on source r (rows outside: uniform).
Tensor peaked(int64_t n, int64_t offset, bool anti) {
  const int64_t T = n + 1, Ts = n + 1;
  Tensor m(Shape{T, Ts}, 1.0f / static_cast<float>(Ts));
  for (int64_t r = 0; r < n; ++r) {
    const int64_t row = r + offset;
    if (row >= T) continue;
    const int64_t col = anti ? n - 1 - r : r;
    for (int64_t j = 0; j < Ts; ++j)
      m[row * Ts + j] = j == col ? 0.7f : 0.3f / static_cast<float>(Ts - 1);
  }
  return m;
}

// 2 layers × 2 heads: (1, 0) aligns at the predicting rows, (0, 1) at the fed rows (shifted by
// one), the others align anti-diagonally. Gold: the diagonal.
std::vector<AlignmentExample> examples() {
  std::vector<AlignmentExample> out;
  for (int64_t n : {3, 4}) {
    AlignmentExample ex;
    ex.num_outputs = n;
    auto stack = [](const std::vector<Tensor>& heads) {
      const int64_t k = heads[0].numel();
      Tensor t({static_cast<int64_t>(heads.size()), heads[0].dim(0), heads[0].dim(1)});
      for (size_t h = 0; h < heads.size(); ++h)
        std::copy_n(heads[h].data(), k, t.data() + static_cast<int64_t>(h) * k);
      return t;
    };
    ex.cross = {stack({peaked(n, 0, true), peaked(n, 1, false)}),
                stack({peaked(n, 0, false), peaked(n, 0, true)})};
    for (int64_t i = 0; i < n; ++i) ex.gold.sure.insert({i, i});
    ex.gold.possible = ex.gold.sure;
    out.push_back(std::move(ex));
  }
  return out;
}

TEST(AlignmentHeads, RankedByAerBestFirst) {
  const auto ex = examples();
  const auto ranked = rank_alignment_heads(ex, {});
  ASSERT_EQ(ranked.size(), 4u + 2u + 1u);  // every head, each layer mean, the overall mean
  EXPECT_EQ(ranked[0].source.name(), "layer 1 head 0");
  EXPECT_DOUBLE_EQ(ranked[0].counts.aer(), 0.0);
  EXPECT_EQ(ranked[0].counts.a, 7);  // one link per target token, 3 + 4
  for (size_t i = 1; i < ranked.size(); ++i) {
    EXPECT_LE(ranked[i - 1].counts.aer(), ranked[i].counts.aer());
    EXPECT_GT(ranked[i].counts.aer(), 0.0) << ranked[i].source.name();
  }
  // Read at the fed rows, the shifted head (0, 1) is the perfect one.
  AlignOptions shift;
  shift.shift = true;
  const auto shifted = rank_alignment_heads(ex, shift);
  EXPECT_EQ(shifted[0].source.name(), "layer 0 head 1");
  EXPECT_DOUBLE_EQ(shifted[0].counts.aer(), 0.0);
  EXPECT_GT(shifted[1].counts.aer(), 0.0);

  auto bad = ex;
  bad[1].cross.pop_back();
  EXPECT_NE(error_of([&] { rank_alignment_heads(bad, {}); }).find("sentence 1 has 1 layers"),
            std::string::npos);
  EXPECT_THROW(rank_alignment_heads({}, {}), Error);
}

TEST(AlignmentHeads, WordMapsPoolBeforeScoring) {
  // Two target pieces forming one word, two source pieces forming one word plus another word.
  AlignmentExample ex;
  ex.num_outputs = 2;
  // rows <s>, y1, y2; columns s0, s1, s2, </s>
  ex.cross = {Tensor::from({1, 3, 4}, {0.1f, 0.1f, 0.7f, 0.1f,  // y1 → s2
                                       0.6f, 0.2f, 0.1f, 0.1f,  // y2 → s0
                                       0.2f, 0.2f, 0.2f, 0.4f})};
  // Pieces: y1 puts most weight on s2.
  EXPECT_EQ(format_pharaoh(align_example(ex, AlignmentSource::all_mean(), {})), "2-0 0-1");
  ex.tgt_word = {0, 0};     // y1 y2 = word 0
  ex.src_word = {0, 0, 1};  // s0 s1 = word 0, s2 = word 1
  // Without </s>: y1 = [1, 1, 7] / 9 → words [2/9, 7/9]; y2 = [6, 2, 1] / 9 → [8/9, 1/9];
  // target word 0 = their mean [10/18, 8/18].
  EXPECT_EQ(format_pharaoh(align_example(ex, AlignmentSource::all_mean(), {})), "0-0");
  AlignOptions t;
  t.threshold = 0.4f;
  EXPECT_EQ(format_pharaoh(align_example(ex, AlignmentSource::all_mean(), t)), "0-0 1-0");
  t.threshold = 0.5f;
  EXPECT_EQ(format_pharaoh(align_example(ex, AlignmentSource::all_mean(), t)), "0-0");
}

ModelConfig tiny_config() {
  ModelConfig c;
  c.d_model = 8;
  c.heads = 2;
  c.encoder_layers = 1;
  c.decoder_layers = 2;
  c.d_ff = 12;
  c.src_vocab = 11;
  c.tgt_vocab = 9;
  c.max_len = 16;
  c.dropout = 0;
  return c;
}

TEST(ForcedCrossAttention, BatchedEqualsOneByOneAndCropsPadding) {
  Transformer model(tiny_config());
  model.init_weights(3);
  const std::vector<std::vector<int32_t>> src = {{5, 6, 7, 2}, {4, 2}, {8, 9, 10, 4, 5, 2}};
  const std::vector<std::vector<int32_t>> out = {{4, 5}, {6, 7, 8, 3}, {}};
  const auto batched = forced_cross_attention(model, src, out, 3);
  const auto single = forced_cross_attention(model, src, out, 1);
  ASSERT_EQ(batched.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    ASSERT_EQ(batched[i].size(), 2u);
    for (size_t l = 0; l < 2; ++l) {
      const Tensor& b = batched[i][l];
      const Tensor& s = single[i][l];
      ASSERT_EQ(b.shape(), (Shape{2, static_cast<int64_t>(out[i].size()) + 1,
                                  static_cast<int64_t>(src[i].size())}));
      ASSERT_EQ(s.shape(), b.shape());
      for (int64_t k = 0; k < b.numel(); ++k) EXPECT_NEAR(b[k], s[k], 1e-5) << i << " " << l;
      // Each row is a distribution over the real source tokens: the padding was cropped.
      const int64_t Ts = b.dim(2);
      for (int64_t r = 0; r < b.dim(0) * b.dim(1); ++r) {
        double sum = 0;
        for (int64_t j = 0; j < Ts; ++j) sum += b[r * Ts + j];
        EXPECT_NEAR(sum, 1.0, 1e-5);
      }
    }
  }
  // The single-sentence map is the model's own forward pass over <s> y1 y2.
  model.forward(TokenBatch{1, 4, {5, 6, 7, 2}}, TokenBatch{1, 3, {1, 4, 5}}, {});
  const Tensor& direct = model.attention(AttentionKind::kCross, 1);
  ASSERT_EQ(direct.numel(), single[0][1].numel());
  for (int64_t k = 0; k < direct.numel(); ++k) EXPECT_FLOAT_EQ(direct[k], single[0][1][k]);
  EXPECT_THROW(forced_cross_attention(model, {{2}}, {{}, {}}), Error);
  EXPECT_THROW(forced_cross_attention(model, {{}}, {{4}}), Error);
  EXPECT_THROW(forced_cross_attention(model, {{4, 2}}, {std::vector<int32_t>(16, 4)}), Error);
}

}  // namespace
}  // namespace attnscope
