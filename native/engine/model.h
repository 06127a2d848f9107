// A trained model for inference: architecture, input normalization and parameters.
// The same forward code as training runs here, so a loaded model predicts bit for bit
// what the trainer's network predicted.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "spec.h"

namespace caviar {

struct LayerParameters {
  std::vector<float> weight;  // units x inputs, row-major (PyTorch's Linear.weight)
  std::vector<float> bias;    // units; empty with batch norm (beta takes its place)
  std::vector<float> gamma, beta, runningMean, runningVar;  // batch norm only
};

struct ModelState {
  NetworkSpec network;
  Normalization normalization = Normalization::kNone;
  std::vector<float> shift, scale;  // features: x' = (x - shift) / scale
  std::vector<LayerParameters> layers;
};

// Throws INVALID_SPEC or SHAPE_MISMATCH when the parameters do not fit the architecture.
void validateModel(const ModelState& model);

template <typename T>
class Network;
// Between a network's parameter block and a model's per-layer parameters (trainer, model).
ModelState exportModel(const Network<float>& network, Normalization normalization,
                       const std::vector<float>& shift, const std::vector<float>& scale);
void importModel(const ModelState& model, Network<float>& network);

class Model {
 public:
  explicit Model(ModelState state);
  ~Model();
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

  const ModelState& state() const;
  // outputs: rows x units of the output layer (probabilities for softmax and sigmoid).
  void predict(const float* x, int64_t rows, float* outputs);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace caviar
