#include "nn/marian_model.h"

namespace attnscope {

namespace {
const MarianConfig& validated(const MarianConfig& cfg) {
  cfg.validate();
  return cfg;
}
}  // namespace

MarianModel::MarianModel(const MarianConfig& cfg) : Transformer(validated(cfg)), cfg_(cfg) {}

ModelInfo MarianModel::info() const {
  ModelInfo i = Transformer::info();
  i.arch = cfg_.arch();
  i.generation = cfg_.generation;
  return i;
}

}  // namespace attnscope
