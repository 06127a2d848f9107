// A network's parameters, gradients and activations, and its forward and backward passes.
// A template on the scalar type: float for training, double for gradient checking.
// Parameters live in one contiguous block, gradients in another of the same layout, and
// every buffer is sized once for `capacity` rows: nothing is allocated per mini-batch.
#pragma once

#include <cstdint>
#include <vector>

#include "loss.h"
#include "optimizer.h"
#include "rng.h"
#include "spec.h"

namespace caviar {

enum class PassMode {
  kTraining,   // batch-norm batch statistics (running averages updated), dropout on
  kInference,  // batch-norm running averages, dropout off
  kChecking,   // batch statistics without touching the running averages, dropout off
};

template <typename T>
class Network {
 public:
  Network(const NetworkSpec& spec, int capacity);

  // Weights from the spec's initialization; biases and beta 0, gamma 1; running mean 0
  // and running variance 1 (as PyTorch).
  void initialize(Rng& rng);

  // inputs (rows, spec.inputs) with rows <= capacity. Returns the output layer's
  // activations (rows, output units), valid until the next forward.
  const T* forward(const T* inputs, int rows, PassMode mode, Rng* dropoutRng);
  // The loss of the last forward against targets (rows, targetWidth), weighted by
  // classWeights (classCount of them, or nullptr for none) in LossTotals::weighted.
  LossTotals loss(const T* targets, int rows, const float* classWeights) const;
  // Gradients of J = (1/rows) sum w_{y_i} L_i + l2 / (2 rows) sum ||W||^2 for the last
  // forward, which must have run on the same inputs (w = 1 when classWeights is nullptr).
  void backward(const T* inputs, const T* targets, int rows, double l2, const float* classWeights);

  // sum ||W||^2 over the weight matrices (the L2 term without its factor).
  double weightSquares() const;
  // The squared Frobenius norm of one layer's weight matrix, and its size.
  double layerWeightSquares(int layer) const;
  int64_t layerWeightCount(int layer) const;

  const NetworkSpec& spec() const { return spec_; }
  int capacity() const { return capacity_; }
  int layerCount() const { return static_cast<int>(layers_.size()); }
  std::vector<T>& parameters() { return parameters_; }
  const std::vector<T>& parameters() const { return parameters_; }
  std::vector<T>& gradients() { return gradients_; }
  const std::vector<T>& gradients() const { return gradients_; }
  // Batch-norm running means and variances, every layer's, in one block.
  std::vector<T>& runningStatistics() { return running_; }
  const std::vector<T>& runningStatistics() const { return running_; }
  const std::vector<ParameterSegment>& segments() const { return segments_; }
  // Each layer's parameters as a range of the block, for gradient checking.
  ParameterSegment layerParameters(int layer) const;

  // Offsets into parameters() (or runningStatistics() for the running ones); -1 when the
  // layer has no such parameter.
  struct Offsets {
    int64_t weight = -1, bias = -1, gamma = -1, beta = -1;
    int64_t runningMean = -1, runningVar = -1;
  };
  const Offsets& offsets(int layer) const { return layers_[layer].offsets; }
  int layerInputs(int layer) const { return layers_[layer].inputs; }

 private:
  struct Layer {
    LayerSpec spec;
    int inputs = 0;
    Offsets offsets;
    std::vector<T> normalized;   // batch norm: Z_norm; output layer: the logits Z
    std::vector<T> activated;    // A = g(Z), before dropout
    std::vector<T> dropped;      // A after dropout (what the next layer reads)
    std::vector<T> mask;         // dropout's D / keep
    std::vector<T> mean, inverseStd;  // batch norm's batch statistics
  };
  const T* layerOutput(const Layer& layer, bool dropoutApplied) const;

  NetworkSpec spec_;
  int capacity_;
  std::vector<Layer> layers_;
  std::vector<T> parameters_, gradients_, running_;
  std::vector<ParameterSegment> segments_;
  std::vector<T> gradientIn_, gradientOut_;  // (capacity, widest layer) each, for backward
  std::vector<double> sums_;                 // batch-norm reductions
  bool lastDropout_ = false;                 // whether the last forward applied dropout
};

extern template class Network<float>;
extern template class Network<double>;

}  // namespace caviar
