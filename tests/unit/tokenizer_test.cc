// SentencePiece tokenizers: tiny unigram and BPE models trained on generated sentences, the
// encode → decode round trip, the special ids, byte-identical retraining, the smaller-vocabulary
// note, and errors for bad files and options.
#include <gtest/gtest.h>
#include <sentencepiece_trainer.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <unordered_map>

#include "core/error.h"
#include "core/rng.h"
#include "data/spm_model_check.h"
#include "data/tokenizer.h"

namespace attnscope {
namespace {

namespace fs = std::filesystem;

::testing::AssertionResult contains(const std::string& text, const std::string& part) {
  if (text.find(part) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "\"" << part << "\" is not in \"" << text << "\"";
}

// ~200 sentences of 3–9 words from a small vocabulary (with some non-ASCII letters).
std::vector<std::string> sentences(size_t n = 200, uint64_t seed = 7) {
  static const char* const kWords[] = {
      "der",  "die",   "das",   "hund",   "katze", "läuft", "schnell", "über",   "straße",
      "groß", "klein", "rot",   "blau",   "haus",  "baum",  "wasser",  "trinkt", "sieht",
      "und",  "nicht", "heute", "morgen", "sehr",  "alte",  "junge",   "fährt",  "nach"};
  constexpr size_t kNumWords = std::size(kWords);
  Rng rng(seed);
  std::vector<std::string> out;
  for (size_t i = 0; i < n; ++i) {
    std::string s;
    const uint64_t len = 3 + rng.below(7);
    for (uint64_t w = 0; w < len; ++w) {
      if (w) s += ' ';
      s += kWords[rng.below(kNumWords)];
    }
    out.push_back(s);
  }
  return out;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

class TokenizerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("attnscope_tokenizer_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
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
  static TokenizerOptions options(const std::string& type, int vocab) {
    TokenizerOptions opt;
    opt.model_type = type;
    opt.vocab_size = vocab;
    opt.num_threads = 1;
    return opt;
  }
  void check_model(const Tokenizer& tok, int asked) {
    EXPECT_GT(tok.vocab_size(), 4);
    EXPECT_LE(tok.vocab_size(), asked);
    EXPECT_EQ(tok.piece(Tokenizer::kPadId), "<pad>");
    EXPECT_EQ(tok.piece(Tokenizer::kBosId), "<s>");
    EXPECT_EQ(tok.piece(Tokenizer::kEosId), "</s>");
    EXPECT_EQ(tok.piece(Tokenizer::kUnkId), "<unk>");
    for (const auto& s : sentences()) {
      const auto ids = tok.encode(s);
      ASSERT_FALSE(ids.empty());
      for (const int32_t id : ids) {
        EXPECT_GT(id, Tokenizer::kUnkId) << s;  // every character was seen: no specials, no unk
        EXPECT_LT(id, tok.vocab_size());
      }
      EXPECT_EQ(tok.decode(ids), s);
      // bos/eos/pad around the ids are skipped by decode.
      std::vector<int32_t> framed = {Tokenizer::kBosId};
      framed.insert(framed.end(), ids.begin(), ids.end());
      framed.push_back(Tokenizer::kEosId);
      framed.push_back(Tokenizer::kPadId);
      framed.push_back(Tokenizer::kPadId);
      EXPECT_EQ(tok.decode(framed), s);
      const auto ps = tok.pieces(ids);
      ASSERT_EQ(ps.size(), ids.size());
      EXPECT_EQ(ps[0].rfind("\xE2\x96\x81", 0), 0u) << ps[0];  // starts with "▁"
    }
  }
  fs::path dir_;
};

TEST_F(TokenizerTest, UnigramTrainsRoundTripsAndLoads) {
  const auto p = path("sub/uni.model");  // parent directory created
  const Tokenizer tok = Tokenizer::train(sentences(), p, options("unigram", 40));
  EXPECT_EQ(tok.path(), p);
  ASSERT_TRUE(fs::is_regular_file(p));
  EXPECT_FALSE(fs::exists(path("sub/uni.vocab")));
  check_model(tok, 40);

  const Tokenizer loaded = Tokenizer::load(p);
  EXPECT_EQ(loaded.path(), p);
  EXPECT_EQ(loaded.vocab_size(), tok.vocab_size());
  for (const auto& s : sentences(20, 99)) EXPECT_EQ(loaded.encode(s), tok.encode(s));
}

TEST_F(TokenizerTest, LoadsFromBytesAsFromTheFile) {
  // Another rank's tokenizer arrives as the bytes of its .model file.
  const auto p = path("uni.model");
  const Tokenizer tok = Tokenizer::train(sentences(), p, options("unigram", 40));
  std::ifstream in(p, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const Tokenizer copy = Tokenizer::from_bytes(bytes, "rank 0's uni.model");
  EXPECT_EQ(copy.path(), "rank 0's uni.model");
  EXPECT_EQ(copy.vocab_size(), tok.vocab_size());
  for (const auto& s : sentences(20, 99)) EXPECT_EQ(copy.encode(s), tok.encode(s));
  try {
    Tokenizer::from_bytes(bytes.substr(0, bytes.size() / 2), "rank 0's cut.model");
    FAIL() << "half a model loaded";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("rank 0's cut.model is not a SentencePiece model"),
              std::string::npos)
        << e.what();
  }
}

TEST_F(TokenizerTest, BpeTrainsRoundTripsAndLoads) {
  const auto p = path("bpe.model");
  const Tokenizer tok = Tokenizer::train(sentences(), p, options("bpe", 60));
  EXPECT_EQ(tok.vocab_size(), 60);
  check_model(tok, 60);
  // Merges happen: clearly fewer pieces than characters (a space joins the next character as
  // "▁x", so a character-level model would need about one piece per code point).
  size_t code_points = 0, ids = 0;
  for (const auto& s : sentences()) {
    for (const char c : s) code_points += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
    ids += tok.encode(s).size();
  }
  EXPECT_LT(ids * 4, code_points * 3) << ids << " pieces for " << code_points << " characters";
  const Tokenizer loaded = Tokenizer::load(p);
  check_model(loaded, 60);
}

TEST_F(TokenizerTest, UnseenCharacterIsUnk) {
  const Tokenizer tok = Tokenizer::train(sentences(), path("u.model"), options("bpe", 60));
  const auto ids = tok.encode("der \xE6\x97\xA5");  // "der 日"
  EXPECT_NE(std::find(ids.begin(), ids.end(), Tokenizer::kUnkId), ids.end());
}

TEST_F(TokenizerTest, DeterministicRetraining) {
  for (const char* type : {"unigram", "bpe"}) {
    auto opt = options(type, 50);
    opt.num_threads = 2;
    Tokenizer::train(sentences(), path("a.model"), opt);
    Tokenizer::train(sentences(), path("b.model"), opt);
    const std::string a = slurp(path("a.model")), b = slurp(path("b.model"));
    ASSERT_FALSE(a.empty());
    EXPECT_EQ(a, b) << type;
  }
}

TEST_F(TokenizerTest, SentenceSampleFollowsTheSeed) {
  auto opt = options("bpe", 60);
  opt.input_sentence_size = 20;
  opt.seed = 1;
  Tokenizer::train(sentences(), path("s1.model"), opt);
  Tokenizer::train(sentences(), path("s1b.model"), opt);
  opt.seed = 2;
  Tokenizer::train(sentences(), path("s2.model"), opt);
  EXPECT_EQ(slurp(path("s1.model")), slurp(path("s1b.model")));
  EXPECT_NE(slurp(path("s1.model")), slurp(path("s2.model")));
}

TEST_F(TokenizerTest, SmallCorpusGivesSmallerVocabularyAndSaysSo) {
  ::testing::internal::CaptureStderr();
  const Tokenizer tok = Tokenizer::train(sentences(), path("big.model"), options("unigram", 8000));
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_LT(tok.vocab_size(), 8000);
  EXPECT_GT(tok.vocab_size(), 4);
  EXPECT_TRUE(contains(err, std::to_string(tok.vocab_size()) + " pieces instead of the 8000"));
  EXPECT_EQ(err.find("trainer_interface"), std::string::npos) << "sentencepiece logged: " << err;
  EXPECT_EQ(Tokenizer::load(path("big.model")).vocab_size(), tok.vocab_size());
}

TEST_F(TokenizerTest, TrainErrors) {
  // Fewer pieces than the characters of the text need.
  const auto p = path("tiny.model");
  const auto msg = error_of([&] { Tokenizer::train(sentences(), p, options("bpe", 8)); });
  EXPECT_TRUE(contains(msg, p));
  EXPECT_FALSE(fs::exists(p));
  EXPECT_TRUE(contains(error_of([&] { Tokenizer::train(sentences(), p, options("word", 50)); }),
                       "model_type"));
  EXPECT_TRUE(contains(error_of([&] { Tokenizer::train({"", ""}, p, options("bpe", 50)); }), p));
}

TEST_F(TokenizerTest, LoadErrorsNameTheFile) {
  const auto missing = path("missing.model");
  EXPECT_TRUE(contains(error_of([&] { Tokenizer::load(missing); }), missing));

  const auto text = path("text.model");
  std::ofstream(text) << "this is not a sentencepiece model\n";
  EXPECT_TRUE(contains(error_of([&] { Tokenizer::load(text); }), text));

  const auto empty = path("empty.model");
  std::ofstream(empty).close();
  EXPECT_TRUE(contains(error_of([&] { Tokenizer::load(empty); }), empty));

  EXPECT_TRUE(contains(error_of([&] { Tokenizer::load(dir_.string()); }), dir_.string()));
}

TEST_F(TokenizerTest, LoadRejectsOtherSpecialIds) {
  // SentencePiece's own defaults: unk 0, bos 1, eos 2, no pad.
  struct It : sentencepiece::SentenceIterator {
    std::vector<std::string> v = sentences();
    size_t i = 0;
    bool done() const override { return i >= v.size(); }
    void Next() override { ++i; }
    const std::string& value() const override { return v[i]; }
    sentencepiece::util::Status status() const override { return {}; }
  } it;
  std::string proto;
  const std::unordered_map<std::string, std::string> args = {
      {"model_type", "bpe"}, {"vocab_size", "60"}, {"minloglevel", "2"}};
  ASSERT_TRUE(sentencepiece::SentencePieceTrainer::Train(args, &it, &proto).ok());
  const auto p = path("default_ids.model");
  std::ofstream(p, std::ios::binary) << proto;
  const auto msg = error_of([&] { Tokenizer::load(p); });
  EXPECT_TRUE(contains(msg, p));
  EXPECT_TRUE(contains(msg, "pad_id -1"));
}

TEST_F(TokenizerTest, OutOfRangeIdsRejected) {
  const Tokenizer tok = Tokenizer::train(sentences(), path("r.model"), options("bpe", 60));
  EXPECT_TRUE(contains(error_of([&] { tok.decode({5, 60}); }), "token id 60"));
  EXPECT_TRUE(contains(error_of([&] { tok.decode({-1}); }), "token id -1"));
  EXPECT_TRUE(contains(error_of([&] { tok.piece(1000); }), "token id 1000"));
}

TEST_F(TokenizerTest, MoveKeepsTheModel) {
  Tokenizer tok = Tokenizer::train(sentences(), path("m.model"), options("bpe", 60));
  const auto ids = tok.encode("der hund");
  Tokenizer moved = std::move(tok);
  EXPECT_EQ(moved.encode("der hund"), ids);
  EXPECT_EQ(moved.path(), path("m.model"));
}

// A model file whose piece starts with a NUL byte (found by the spm fuzz target) made the
// library's trie builder throw through its loader and end the process; it is an Error now. So
// are files that are not protobuf at all, or end in the middle of a field.
TEST(TokenizerFiles, MalformedModelFilesAreErrorsNotCrashes) {
  const std::string nul_piece =
      std::string(ATTNSCOPE_TEST_DATA) + "/../fuzz/corpus/spm/regress-nul-piece.spm";
  try {
    Tokenizer::load(nul_piece);
    ADD_FAILURE() << "loaded " << nul_piece;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(nul_piece + ": piece 5 holds a NUL byte"),
              std::string::npos)
        << e.what();
  }
  check_spm_model(std::string("\x0a\x07\x0a\x05<unk>", 9), "ok.model");  // one piece: fine
  for (const std::string& bad :
       {std::string(), std::string("\x0a\x09\x0a\x05<unk>", 9), std::string("\x0a\x02\x10\x01", 4),
        std::string("\xff\xff", 2), std::string("\x0b", 1)}) {
    EXPECT_THROW(check_spm_model(bad, "bad.model"), Error) << bad.size();
  }
}

}  // namespace
}  // namespace attnscope
