// Element-wise activations, forward and backward side by side. `values` is (m, units),
// row-major. Backward multiplies an incoming gradient by g'(z), computed from the
// activated value a = g(z) alone, so the pre-activation need not be kept.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "spec.h"

namespace caviar {

template <typename T>
T sigmoid(T z) {
  // Two branches so that exp never overflows (exp(-z) for large negative z would).
  if (z >= 0) return T(1) / (T(1) + std::exp(-z));
  const T e = std::exp(z);
  return e / (T(1) + e);
}

// values (m, units) in place: Z -> g(Z). Softmax is per row; the max is subtracted only
// for numerical stability.
template <typename T>
void activationForward(Activation activation, T* values, int64_t rows, int units, T leakySlope) {
  const int64_t count = rows * units;
  switch (activation) {
    case Activation::kRelu:
      for (int64_t i = 0; i < count; ++i) values[i] = values[i] > T(0) ? values[i] : T(0);
      break;
    case Activation::kLeakyRelu:
      for (int64_t i = 0; i < count; ++i)
        values[i] = values[i] > T(0) ? values[i] : leakySlope * values[i];
      break;
    case Activation::kTanh:
      for (int64_t i = 0; i < count; ++i) values[i] = std::tanh(values[i]);
      break;
    case Activation::kSigmoid:
      for (int64_t i = 0; i < count; ++i) values[i] = sigmoid(values[i]);
      break;
    case Activation::kSoftmax:
      for (int64_t row = 0; row < rows; ++row) {
        T* z = values + row * units;
        const T largest = *std::max_element(z, z + units);
        T total = 0;
        for (int j = 0; j < units; ++j) {
          z[j] = std::exp(z[j] - largest);
          total += z[j];
        }
        const T inverse = T(1) / total;
        for (int j = 0; j < units; ++j) z[j] *= inverse;
      }
      break;
    case Activation::kLinear:
      break;
  }
}

// gradient (m, units) in place: dA -> dZ = dA * g'(Z), with g'(Z) read off A = g(Z).
// Softmax has no entry here: its backward is fused with cross-entropy (loss.h).
// Leaky ReLU: A > 0 exactly when Z > 0, since the slope is non-negative.
template <typename T>
void activationBackward(Activation activation, const T* activated, T* gradient, int64_t count,
                        T leakySlope) {
  switch (activation) {
    case Activation::kRelu:
      for (int64_t i = 0; i < count; ++i) gradient[i] = activated[i] > T(0) ? gradient[i] : T(0);
      break;
    case Activation::kLeakyRelu:
      for (int64_t i = 0; i < count; ++i)
        gradient[i] = activated[i] > T(0) ? gradient[i] : leakySlope * gradient[i];
      break;
    case Activation::kTanh:
      for (int64_t i = 0; i < count; ++i) gradient[i] *= T(1) - activated[i] * activated[i];
      break;
    case Activation::kSigmoid:
      for (int64_t i = 0; i < count; ++i) gradient[i] *= activated[i] * (T(1) - activated[i]);
      break;
    case Activation::kSoftmax:
    case Activation::kLinear:
      break;
  }
}

}  // namespace caviar
