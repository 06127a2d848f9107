// Losses on the output layer, each with its gradient with respect to the output layer's
// pre-activation Z. Softmax + cross-entropy and sigmoid + binary cross-entropy are fused:
// the loss is computed from the logits (log-sum-exp), and dZ = (Yhat - Y) / m.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "activations.h"
#include "spec.h"

namespace caviar {

// Each row's loss is computed in the network's precision and summed in double: the sums
// are over whole epochs.
struct LossTotals {
  double loss = 0.0;    // sum over the rows of L(yhat, y): the cost is loss / m
  int64_t correct = 0;  // classification only
  int64_t counted = 0;  // predictions judged (rows for softmax, rows x units for sigmoid)
};

// logits, probabilities: (m, units); targets: (m, 1) class indices for cross-entropy,
// (m, units) otherwise.
template <typename T>
LossTotals lossForward(Loss loss, const T* logits, const T* outputs, const T* targets,
                       int64_t rows, int units) {
  LossTotals totals;
  switch (loss) {
    case Loss::kCrossEntropy:
      for (int64_t row = 0; row < rows; ++row) {
        const T* z = logits + row * units;
        const auto label = static_cast<int>(targets[row]);
        const T largest = *std::max_element(z, z + units);
        T total = 0;
        for (int j = 0; j < units; ++j) total += std::exp(z[j] - largest);
        // -log softmax(z)_label = log sum exp(z - max) - (z_label - max)
        totals.loss += static_cast<double>(std::log(total) - (z[label] - largest));
        const T* p = outputs + row * units;
        totals.correct += (std::max_element(p, p + units) - p) == label;
      }
      totals.counted = rows;
      break;
    case Loss::kBinaryCrossEntropy:
      for (int64_t i = 0; i < rows * units; ++i) {
        const T z = logits[i];
        const T y = targets[i];
        // max(z, 0) - z y + log(1 + exp(-|z|)): never overflows, never takes log(0).
        totals.loss += static_cast<double>(std::max(z, T(0)) - z * y +
                                           std::log1p(std::exp(-std::abs(z))));
        totals.correct += (z > 0) == (y >= T(0.5));
      }
      totals.counted = rows * units;
      break;
    case Loss::kMeanSquaredError:
      // Mean over the units as well as the rows, as PyTorch's MSELoss.
      for (int64_t row = 0; row < rows; ++row) {
        double total = 0.0;
        for (int j = 0; j < units; ++j) {
          const double error = outputs[row * units + j] - targets[row * units + j];
          total += error * error;
        }
        totals.loss += total / units;
      }
      break;
  }
  return totals;
}

// gradient (m, units) <- dJ/dZ of the output layer, J = (1/m) sum L.
template <typename T>
void lossBackward(Loss loss, Activation activation, const T* outputs, const T* targets,
                  T* gradient, int64_t rows, int units, T leakySlope) {
  const T inverseRows = T(1) / static_cast<T>(rows);
  switch (loss) {
    case Loss::kCrossEntropy:
      for (int64_t row = 0; row < rows; ++row) {
        const auto label = static_cast<int>(targets[row]);
        for (int j = 0; j < units; ++j) {
          const T indicator = j == label ? T(1) : T(0);
          gradient[row * units + j] = (outputs[row * units + j] - indicator) * inverseRows;
        }
      }
      break;
    case Loss::kBinaryCrossEntropy:
      for (int64_t i = 0; i < rows * units; ++i)
        gradient[i] = (outputs[i] - targets[i]) * inverseRows;
      break;
    case Loss::kMeanSquaredError: {
      const T scale = T(2) * inverseRows / static_cast<T>(units);
      for (int64_t i = 0; i < rows * units; ++i) gradient[i] = scale * (outputs[i] - targets[i]);
      activationBackward(activation, outputs, gradient, rows * units, leakySlope);
      break;
    }
  }
}

}  // namespace caviar
