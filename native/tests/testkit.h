// What the C++ unit tests share: small seeded data sets, spec builders, error checks.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "error.h"
#include "rng.h"
#include "spec.h"

namespace caviar::testkit {

// Rows of features and targets that own their memory; view() lends them to the engine.
struct Dataset {
  std::vector<float> x;
  std::vector<float> y;
  int64_t rows = 0;
  int features = 0;
  int targets = 0;

  DataView view() const { return {x.data(), y.data(), rows, features, targets}; }
};

// `classes` Gaussian blobs in 2-D, centred on a circle of radius 3, one class index per
// row (a softmax target; with 2 classes it is also a sigmoid target). The classes
// alternate row by row so that any prefix of the rows holds every class.
inline Dataset gaussianBlobs(int classes, int64_t rows, uint64_t seed, double spread = 0.7) {
  Rng rng(seed);
  Dataset data;
  data.rows = rows;
  data.features = 2;
  data.targets = 1;
  for (int64_t row = 0; row < rows; ++row) {
    const int label = static_cast<int>(row % classes);
    const double angle = 2.0 * M_PI * label / classes;
    data.x.push_back(static_cast<float>(3.0 * std::cos(angle) + spread * rng.normal()));
    data.x.push_back(static_cast<float>(3.0 * std::sin(angle) + spread * rng.normal()));
    data.y.push_back(static_cast<float>(label));
  }
  return data;
}

// Points uniform in [-1, 1]^2, labelled 1 when x1 * x2 > 0: not linearly separable, so
// only a network with a hidden layer learns it.
inline Dataset xorQuadrants(int64_t rows, uint64_t seed) {
  Rng rng(seed);
  Dataset data;
  data.rows = rows;
  data.features = 2;
  data.targets = 1;
  for (int64_t row = 0; row < rows; ++row) {
    const float first = 2.0f * rng.uniformFloat() - 1.0f;
    const float second = 2.0f * rng.uniformFloat() - 1.0f;
    data.x.push_back(first);
    data.x.push_back(second);
    data.y.push_back(first * second > 0 ? 1.0f : 0.0f);
  }
  return data;
}

inline LayerSpec layer(int units, Activation activation, bool batchNorm = false,
                       float dropout = 0.0f) {
  LayerSpec spec;
  spec.units = units;
  spec.activation = activation;
  spec.batchNorm = batchNorm;
  spec.dropout = dropout;
  return spec;
}

inline NetworkSpec network(int inputs, std::vector<LayerSpec> layers, Loss loss,
                           Init init = Init::kHe) {
  NetworkSpec spec;
  spec.inputs = inputs;
  spec.layers = std::move(layers);
  spec.loss = loss;
  spec.init = init;
  return spec;
}

// Every field set, as the TypeScript face sets them: the engine has no defaults of its own.
// Shuffled, standardized inputs, no L2, no decay; the optimizers' usual constants.
inline TrainingSpec training(OptimizerType optimizer, double learningRate, int batchSize,
                             uint64_t seed) {
  TrainingSpec spec;
  spec.batchSize = batchSize;
  spec.shuffle = true;
  spec.seed = seed;
  spec.optimizer.type = optimizer;
  spec.optimizer.learningRate = learningRate;
  spec.optimizer.beta = 0.9;
  spec.optimizer.beta1 = 0.9;
  spec.optimizer.beta2 = 0.999;
  spec.optimizer.epsilon = 1e-8;
  spec.optimizer.weightDecay = 0.01;
  spec.decay.type = DecayType::kNone;
  spec.decay.rate = 1.0;
  spec.decay.interval = 1;
  spec.decay.floor = 0.0;
  spec.decay.period = 1;
  spec.l2 = 0.0;
  spec.normalize = Normalization::kStandard;
  return spec;
}

// Names a parameterized test after its case's `name`.
template <typename Case>
std::string caseName(const ::testing::TestParamInfo<Case>& info) {
  return info.param.name;
}

// The code of the caviar::Error that `action` throws, or "" when it returns (any other
// exception fails the test that called it).
template <typename Action>
std::string errorCode(Action&& action) {
  try {
    action();
  } catch (const Error& error) {
    return error.code();
  }
  return "";
}

}  // namespace caviar::testkit
