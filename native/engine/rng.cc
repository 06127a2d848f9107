#include "rng.h"

#include <cmath>

namespace caviar {
namespace {

uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// GCC and Clang have 128-bit integers on 64-bit targets; __extension__ marks the use as
// deliberate under -Wpedantic.
__extension__ using Wide = unsigned __int128;

uint64_t rotateLeft(uint64_t value, int shift) {
  return (value << shift) | (value >> (64 - shift));
}

}  // namespace

Rng::Rng(uint64_t seed) {
  uint64_t mixer = seed;
  for (auto& word : state_.words) word = splitmix64(mixer);
}

uint64_t Rng::next() {
  auto& s = state_.words;
  const uint64_t result = rotateLeft(s[1] * 5, 7) * 9;
  const uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotateLeft(s[3], 45);
  return result;
}

float Rng::uniformFloat() { return static_cast<float>(next() >> 40) * 0x1.0p-24f; }

double Rng::uniformDouble() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

double Rng::normal() {
  if (state_.hasSpareNormal) {
    state_.hasSpareNormal = false;
    return state_.spareNormal;
  }
  // 1 - u lies in (0, 1], so the logarithm is finite.
  const double radius = std::sqrt(-2.0 * std::log(1.0 - uniformDouble()));
  const double angle = 2.0 * M_PI * uniformDouble();
  state_.spareNormal = radius * std::sin(angle);
  state_.hasSpareNormal = true;
  return radius * std::cos(angle);
}

uint64_t Rng::below(uint64_t bound) {
  // Lemire, "Fast Random Integer Generation in an Interval" (2019): multiply-shift with
  // rejection of the few values that would bias the result.
  Wide product = static_cast<Wide>(next()) * bound;
  auto low = static_cast<uint64_t>(product);
  if (low < bound) {
    const uint64_t threshold = -bound % bound;
    while (low < threshold) {
      product = static_cast<Wide>(next()) * bound;
      low = static_cast<uint64_t>(product);
    }
  }
  return static_cast<uint64_t>(product >> 64);
}

uint64_t deriveSeed(uint64_t seed, uint64_t stream) {
  uint64_t mixer = seed ^ (0xd1b54a32d192ed03ULL * (stream + 1));
  return splitmix64(mixer);
}

}  // namespace caviar
