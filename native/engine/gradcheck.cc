#include "gradcheck.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "error.h"
#include "network.h"
#include "rng.h"

namespace caviar {
namespace {

// The initialization draws from Rng(seed) itself; the sample from a stream apart.
constexpr uint64_t kSampleStream = 1;

struct Sums {
  double difference = 0.0, approximateNorm = 0.0, analyticNorm = 0.0;

  void add(double approximate, double analytic) {
    difference += (approximate - analytic) * (approximate - analytic);
    approximateNorm += approximate * approximate;
    analyticNorm += analytic * analytic;
  }
  double relative() const {
    const double denominator = std::sqrt(approximateNorm) + std::sqrt(analyticNorm);
    return denominator > 0 ? std::sqrt(difference) / denominator : 0.0;
  }
};

}  // namespace

std::vector<int64_t> sampleCoordinates(const std::vector<ParameterSegment>& tensors,
                                       int64_t perTensor, uint64_t seed) {
  if (perTensor < 0) throw Error(codes::kInvalidSpec, "/coordinates: must be >= 0", "/coordinates");
  Rng rng(deriveSeed(seed, kSampleStream));
  std::vector<int64_t> coordinates, indices;
  for (const ParameterSegment& tensor : tensors) {
    const int64_t taken = perTensor == 0 ? tensor.size : std::min(perTensor, tensor.size);
    indices.resize(static_cast<size_t>(tensor.size));
    std::iota(indices.begin(), indices.end(), tensor.offset);
    // The first `taken` steps of a Fisher-Yates shuffle: a uniform sample without replacement.
    if (taken < tensor.size) {
      for (int64_t i = 0; i < taken; ++i) {
        const auto j = i + static_cast<int64_t>(rng.below(static_cast<uint64_t>(tensor.size - i)));
        std::swap(indices[i], indices[j]);
      }
    }
    coordinates.insert(coordinates.end(), indices.begin(), indices.begin() + taken);
  }
  std::sort(coordinates.begin(), coordinates.end());
  return coordinates;
}

GradCheckResult compareGradients(std::vector<double>& theta, const std::vector<double>& analytic,
                                 const std::function<double()>& cost,
                                 const std::vector<int64_t>& coordinates,
                                 const std::vector<ParameterSegment>& layers, double epsilon) {
  Sums all;
  std::vector<Sums> perLayer(layers.size());
  for (const int64_t i : coordinates) {
    const double held = theta[i];
    theta[i] = held + epsilon;
    const double plus = cost();
    theta[i] = held - epsilon;
    const double minus = cost();
    theta[i] = held;
    const double approximate = (plus - minus) / (2.0 * epsilon);
    all.add(approximate, analytic[i]);
    for (size_t layer = 0; layer < layers.size(); ++layer) {
      if (i >= layers[layer].offset && i < layers[layer].offset + layers[layer].size)
        perLayer[layer].add(approximate, analytic[i]);
    }
  }
  GradCheckResult result;
  result.parameters = static_cast<int64_t>(theta.size());
  result.checked = static_cast<int64_t>(coordinates.size());
  result.difference = all.relative();
  for (const Sums& sums : perLayer) result.layers.push_back(sums.relative());
  return result;
}

GradCheckResult gradCheck(const NetworkSpec& spec, double l2,
                          const std::vector<float>& classWeights, const DataView& data,
                          uint64_t seed, double epsilon, int64_t coordinatesPerTensor) {
  validateNetwork(spec);
  validateClassWeights(spec, classWeights);
  validateData(spec, data, "gradient-check");
  if (!std::isfinite(l2) || l2 < 0) throw Error(codes::kInvalidSpec, "/l2: must be >= 0", "/l2");
  if (!(epsilon > 0 && epsilon < 1)) throw Error(codes::kInvalidSpec, "/epsilon: must be in (0, 1)", "/epsilon");
  const int rows = static_cast<int>(data.rows);
  Network<double> network(spec, rows);
  const std::vector<int64_t> coordinates =
      sampleCoordinates(network.segments(), coordinatesPerTensor, seed);
  Rng rng(seed);
  network.initialize(rng);
  std::vector<double>& theta = network.parameters();
  for (const ParameterSegment& segment : network.segments()) {
    if (segment.isWeight) continue;
    for (int64_t i = segment.offset; i < segment.offset + segment.size; ++i)
      theta[i] += 0.1 * rng.normal();
  }
  const std::vector<double> x(data.x, data.x + data.rows * data.features);
  const std::vector<double> y(data.y, data.y + data.rows * data.targets);

  // The cost the gradient is of, the one training minimizes (class-weighted); checking
  // mode: batch statistics, no dropout.
  const float* weights = classWeights.empty() ? nullptr : classWeights.data();
  auto cost = [&]() {
    network.forward(x.data(), rows, PassMode::kChecking, nullptr);
    return network.loss(y.data(), rows, weights).weighted / rows +
           (l2 > 0 ? l2 / (2.0 * rows) * network.weightSquares() : 0.0);
  };
  cost();
  network.backward(x.data(), y.data(), rows, l2, weights);
  const std::vector<double> analytic = network.gradients();
  std::vector<ParameterSegment> layers;
  for (int layer = 0; layer < network.layerCount(); ++layer)
    layers.push_back(network.layerParameters(layer));
  return compareGradients(theta, analytic, cost, coordinates, layers, epsilon);
}

}  // namespace caviar
