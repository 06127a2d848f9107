// Gradient checking (COURSE-NOTES.md): backprop's gradient against centred differences of
// the cost, in double precision, dropout off, on a freshly initialized network.
#pragma once

#include <cstdint>
#include <vector>

#include "spec.h"

namespace caviar {

struct GradCheckResult {
  double difference = 0.0;          // ||approx - backprop|| / (||approx|| + ||backprop||)
  std::vector<double> layers;       // the same, over each layer's parameters alone
  int64_t parameters = 0;
};

// `data` is used as it is (no input normalization). epsilon is the step of the centred
// difference. Parameters are initialized from `seed`; biases and batch-norm gamma/beta get
// small random values too, so that their gradients are exercised away from zero.
GradCheckResult gradCheck(const NetworkSpec& network, double l2, const DataView& data,
                          uint64_t seed, double epsilon = 1e-7);

}  // namespace caviar
