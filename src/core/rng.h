// Seeded random numbers. Two kinds:
//  - Rng: a sequential generator (xoshiro256**) for initialisation and data shuffling; its
//    state can be saved and restored, so a resumed run draws the same numbers.
//  - counter_uniform(seed, i): a stateless hash of (seed, i) to [0, 1), for dropout, so a mask
//    is the same whichever thread computes element i, and backward regenerates it instead of
//    storing it.
#pragma once

#include <array>
#include <cstdint>

namespace attnscope {

class Rng {
 public:
  explicit Rng(uint64_t seed = 0x5eed) { seed_with(seed); }
  void seed_with(uint64_t seed);
  uint64_t next_u64();
  float uniform();                    // [0, 1)
  float uniform(float lo, float hi);  // [lo, hi)
  float normal();                     // N(0, 1), Box-Muller
  uint64_t below(uint64_t n);         // [0, n)
  std::array<uint64_t, 4> state() const { return s_; }
  void set_state(const std::array<uint64_t, 4>& s) { s_ = s; }

 private:
  std::array<uint64_t, 4> s_{};
};

// splitmix64 finaliser of (seed, counter): a well-mixed 64-bit value.
inline uint64_t counter_hash(uint64_t seed, uint64_t counter) {
  uint64_t z = seed * 0x9E3779B97F4A7C15ull + counter + 0x632BE59BD9B4E019ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

inline float counter_uniform(uint64_t seed, uint64_t counter) {
  return static_cast<float>(counter_hash(seed, counter) >> 40) * (1.0f / 16777216.0f);
}

}  // namespace attnscope
