// A seeded, portable PRNG: xoshiro256** seeded through splitmix64 (Blackman and Vigna).
// std:: distributions differ between standard libraries, so every draw that must be
// reproducible (initialization, shuffling, dropout masks) goes through this class.
#pragma once

#include <array>
#include <cstdint>

namespace caviar {

class Rng {
 public:
  explicit Rng(uint64_t seed = 0);

  uint64_t next();
  // Uniform in [0, 1) with 24 random bits (exactly representable as float).
  float uniformFloat();
  // Uniform in [0, 1) with 53 random bits.
  double uniformDouble();
  // Standard normal, Box-Muller (both draws used, the second kept for the next call).
  double normal();
  // Uniform integer in [0, bound), unbiased (Lemire's method).
  uint64_t below(uint64_t bound);
  // Fisher-Yates shuffle of indices.
  template <typename Index>
  void shuffle(Index* items, int64_t count) {
    for (int64_t i = count - 1; i > 0; --i) {
      const auto j = static_cast<int64_t>(below(static_cast<uint64_t>(i) + 1));
      const Index held = items[i];
      items[i] = items[j];
      items[j] = held;
    }
  }

  // The whole state, for checkpoints.
  struct State {
    std::array<uint64_t, 4> words{};
    bool hasSpareNormal = false;
    double spareNormal = 0.0;
  };
  State state() const { return state_; }
  void setState(const State& state) { state_ = state; }

 private:
  State state_;
};

// Independent streams derived from one user seed: initialization, shuffling, dropout.
uint64_t deriveSeed(uint64_t seed, uint64_t stream);

}  // namespace caviar
