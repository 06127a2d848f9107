// The sum of squares of a run of values, in double: the weight and gradient norms.
#pragma once

#include <cstdint>

namespace caviar {

// Eight independent partial sums: one running sum would make every addition wait for the
// previous one, and this runs over every weight and gradient once per mini-batch.
template <typename T>
double squares(const T* values, int64_t count) {
  constexpr int kLanes = 8;
  double lanes[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= count; i += kLanes) {
    for (int lane = 0; lane < kLanes; ++lane)
      lanes[lane] += static_cast<double>(values[i + lane]) * values[i + lane];
  }
  double total = 0.0;
  for (double lane : lanes) total += lane;
  for (; i < count; ++i) total += static_cast<double>(values[i]) * values[i];
  return total;
}

}  // namespace caviar
