#include "network.h"

#include <algorithm>
#include <cstring>

#include "activations.h"
#include "batchnorm.h"
#include "dense.h"
#include "dropout.h"
#include "init.h"
#include "squares.h"

namespace caviar {

template <typename T>
Network<T>::Network(const NetworkSpec& spec, int capacity) : spec_(spec), capacity_(capacity) {
  int inputs = spec.inputs;
  int widest = spec.inputs;
  int64_t parameterCount = 0;
  int64_t runningCount = 0;
  const size_t last = spec.layers.size() - 1;
  for (size_t index = 0; index < spec.layers.size(); ++index) {
    const LayerSpec& layerSpec = spec.layers[index];
    Layer layer;
    layer.spec = layerSpec;
    layer.inputs = inputs;
    const int units = layerSpec.units;
    const auto cells = static_cast<size_t>(capacity) * units;
    layer.offsets.weight = parameterCount;
    segments_.push_back({parameterCount, static_cast<int64_t>(units) * inputs, true});
    parameterCount += static_cast<int64_t>(units) * inputs;
    if (layerSpec.batchNorm) {
      // The bias is redundant before batch norm's mean subtraction: beta takes its place.
      layer.offsets.gamma = parameterCount;
      layer.offsets.beta = parameterCount + units;
      segments_.push_back({parameterCount, 2 * static_cast<int64_t>(units), false});
      parameterCount += 2 * units;
      layer.offsets.runningMean = runningCount;
      layer.offsets.runningVar = runningCount + units;
      runningCount += 2 * units;
      layer.normalized.resize(cells);
      layer.mean.resize(units);
      layer.inverseStd.resize(units);
    } else {
      layer.offsets.bias = parameterCount;
      segments_.push_back({parameterCount, units, false});
      parameterCount += units;
    }
    if (index == last) layer.normalized.resize(cells);
    layer.activated.resize(cells);
    if (layerSpec.dropout > 0) {
      layer.dropped.resize(cells);
      layer.mask.resize(cells);
    }
    layers_.push_back(std::move(layer));
    inputs = units;
    widest = std::max(widest, units);
  }
  parameters_.assign(parameterCount, T(0));
  gradients_.assign(parameterCount, T(0));
  running_.assign(runningCount, T(0));
  gradientIn_.resize(static_cast<size_t>(capacity) * widest);
  gradientOut_.resize(static_cast<size_t>(capacity) * widest);
  sums_.resize(2 * static_cast<size_t>(widest));
}

template <typename T>
void Network<T>::initialize(Rng& rng) {
  std::fill(parameters_.begin(), parameters_.end(), T(0));
  for (Layer& layer : layers_) {
    initializeWeights(spec_.init, parameters_.data() + layer.offsets.weight, layer.inputs,
                      layer.spec.units, spec_.initScale, rng);
    if (layer.spec.batchNorm) {
      std::fill_n(parameters_.data() + layer.offsets.gamma, layer.spec.units, T(1));
      std::fill_n(running_.data() + layer.offsets.runningMean, layer.spec.units, T(0));
      std::fill_n(running_.data() + layer.offsets.runningVar, layer.spec.units, T(1));
    }
  }
}

template <typename T>
const T* Network<T>::layerOutput(const Layer& layer, bool dropoutApplied) const {
  return dropoutApplied && !layer.dropped.empty() ? layer.dropped.data() : layer.activated.data();
}

template <typename T>
const T* Network<T>::forward(const T* inputs, int rows, PassMode mode, Rng* dropoutRng) {
  const T slope = static_cast<T>(spec_.leakySlope);
  lastDropout_ = mode == PassMode::kTraining;
  const T* previous = inputs;
  const size_t last = layers_.size() - 1;
  for (size_t index = 0; index < layers_.size(); ++index) {
    Layer& layer = layers_[index];
    const int units = layer.spec.units;
    const T* weight = parameters_.data() + layer.offsets.weight;
    T* activated = layer.activated.data();
    if (layer.spec.batchNorm) {
      T* normalized = layer.normalized.data();
      denseForward<T>(previous, weight, nullptr, normalized, rows, layer.inputs, units);
      if (mode == PassMode::kInference) {
        batchNormForwardInference(normalized, running_.data() + layer.offsets.runningMean,
                                  running_.data() + layer.offsets.runningVar,
                                  layer.inverseStd.data(), rows, units, spec_.batchNormEpsilon);
      } else {
        batchNormForwardTraining(normalized, layer.mean.data(), layer.inverseStd.data(),
                                 sums_.data(), rows, units, spec_.batchNormEpsilon);
        if (mode == PassMode::kTraining)
          batchNormUpdateRunning(layer.mean.data(), sums_.data(),
                                 running_.data() + layer.offsets.runningMean,
                                 running_.data() + layer.offsets.runningVar, rows, units,
                                 spec_.batchNormMomentum);
      }
      batchNormScale(normalized, parameters_.data() + layer.offsets.gamma,
                     parameters_.data() + layer.offsets.beta, activated, rows, units);
    } else {
      denseForward<T>(previous, weight, parameters_.data() + layer.offsets.bias, activated, rows,
                      layer.inputs, units);
    }
    if (index == last) {
      // Keep the logits: the losses are computed from them, for stability.
      std::memcpy(layer.normalized.data(), activated, sizeof(T) * rows * units);
    }
    activationForward(layer.spec.activation, activated, rows, units, slope);
    if (lastDropout_ && layer.spec.dropout > 0) {
      dropoutForward(activated, layer.dropped.data(), layer.mask.data(),
                     static_cast<int64_t>(rows) * units, 1.0 - layer.spec.dropout, *dropoutRng);
    }
    previous = layerOutput(layer, lastDropout_);
  }
  return previous;
}

template <typename T>
LossTotals Network<T>::loss(const T* targets, int rows, const float* classWeights) const {
  const Layer& output = layers_.back();
  return lossForward(spec_.loss, output.normalized.data(), output.activated.data(), targets,
                     classWeights, rows, output.spec.units);
}

template <typename T>
void Network<T>::backward(const T* inputs, const T* targets, int rows, double l2,
                          const float* classWeights) {
  const T slope = static_cast<T>(spec_.leakySlope);
  const T decay = static_cast<T>(l2 / rows);
  // `gradient` holds dJ/dA of the current layer's output and becomes dJ/dZ in place;
  // dJ/dA of the layer below is written to `below`, and the two swap.
  T* gradient = gradientIn_.data();
  T* below = gradientOut_.data();
  const Layer& output = layers_.back();
  lossBackward(spec_.loss, output.spec.activation, output.activated.data(), targets,
               classWeights, gradient, rows, output.spec.units, slope);
  for (int index = layerCount() - 1; index >= 0; --index) {
    Layer& layer = layers_[index];
    const int units = layer.spec.units;
    const int64_t cells = static_cast<int64_t>(rows) * units;
    if (index != layerCount() - 1) {
      if (lastDropout_ && layer.spec.dropout > 0) dropoutBackward(gradient, layer.mask.data(), cells);
      activationBackward(layer.spec.activation, layer.activated.data(), gradient, cells, slope);
    }
    if (layer.spec.batchNorm) {
      batchNormBackward(layer.normalized.data(), parameters_.data() + layer.offsets.gamma,
                        layer.inverseStd.data(), gradient, gradients_.data() + layer.offsets.gamma,
                        gradients_.data() + layer.offsets.beta, sums_.data(), rows, units);
    }
    const T* previous = index == 0 ? inputs : layerOutput(layers_[index - 1], lastDropout_);
    const T* weight = parameters_.data() + layer.offsets.weight;
    T* dWeight = gradients_.data() + layer.offsets.weight;
    denseBackward<T>(previous, weight, gradient,
                     dWeight, layer.spec.batchNorm ? nullptr : gradients_.data() + layer.offsets.bias,
                     index == 0 ? nullptr : below, rows, layer.inputs, units);
    if (l2 > 0) {
      const int64_t count = static_cast<int64_t>(units) * layer.inputs;
      for (int64_t i = 0; i < count; ++i) dWeight[i] += decay * weight[i];
    }
    std::swap(gradient, below);
  }
}

template <typename T>
double Network<T>::layerWeightSquares(int layer) const {
  const Layer& entry = layers_[layer];
  return squares(parameters_.data() + entry.offsets.weight,
                 static_cast<int64_t>(entry.spec.units) * entry.inputs);
}

template <typename T>
int64_t Network<T>::layerWeightCount(int layer) const {
  return static_cast<int64_t>(layers_[layer].spec.units) * layers_[layer].inputs;
}

template <typename T>
double Network<T>::weightSquares() const {
  double total = 0.0;
  for (int layer = 0; layer < layerCount(); ++layer) total += layerWeightSquares(layer);
  return total;
}

template <typename T>
ParameterSegment Network<T>::layerParameters(int layer) const {
  const int64_t begin = layers_[layer].offsets.weight;
  const int64_t end = layer + 1 < layerCount() ? layers_[layer + 1].offsets.weight
                                               : static_cast<int64_t>(parameters_.size());
  return {begin, end - begin, true};
}

template class Network<float>;
template class Network<double>;

}  // namespace caviar
