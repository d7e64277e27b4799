// The config of a model of any architecture — what its config.json says — as one interface, so
// that reading, writing, validating and building a model never switch on the architecture.
// Each architecture's config (ModelConfig for "transformer", RnnConfig for "rnn-attention")
// derives from ArchConfig and enumerates its keys once, in visit_fields: io/config_json.h reads
// and writes config.json through that one list, so a key can never be read but not written.
// Which architectures exist, and how config.json names them, is io/architectures.h.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace attnscope {

class Seq2SeqModel;

// The values a field may take, declared with the field in visit_fields and checked by
// ArchConfig::validate() before anything is built: a config.json saying "d_ff": 2^62 is an error
// naming "d_ff", never an allocation. An integer field without a declared range takes
// kDefaultIntRange, −1 (the usual "unset") … 2^24: whatever it counts stays far from overflow.
struct IntRange {
  int64_t min = 0, max = 0;
};
struct FloatRange {  // finite values from min to max, inclusive
  double min = 0, max = 0;
};
inline constexpr IntRange kDefaultIntRange{-1, int64_t{1} << 24};
inline constexpr FloatRange kAnyFiniteRange{-3.4e38, 3.4e38};

// Visits each key of a config with a reference to its field: a reader assigns, a writer reads,
// the validator checks it against its range.
class ConfigFields {
 public:
  virtual ~ConfigFields() = default;
  virtual void field(const char* key, int64_t& value, IntRange range = kDefaultIntRange) = 0;
  virtual void field(const char* key, int32_t& value, IntRange range = kDefaultIntRange) = 0;
  virtual void field(const char* key, float& value, FloatRange range = kAnyFiniteRange) = 0;
  virtual void field(const char* key, bool& value) = 0;
  // One of `names`, stored as its position in names (see choice() for enums).
  virtual void one_of(const char* key, size_t& index, const std::vector<std::string>& names) = 0;

  // An enum written as one of a few names, e.g. "norm": "post" | "pre".
  template <typename Enum>
  void choice(const char* key, Enum& value,
              const std::vector<std::pair<std::string, Enum>>& options) {
    std::vector<std::string> names;
    size_t index = 0;
    for (size_t i = 0; i < options.size(); ++i) {
      names.push_back(options[i].first);
      if (options[i].second == value) index = i;
    }
    one_of(key, index, names);
    value = options.at(index).second;
  }
};

class ArchConfig {
 public:
  virtual ~ArchConfig() = default;

  // config.json's "arch": the name io/architectures.h knows this architecture by.
  virtual std::string arch() const = 0;
  virtual std::unique_ptr<ArchConfig> clone() const = 0;
  // Every key of config.json except "arch", once each, in the order config.json lists them,
  // each integer and float with the range it may take.
  virtual void visit_fields(ConfigFields& f) = 0;
  // Throws attnscope::Error naming the key when a value is impossible: first every field
  // against its declared range, then check_rules() (heads dividing d_model, ids inside the
  // vocabularies, …). Nothing is allocated before it passes.
  void validate() const;
  // The number of parameters (fp32 values) of a model of this config, without building one.
  // Overflow-checked; tested equal to the model's num_params() for every architecture.
  virtual int64_t parameter_count() const = 0;
  // A model of this config, weights not initialised: validated first, and its parameters
  // checked against the memory cap (core/memory_limit.h) before any is allocated.
  std::unique_ptr<Seq2SeqModel> make_model() const;
  // One line for logs: the sizes that matter, e.g. "d_model 256, 4 heads, 3+3 layers, post norm".
  virtual std::string summary() const = 0;
  // The vocabulary sizes of the tokenizers a model is trained with (and what depends on them).
  virtual void set_vocabularies(int64_t src_vocab, int64_t tgt_vocab) = 0;

 protected:
  // The rules between fields, after every field is inside its range (validate()).
  virtual void check_rules() const = 0;
  // The model, after validate() and the memory check (make_model()).
  virtual std::unique_ptr<Seq2SeqModel> build_model() const = 0;

 protected:
  ArchConfig() = default;
  ArchConfig(const ArchConfig&) = default;
  ArchConfig& operator=(const ArchConfig&) = default;
};

// The rule every architecture's special ids follow (for check_rules()): each inside both
// vocabularies and no two equal (padding is masked out of attention and the loss; an eos that is
// also the padding would vanish). Throws naming the keys. An id listed in `may_equal_pad` may be
// the padding id (a decoder that starts from it, as Hugging Face Marian's does).
struct SpecialId {
  const char* key;
  int64_t id;
};
void check_special_ids(const std::vector<SpecialId>& ids, int64_t src_vocab, int64_t tgt_vocab,
                       const std::vector<std::string>& may_equal_pad = {});

}  // namespace attnscope
