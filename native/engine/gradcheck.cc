#include "gradcheck.h"

#include <cmath>

#include "error.h"
#include "network.h"
#include "rng.h"

namespace caviar {
namespace {

double relativeDifference(const std::vector<double>& approximate,
                          const std::vector<double>& analytic, int64_t begin, int64_t end) {
  double difference = 0.0, approximateNorm = 0.0, analyticNorm = 0.0;
  for (int64_t i = begin; i < end; ++i) {
    difference += (approximate[i] - analytic[i]) * (approximate[i] - analytic[i]);
    approximateNorm += approximate[i] * approximate[i];
    analyticNorm += analytic[i] * analytic[i];
  }
  const double denominator = std::sqrt(approximateNorm) + std::sqrt(analyticNorm);
  return denominator > 0 ? std::sqrt(difference) / denominator : 0.0;
}

}  // namespace

GradCheckResult gradCheck(const NetworkSpec& spec, double l2, const DataView& data,
                          uint64_t seed, double epsilon) {
  validateNetwork(spec);
  validateData(spec, data, "gradient-check");
  if (!std::isfinite(l2) || l2 < 0) throw Error(codes::kInvalidSpec, "/l2: must be >= 0", "/l2");
  if (!(epsilon > 0 && epsilon < 1)) throw Error(codes::kInvalidSpec, "/epsilon: must be in (0, 1)", "/epsilon");
  const int rows = static_cast<int>(data.rows);
  Network<double> network(spec, rows);
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

  // The cost the gradient is of; checking mode: batch statistics, no dropout.
  auto cost = [&]() {
    network.forward(x.data(), rows, PassMode::kChecking, nullptr);
    return network.loss(y.data(), rows).loss / rows +
           (l2 > 0 ? l2 / (2.0 * rows) * network.weightSquares() : 0.0);
  };
  cost();
  network.backward(x.data(), y.data(), rows, l2);
  const std::vector<double> analytic = network.gradients();
  std::vector<double> approximate(theta.size());
  for (size_t i = 0; i < theta.size(); ++i) {
    const double held = theta[i];
    theta[i] = held + epsilon;
    const double plus = cost();
    theta[i] = held - epsilon;
    const double minus = cost();
    theta[i] = held;
    approximate[i] = (plus - minus) / (2.0 * epsilon);
  }

  GradCheckResult result;
  result.parameters = static_cast<int64_t>(theta.size());
  result.difference =
      relativeDifference(approximate, analytic, 0, static_cast<int64_t>(theta.size()));
  for (int layer = 0; layer < network.layerCount(); ++layer) {
    const ParameterSegment range = network.layerParameters(layer);
    result.layers.push_back(
        relativeDifference(approximate, analytic, range.offset, range.offset + range.size));
  }
  return result;
}

}  // namespace caviar
