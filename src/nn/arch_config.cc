#include "nn/arch_config.h"

#include <algorithm>
#include <cmath>
#include <string_view>

#include "core/error.h"
#include "core/memory_limit.h"
#include "nn/seq2seq_model.h"

namespace attnscope {

namespace {

// Checks every field against the range visit_fields declares with it.
class RangeChecker : public ConfigFields {
 public:
  void field(const char* key, int64_t& v, IntRange r) override { check(key, v, r); }
  void field(const char* key, int32_t& v, IntRange r) override { check(key, v, r); }
  void field(const char* key, float& v, FloatRange r) override {
    ATTN_CHECK(std::isfinite(v) && v >= r.min && v <= r.max,
               "\"{}\" is {}; it must be from {} to {}", key, v, r.min, r.max);
  }
  void field(const char*, bool&) override {}
  void one_of(const char* key, size_t& index, const std::vector<std::string>& names) override {
    ATTN_CHECK(index < names.size(), "\"{}\" holds choice {} of {}", key, index, names.size());
  }

 private:
  static void check(const char* key, int64_t v, IntRange r) {
    ATTN_CHECK(v >= r.min && v <= r.max, "\"{}\" is {}; it must be from {} to {}", key, v, r.min,
               r.max);
  }
};

}  // namespace

void ArchConfig::validate() const {
  RangeChecker checker;
  clone()->visit_fields(checker);
  check_rules();
}

std::unique_ptr<Seq2SeqModel> ArchConfig::make_model() const {
  validate();
  const int64_t params = parameter_count();
  check_memory_plan(fmt::format("a {} model of {} parameters ({})", arch(), params, summary()),
                    params * static_cast<int64_t>(sizeof(float)));
  return build_model();
}

void check_special_ids(const std::vector<SpecialId>& ids, int64_t src_vocab, int64_t tgt_vocab,
                       const std::vector<std::string>& may_equal_pad) {
  const auto allowed = [&](const SpecialId& a, const SpecialId& b) {
    const auto listed = [&](const char* k) {
      return std::find(may_equal_pad.begin(), may_equal_pad.end(), k) != may_equal_pad.end();
    };
    return (std::string_view(a.key) == "pad_id" && listed(b.key)) ||
           (std::string_view(b.key) == "pad_id" && listed(a.key));
  };
  for (const SpecialId& s : ids) {
    ATTN_CHECK(s.id < src_vocab, "\"{}\" is {}, outside the source vocabulary (src_vocab {})",
               s.key, s.id, src_vocab);
    ATTN_CHECK(s.id < tgt_vocab, "\"{}\" is {}, outside the target vocabulary (tgt_vocab {})",
               s.key, s.id, tgt_vocab);
  }
  for (size_t i = 0; i < ids.size(); ++i)
    for (size_t j = i + 1; j < ids.size(); ++j)
      ATTN_CHECK(ids[i].id != ids[j].id || allowed(ids[i], ids[j]),
                 "\"{}\" and \"{}\" are both {}: the special ids must be distinct", ids[i].key,
                 ids[j].key, ids[i].id);
}

}  // namespace attnscope
