// The Hugging Face Marian fixtures of tests/data/marian/<variant>/ (written by
// tools/make_marian_fixtures.py, the plain-PyTorch twin of transformers 4.56's MarianMTModel,
// MarianTokenizer and generate): model/ in the layout save_pretrained writes, golden.json (ids,
// pieces, texts, scores, settings) and golden.safetensors (logits, every map, generated ids).
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "io/safetensors.h"

namespace attnscope::test {

inline const std::vector<std::string>& marian_variants() {
  static const std::vector<std::string> v = {"shared_swish", "separate_gelu", "noscale_relu_f16"};
  return v;
}

inline std::string marian_dir(const std::string& variant) {
  return std::string(ATTNSCOPE_TEST_DATA) + "/marian/" + variant;
}
inline std::string marian_model(const std::string& variant) {
  return marian_dir(variant) + "/model";
}

struct MarianGolden {
  nlohmann::json json;
  SafetensorsFile file;

  const Tensor& tensor(const std::string& name) const {
    const auto it = file.tensors.find(name);
    if (it == file.tensors.end()) throw std::runtime_error("golden tensor missing: " + name);
    return it->second;
  }
  bool has(const std::string& name) const { return file.tensors.count(name) > 0; }
  // An I64 tensor of the fixtures (stored exactly as fp32 by the reader) as ids.
  std::vector<int32_t> ids(const std::string& name) const {
    const Tensor& t = tensor(name);
    std::vector<int32_t> out;
    for (int64_t i = 0; i < t.numel(); ++i) out.push_back(static_cast<int32_t>(t[i]));
    return out;
  }
};

inline const MarianGolden& marian_golden(const std::string& variant) {
  static std::map<std::string, MarianGolden> cache;
  auto it = cache.find(variant);
  if (it != cache.end()) return it->second;
  MarianGolden g;
  std::ifstream in(marian_dir(variant) + "/golden.json");
  std::stringstream buf;
  buf << in.rdbuf();
  g.json = nlohmann::json::parse(buf.str());
  g.file = read_safetensors(marian_dir(variant) + "/golden.safetensors");
  return cache.emplace(variant, std::move(g)).first->second;
}

inline std::vector<int32_t> json_ids(const nlohmann::json& j) {
  return j.get<std::vector<int32_t>>();
}

// max |a − b| over the values of a tensor, with a check of the shape.
inline double max_abs_diff(const float* a, const Tensor& ref) {
  double worst = 0;
  for (int64_t i = 0; i < ref.numel(); ++i)
    worst = std::max(worst, static_cast<double>(std::fabs(a[i] - ref[i])));
  return worst;
}

}  // namespace attnscope::test
