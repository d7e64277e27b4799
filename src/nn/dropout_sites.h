// Every dropout in the model draws its stateless mask from its own seed:
// counter_hash(step seed, site), so forward and backward agree and runs are reproducible.
#pragma once

#include <cstdint>

#include "core/rng.h"

namespace attnscope {

enum class DropoutSite : uint64_t {
  kSelfAttnWeights = 0,
  kSelfAttnResidual = 1,
  kCrossAttnWeights = 2,
  kCrossAttnResidual = 3,
  kFfnHidden = 4,
  kFfnResidual = 5,
};

// Sites of layer l: encoder layers from 1000, decoder layers from 2000, 8 apart.
inline uint64_t encoder_site(int64_t layer, DropoutSite s) {
  return 1000 + 8 * static_cast<uint64_t>(layer) + static_cast<uint64_t>(s);
}
inline uint64_t decoder_site(int64_t layer, DropoutSite s) {
  return 2000 + 8 * static_cast<uint64_t>(layer) + static_cast<uint64_t>(s);
}
inline constexpr uint64_t kSourceEmbeddingSite = 1;
inline constexpr uint64_t kTargetEmbeddingSite = 2;

inline uint64_t site_seed(uint64_t step_seed, uint64_t site) {
  return counter_hash(step_seed, site);
}

}  // namespace attnscope
