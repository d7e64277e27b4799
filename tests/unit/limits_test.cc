// Sizes from outside are never trusted: overflow-checked shapes (a zero dimension hides no
// overflow), every config field of every architecture checked against its declared range and the
// rules between fields before anything is allocated, the parameter count known without building
// the model, and the memory cap refusing a model or a tensor larger than it with a clear message.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/checked_math.h"
#include "core/error.h"
#include "core/memory_limit.h"
#include "core/tensor.h"
#include "io/architectures.h"
#include "io/config_json.h"
#include "io/marian_config_reader.h"
#include "nn/model_config.h"
#include "nn/rnn_attention_model.h"
#include "nn/seq2seq_model.h"

namespace attnscope {
namespace {

using json = nlohmann::json;

template <typename F>
std::string error_of(F f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

// Restores the memory cap a test changes.
class MemoryCap {
 public:
  explicit MemoryCap(int64_t bytes) : old_(memory_limit()), source_(memory_limit_source()) {
    set_memory_limit(bytes, "the test");
  }
  ~MemoryCap() { set_memory_limit(old_, source_); }
  MemoryCap(const MemoryCap&) = delete;
  MemoryCap& operator=(const MemoryCap&) = delete;

 private:
  int64_t old_;
  std::string source_;
};

TEST(CheckedMath, ProductsThatDoNotFitAreCaughtEvenBesideAZero) {
  int64_t n = -1;
  EXPECT_TRUE(checked_numel(Shape{2, 3, 4}, n));
  EXPECT_EQ(n, 24);
  EXPECT_TRUE(checked_numel(Shape{}, n));
  EXPECT_EQ(n, 1);
  EXPECT_TRUE(checked_numel(Shape{0, 5}, n));
  EXPECT_EQ(n, 0);
  EXPECT_FALSE(checked_numel(Shape{int64_t{1} << 32, int64_t{1} << 32}, n));
  EXPECT_FALSE(checked_numel(Shape{0, int64_t{1} << 32, int64_t{1} << 32}, n));
  EXPECT_FALSE(checked_numel(Shape{3, -1}, n));
  EXPECT_TRUE(checked_numel(Shape{kMaxElements}, n));
  EXPECT_FALSE(checked_numel(Shape{kMaxElements, 2}, n));
  EXPECT_THROW(checked_mul(int64_t{1} << 62, 4, "x"), Error);
  EXPECT_EQ(checked_mul(int64_t{1} << 30, 4, "x"), int64_t{1} << 32);
  EXPECT_EQ(error_of([] { checked_add(INT64_MAX, 1, "the total"); }),
            "the total: 9223372036854775807 + 1 does not fit in 64 bits");
}

TEST(TensorLimits, AShapeThatOverflowsIsAnErrorNotAWrappedAllocation) {
  // 2^62 · 64 wraps to 0 in 64 bits: the buffer would be tiny and fill() would write past it.
  EXPECT_EQ(error_of([] {
              Tensor t({int64_t{1} << 62, 64});
            }),
            "shape [4611686018427387904, 64] has too many elements (the product of its non-zero "
            "dimensions exceeds 576460752303423487)");
  EXPECT_NE(error_of([] {
              Tensor t({0, int64_t{1} << 40, int64_t{1} << 40});
            }).find("too many"),
            std::string::npos);
  EXPECT_NE(error_of([] {
              Tensor t({2, -3});
            }).find("negative dimension in shape [2, -3]"),
            std::string::npos);
  Tensor ok({2, 0, 5});  // empty, but a legal shape
  EXPECT_EQ(ok.numel(), 0);
}

TEST(MemoryLimit, SizesParseAndPrint) {
  EXPECT_EQ(parse_memory_size("64G", "x"), int64_t{64} << 30);
  EXPECT_EQ(parse_memory_size("512MiB", "x"), int64_t{512} << 20);
  EXPECT_EQ(parse_memory_size("1.5t", "x"), int64_t{3} << 39);
  EXPECT_EQ(parse_memory_size("300kB", "x"), 300 * 1024);
  EXPECT_EQ(parse_memory_size("1000000", "x"), 1000000);
  EXPECT_EQ(parse_memory_size("none", "x"), kNoMemoryLimit);
  EXPECT_EQ(parse_memory_size("Unlimited", "x"), kNoMemoryLimit);
  for (const char* bad : {"", "G", "-1G", "0", "12X", "nan", "inf", "1e400", "0.1"})
    EXPECT_NE(error_of([&] {
                parse_memory_size(bad, "--max-memory");
              }).find("--max-memory: \"" + std::string(bad) + "\" is not a memory size"),
              std::string::npos)
        << bad;
  EXPECT_EQ(format_bytes(980), "980 bytes");
  EXPECT_EQ(format_bytes(int64_t{3} << 29), "1.5 GiB");
  EXPECT_EQ(format_bytes(int64_t{512} << 20), "512 MiB");
}

TEST(MemoryLimit, ATensorPastTheCapIsRefusedBeforeItIsAllocated) {
  const MemoryCap cap(int64_t{1} << 20);
  const int64_t live = tensor_bytes_live();
  const std::string msg = error_of([] { Tensor t({512, 1024}); });  // 2 MiB
  EXPECT_EQ(msg.rfind("cannot allocate a tensor of shape [512, 1024] (2.0 MiB)", 0), 0u) << msg;
  EXPECT_NE(msg.find("more than the memory cap of 1.0 MiB (the test)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("ATTNSCOPE_MAX_MEMORY"), std::string::npos) << msg;
  EXPECT_EQ(tensor_bytes_live(), live);
  {
    Tensor small({256});  // 1 KiB fits, and is counted while it lives
    EXPECT_EQ(tensor_bytes_live(), live + 1024);
  }
  EXPECT_EQ(tensor_bytes_live(), live);
}

TEST(MemoryLimit, AModelLargerThanTheCapIsRefusedBeforeAnyParameterIsAllocated) {
  ModelConfig c;  // Transformer-base sizes: 60 M parameters with 8000-piece vocabularies
  const MemoryCap cap(int64_t{100} << 20);
  const int64_t live = tensor_bytes_live();
  const std::string msg = error_of([&] { c.make_model(); });
  EXPECT_EQ(
      msg.rfind(
          fmt::format("a transformer model of {} parameters (d_model 512", c.parameter_count()), 0),
      0u)
      << msg;
  EXPECT_NE(msg.find("needs 2"), std::string::npos) << msg;
  EXPECT_NE(msg.find("more than the memory cap of 100 MiB (the test)"), std::string::npos) << msg;
  EXPECT_EQ(tensor_bytes_live(), live);
}

// The fields of a config with the ranges visit_fields declares.
struct FieldInfo {
  std::string key;
  enum Kind { kInt, kFloat, kOther } kind = kOther;
  IntRange ints{};
  FloatRange floats{};
};
class FieldLister : public ConfigFields {
 public:
  std::vector<FieldInfo> fields;
  void field(const char* key, int64_t&, IntRange r) override {
    fields.push_back({key, FieldInfo::kInt, r, {}});
  }
  void field(const char* key, int32_t&, IntRange r) override {
    fields.push_back({key, FieldInfo::kInt, r, {}});
  }
  void field(const char* key, float&, FloatRange r) override {
    fields.push_back({key, FieldInfo::kFloat, {}, r});
  }
  void field(const char* key, bool&) override { fields.push_back({key}); }
  void one_of(const char* key, size_t&, const std::vector<std::string>&) override {
    fields.push_back({key});
  }
};

// Every integer and float field of every architecture, read from config.json with a value just
// outside its range (and absurd ones), is an error naming the field and the file — and nothing
// was allocated for it.
TEST(ConfigLimits, EveryFieldOfEveryArchitectureIsRangeChecked) {
  for (const Architecture& a : architectures()) {
    // A foreign layout (Hugging Face Marian) is read by its own reader, which range-checks its
    // own keys (tests/unit/marian_refusal_test.cc); attnscope never writes its config.json.
    if (a.recognizes != nullptr) continue;
    FieldLister lister;
    a.make_config()->visit_fields(lister);
    ASSERT_FALSE(lister.fields.empty()) << a.name;
    for (const FieldInfo& f : lister.fields) {
      std::vector<json> bad;
      if (f.kind == FieldInfo::kInt) {
        if (f.ints.min > INT32_MIN) bad.push_back(f.ints.min - 1);
        bad.push_back(f.ints.max + 1);
        bad.push_back(int64_t{1} << 62);
        bad.push_back(INT64_MAX);
        bad.push_back(-(int64_t{1} << 62));
      } else if (f.kind == FieldInfo::kFloat) {
        bad.push_back(f.floats.min - 1e-3 - std::abs(f.floats.min));
        bad.push_back(f.floats.max + 1 + std::abs(f.floats.max));
        bad.push_back(1e300);
      } else {
        continue;
      }
      for (const json& v : bad) {
        json j = {{"arch", a.name}, {f.key, v}};
        const int64_t live = tensor_bytes_live();
        const std::string msg =
            error_of([&] { config_from_json(j, "dir/config.json")->make_model(); });
        EXPECT_EQ(msg.rfind("dir/config.json: \"" + f.key + "\"", 0), 0u)
            << a.name << " " << f.key << " = " << v.dump() << ": " << msg;
        EXPECT_EQ(tensor_bytes_live(), live) << a.name << " " << f.key;
      }
    }
  }
}

TEST(ConfigLimits, TheDeclaredRangesAreTheDocumentedOnes) {
  const json t = {{"d_ff", int64_t{1} << 62}};
  EXPECT_EQ(error_of([&] { config_from_json(t, "c.json"); }),
            "c.json: \"d_ff\" is 4611686018427387904; it must be from 1 to 1048576");
  EXPECT_EQ(error_of([] {
              config_from_json(json{{"dropout", 1.0}}, "c.json");
            }),
            "c.json: \"dropout\" is 1; it must be below 1 (1 drops everything)");
  EXPECT_EQ(error_of([] {
              config_from_json(json{{"layer_norm_eps", 0.0}}, "c.json");
            }),
            "c.json: \"layer_norm_eps\" is 0; it must be from 1e-30 to 1");
  EXPECT_EQ(error_of([] {
              config_from_json(json{{"arch", "rnn-attention"}, {"embed_size", 0}}, "r.json");
            }),
            "r.json: \"embed_size\" is 0; it must be from 1 to 65536");
}

TEST(ConfigLimits, SpecialIdsAreInsideBothVocabulariesAndDistinct) {
  for (const char* arch : {"transformer", "rnn-attention"}) {
    const auto err = [&](json j) {
      j["arch"] = arch;
      return error_of([&] { config_from_json(j, "c.json"); });
    };
    EXPECT_EQ(err({{"src_vocab", 100}, {"tgt_vocab", 100}, {"unk_id", 100}}),
              "c.json: \"unk_id\" is 100, outside the source vocabulary (src_vocab 100)");
    EXPECT_EQ(err({{"src_vocab", 200}, {"tgt_vocab", 100}, {"pad_id", 150}}),
              "c.json: \"pad_id\" is 150, outside the target vocabulary (tgt_vocab 100)");
    EXPECT_EQ(err({{"eos_id", 0}}),
              "c.json: \"pad_id\" and \"eos_id\" are both 0: the special ids must be distinct");
    EXPECT_EQ(err({{"bos_id", 3}}),
              "c.json: \"bos_id\" and \"unk_id\" are both 3: the special ids must be distinct");
  }
  EXPECT_EQ(error_of([] {
              config_from_json(json{{"d_model", 10}, {"heads", 4}}, "c.json");
            }),
            "c.json: heads (4) must divide d_model (10): each head gets d_model/heads dimensions");
}

// parameter_count() is what the memory cap is checked with before a model is built: it must be
// the model's own count, for every architecture, preset and switch that changes it.
TEST(ConfigLimits, ParameterCountIsTheModelsCount) {
  std::vector<std::unique_ptr<ArchConfig>> configs;
  for (const Architecture& a : architectures()) {
    if (a.recognizes != nullptr) continue;  // read from its own files: below
    configs.push_back(a.make_config());
    for (const std::string& name : a.preset_names) configs.push_back(a.preset(name));
  }
  for (const char* variant : {"shared_swish", "separate_gelu", "noscale_relu_f16"})
    configs.push_back(
        read_marian_config_dir(std::string(ATTNSCOPE_TEST_DATA) + "/marian/" + variant + "/model")
            .config.clone());
  for (const bool shared : {false, true})
    for (const bool tied : {false, true})
      for (const bool bias : {false, true})
        for (const bool norms : {false, true}) {
          auto c = std::make_unique<ModelConfig>();
          c->d_model = 24;
          c->heads = 3;
          c->encoder_layers = 2;
          c->decoder_layers = 3;
          c->d_ff = 40;
          c->src_vocab = 50;
          c->tgt_vocab = shared ? 50 : 70;
          c->share_embeddings = shared;
          c->tie_output = tied;
          c->generator_bias = bias;
          c->final_norms = norms;
          // Position tables (a Marian checkpoint's embed_positions) are parameters too.
          if (shared) c->positions = Positions::kTable;
          configs.push_back(std::move(c));
        }
  auto rnn = std::make_unique<RnnConfig>();
  rnn->embed_size = 7;
  rnn->encoder_hidden = 5;
  rnn->decoder_hidden = 9;
  rnn->attention_size = 4;
  rnn->src_vocab = 30;
  rnn->tgt_vocab = 20;
  configs.push_back(std::move(rnn));
  for (const auto& c : configs) {
    auto model = c->make_model();
    EXPECT_EQ(c->parameter_count(), model->num_params()) << config_to_json(*c).dump();
  }
}

}  // namespace
}  // namespace attnscope
