#include "model.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "denormals.h"
#include "error.h"
#include "network.h"
#include "normalization.h"

namespace caviar {
namespace {

// Rows per forward pass at inference: large enough for BLAS to run at speed, small enough
// that the activations of a wide network stay in cache.
constexpr int kInferenceRows = 256;

void expectSize(const std::vector<float>& values, size_t size, const std::string& path) {
  if (values.size() != size)
    throw Error(codes::kShapeMismatch, path + " has " + std::to_string(values.size()) +
                                           " values but the architecture needs " +
                                           std::to_string(size));
}

}  // namespace

void computeNormalization(Normalization normalization, const float* x, int64_t rows,
                          int features, std::vector<float>& shift, std::vector<float>& scale) {
  shift.assign(features, 0.0f);
  scale.assign(features, 1.0f);
  if (normalization == Normalization::kNone || rows == 0) return;
  // Row by row, every feature at once: the data are row-major, and a pass per column
  // would stride through all of them once per feature.
  std::vector<double> low(x, x + features), high(x, x + features), total(features, 0.0);
  for (int64_t row = 0; row < rows; ++row) {
    const float* values = x + row * features;
    for (int column = 0; column < features; ++column) {
      low[column] = std::min<double>(low[column], values[column]);
      high[column] = std::max<double>(high[column], values[column]);
      total[column] += values[column];
    }
  }
  std::vector<double> center(low), spread(features);
  for (int column = 0; column < features; ++column) spread[column] = high[column] - low[column];
  if (normalization == Normalization::kStandard) {
    std::vector<double> squares(features, 0.0);
    for (int column = 0; column < features; ++column) center[column] = total[column] / rows;
    for (int64_t row = 0; row < rows; ++row) {
      const float* values = x + row * features;
      for (int column = 0; column < features; ++column) {
        const double deviation = values[column] - center[column];
        squares[column] += deviation * deviation;
      }
    }
    for (int column = 0; column < features; ++column) spread[column] = std::sqrt(squares[column] / rows);
  }
  for (int column = 0; column < features; ++column) {
    shift[column] = static_cast<float>(center[column]);
    // Guard against a constant feature; also catches spreads that round to 0 in float.
    const auto deviation = static_cast<float>(spread[column]);
    scale[column] = deviation > 0.0f ? deviation : 1.0f;
  }
}

void applyNormalization(const float* x, int64_t rows, int features, const std::vector<float>& shift,
                        const std::vector<float>& scale, float* output) {
  for (int64_t row = 0; row < rows; ++row) {
    const float* in = x + row * features;
    float* out = output + row * features;
    for (int column = 0; column < features; ++column)
      out[column] = (in[column] - shift[column]) / scale[column];
  }
}

ModelState exportModel(const Network<float>& network, Normalization normalization,
                       const std::vector<float>& shift, const std::vector<float>& scale) {
  ModelState model;
  model.network = network.spec();
  model.normalization = normalization;
  model.shift = shift;
  model.scale = scale;
  const std::vector<float>& parameters = network.parameters();
  const std::vector<float>& running = network.runningStatistics();
  auto slice = [](const std::vector<float>& block, int64_t offset, int64_t count) {
    return offset < 0 ? std::vector<float>()
                      : std::vector<float>(block.begin() + offset, block.begin() + offset + count);
  };
  for (int layer = 0; layer < network.layerCount(); ++layer) {
    const auto& offsets = network.offsets(layer);
    const int units = network.spec().layers[layer].units;
    LayerParameters entry;
    entry.weight = slice(parameters, offsets.weight, static_cast<int64_t>(units) * network.layerInputs(layer));
    entry.bias = slice(parameters, offsets.bias, units);
    entry.gamma = slice(parameters, offsets.gamma, units);
    entry.beta = slice(parameters, offsets.beta, units);
    entry.runningMean = slice(running, offsets.runningMean, units);
    entry.runningVar = slice(running, offsets.runningVar, units);
    model.layers.push_back(std::move(entry));
  }
  return model;
}

void validateModel(const ModelState& model) {
  validateNetwork(model.network);
  const auto features = static_cast<size_t>(model.network.inputs);
  expectSize(model.shift, features, "normalization shift");
  expectSize(model.scale, features, "normalization scale");
  for (size_t column = 0; column < features; ++column) {
    if (!std::isfinite(model.shift[column]) || !std::isfinite(model.scale[column]) ||
        model.scale[column] == 0.0f)
      throw Error(codes::kInvalidSpec, "normalization of feature " + std::to_string(column) +
                                           " must be finite with a non-zero scale");
  }
  if (model.layers.size() != model.network.layers.size())
    throw Error(codes::kShapeMismatch, "the model has parameters for " +
                                           std::to_string(model.layers.size()) +
                                           " layers but its architecture has " +
                                           std::to_string(model.network.layers.size()));
  int inputs = model.network.inputs;
  for (size_t index = 0; index < model.layers.size(); ++index) {
    const LayerSpec& spec = model.network.layers[index];
    const LayerParameters& layer = model.layers[index];
    const std::string path = "layers/" + std::to_string(index) + "/";
    const auto units = static_cast<size_t>(spec.units);
    expectSize(layer.weight, units * inputs, path + "weight");
    expectSize(layer.bias, spec.batchNorm ? 0 : units, path + "bias");
    for (const auto* values : {&layer.gamma, &layer.beta, &layer.runningMean, &layer.runningVar})
      expectSize(*values, spec.batchNorm ? units : 0, path + "batch-norm parameters");
    inputs = spec.units;
  }
}

void importModel(const ModelState& model, Network<float>& network) {
  std::vector<float>& parameters = network.parameters();
  std::vector<float>& running = network.runningStatistics();
  auto place = [](const std::vector<float>& values, std::vector<float>& block, int64_t offset) {
    if (offset >= 0) std::copy(values.begin(), values.end(), block.begin() + offset);
  };
  for (int layer = 0; layer < network.layerCount(); ++layer) {
    const auto& offsets = network.offsets(layer);
    const LayerParameters& entry = model.layers[layer];
    place(entry.weight, parameters, offsets.weight);
    place(entry.bias, parameters, offsets.bias);
    place(entry.gamma, parameters, offsets.gamma);
    place(entry.beta, parameters, offsets.beta);
    place(entry.runningMean, running, offsets.runningMean);
    place(entry.runningVar, running, offsets.runningVar);
  }
}

struct Model::Impl {
  explicit Impl(ModelState modelState)
      : state(std::move(modelState)),
        network(state.network, kInferenceRows),
        inputs(static_cast<size_t>(kInferenceRows) * state.network.inputs) {}
  ModelState state;
  Network<float> network;
  std::vector<float> inputs;
};

Model::Model(ModelState state) {
  validateModel(state);
  impl_ = std::make_unique<Impl>(std::move(state));
  importModel(impl_->state, impl_->network);
}

Model::~Model() = default;

const ModelState& Model::state() const { return impl_->state; }

void Model::predict(const float* x, int64_t rows, float* outputs) {
  FlushDenormals flush;
  const ModelState& state = impl_->state;
  const int features = state.network.inputs;
  const int units = state.network.layers.back().units;
  for (int64_t start = 0; start < rows; start += kInferenceRows) {
    const int count = static_cast<int>(std::min<int64_t>(kInferenceRows, rows - start));
    applyNormalization(x + start * features, count, features, state.shift, state.scale,
                       impl_->inputs.data());
    const float* result =
        impl_->network.forward(impl_->inputs.data(), count, PassMode::kInference, nullptr);
    std::copy(result, result + static_cast<int64_t>(count) * units, outputs + start * units);
  }
}

}  // namespace caviar
