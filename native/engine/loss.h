// Losses on the output layer, each with its gradient with respect to the output layer's
// pre-activation Z. Softmax + cross-entropy and sigmoid + binary cross-entropy are fused:
// the loss is computed from the logits (log-sum-exp), and dZ = (Yhat - Y) / m.
//
// Class weights (one per class, or none) scale each row's loss by the weight of its true
// class: J = (1/m) sum_i w_{y_i} L_i, and dZ_i = w_{y_i} (Yhat_i - Y_i) / m. It is the mean
// over the rows, as Keras's class_weight and PyTorch's CrossEntropyLoss(weight,
// reduction='none').mean(). PyTorch's default reduction divides by sum_i w_{y_i} instead:
// the two differ by a factor that changes from one mini-batch to the next with its mix of
// classes.
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
  double loss = 0.0;      // sum over the rows of L(yhat, y): the reported cost is loss / m
  double weighted = 0.0;  // sum of w_{y_i} L_i: the cost training minimizes is weighted / m
                          // (the same as loss without class weights)
  int64_t correct = 0;    // classification only
  int64_t counted = 0;    // predictions judged (rows for softmax, rows x units for sigmoid)
};

// The class of a sigmoid unit's target, for its weight: 1 when y >= 0.5, as accuracy
// judges it (a target may be any value in [0, 1]).
template <typename T>
int binaryClass(T target) {
  return target >= T(0.5) ? 1 : 0;
}

// log(1 + x) for x in [0, 1], to a few units in the last place (Goldberg, "What Every
// Computer Scientist Should Know About Floating-Point Arithmetic", theorem 4): u = 1 + x
// rounded, and log(u) x / (u - 1) corrects for that rounding. std::log1p for floats is
// several times slower than std::log, and this runs once per output of every mini-batch.
template <typename T>
T log1pOfFraction(T x) {
  const T u = T(1) + x;
  if (u == T(1)) return x;
  return std::log(u) * (x / (u - T(1)));
}

// logits, probabilities: (m, units); targets: (m, 1) class indices for cross-entropy,
// (m, units) otherwise; classWeights: (classCount) or nullptr for none.
template <typename T>
LossTotals lossForward(Loss loss, const T* logits, const T* outputs, const T* targets,
                       const float* classWeights, int64_t rows, int units) {
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
        const auto rowLoss = static_cast<double>(std::log(total) - (z[label] - largest));
        totals.loss += rowLoss;
        if (classWeights != nullptr) totals.weighted += classWeights[label] * rowLoss;
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
        const auto elementLoss = static_cast<double>(std::max(z, T(0)) - z * y +
                                                     log1pOfFraction(std::exp(-std::abs(z))));
        totals.loss += elementLoss;
        if (classWeights != nullptr) totals.weighted += classWeights[binaryClass(y)] * elementLoss;
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
  if (classWeights == nullptr) totals.weighted = totals.loss;
  return totals;
}

// gradient (m, units) <- dJ/dZ of the output layer, J = (1/m) sum w_{y_i} L_i (w = 1
// without class weights).
template <typename T>
void lossBackward(Loss loss, Activation activation, const T* outputs, const T* targets,
                  const float* classWeights, T* gradient, int64_t rows, int units,
                  T leakySlope) {
  const T inverseRows = T(1) / static_cast<T>(rows);
  switch (loss) {
    case Loss::kCrossEntropy:
      for (int64_t row = 0; row < rows; ++row) {
        const auto label = static_cast<int>(targets[row]);
        const T scale =
            classWeights == nullptr ? inverseRows : static_cast<T>(classWeights[label]) * inverseRows;
        for (int j = 0; j < units; ++j) {
          const T indicator = j == label ? T(1) : T(0);
          gradient[row * units + j] = (outputs[row * units + j] - indicator) * scale;
        }
      }
      break;
    case Loss::kBinaryCrossEntropy:
      for (int64_t i = 0; i < rows * units; ++i) {
        const T scale = classWeights == nullptr
                            ? inverseRows
                            : static_cast<T>(classWeights[binaryClass(targets[i])]) * inverseRows;
        gradient[i] = (outputs[i] - targets[i]) * scale;
      }
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
