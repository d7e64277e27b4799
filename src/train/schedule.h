// Learning-rate schedules. inverse_sqrt is the paper's: linear warm-up to `peak` over `warmup`
// steps, then peak · √(warmup / step). constant: linear warm-up, then peak.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>

namespace attnscope {

struct LrSchedule {
  std::string kind = "inverse_sqrt";  // "inverse_sqrt" | "constant"
  float peak = 1e-3f;
  int64_t warmup = 4000;

  float at(int64_t step) const {  // step counts from 1
    const float s = static_cast<float>(std::max<int64_t>(step, 1));
    const float w = static_cast<float>(std::max<int64_t>(warmup, 1));
    if (s < w) return peak * s / w;
    return kind == "constant" ? peak : peak * std::sqrt(w / s);
  }
};

}  // namespace attnscope
