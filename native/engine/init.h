// Weight initialization (COURSE-NOTES.md): biases start at 0; weights are drawn from a
// normal whose variance depends on the layer's fan-in (and fan-out for glorot).
#pragma once

#include <cmath>
#include <cstdint>

#include "rng.h"
#include "spec.h"

namespace caviar {

inline double initStandardDeviation(Init init, int inputs, int units, double initScale) {
  switch (init) {
    case Init::kHe:
      return std::sqrt(2.0 / inputs);
    case Init::kXavier:
      return std::sqrt(1.0 / inputs);
    case Init::kGlorot:
      return std::sqrt(2.0 / (inputs + units));
    case Init::kNormal:
      return initScale;
    case Init::kZeros:
      return 0.0;
  }
  return 0.0;
}

// weight (units, inputs), drawn row by row.
template <typename T>
void initializeWeights(Init init, T* weight, int inputs, int units, double initScale, Rng& rng) {
  const double deviation = initStandardDeviation(init, inputs, units, initScale);
  const int64_t count = static_cast<int64_t>(inputs) * units;
  for (int64_t i = 0; i < count; ++i)
    weight[i] = init == Init::kZeros ? T(0) : static_cast<T>(deviation * rng.normal());
}

}  // namespace caviar
