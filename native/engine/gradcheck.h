// Gradient checking (COURSE-NOTES.md): backprop's gradient against centred differences of
// the cost, in double precision, dropout off, on a freshly initialized network.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "optimizer.h"
#include "spec.h"

namespace caviar {

struct GradCheckResult {
  double difference = 0.0;          // ||approx - backprop|| / (||approx|| + ||backprop||)
  std::vector<double> layers;       // the same, over each layer's parameters alone
  int64_t parameters = 0;
  int64_t checked = 0;              // the coordinates compared: all, or the sample's
};

// The coordinates to compare, in increasing order: every one when perTensor is 0, else up
// to perTensor of each tensor (a layer's weights; its biases, or its gamma and beta),
// drawn without replacement from `seed`. Each centred difference costs two forward passes,
// so a sample answers in seconds where a 784-256-128-10 network's 235,146 coordinates
// take minutes; a bug that spoils a tensor's gradient spoils its sampled coordinates too.
std::vector<int64_t> sampleCoordinates(const std::vector<ParameterSegment>& tensors,
                                       int64_t perTensor, uint64_t seed);

// The comparison itself, for any cost of `theta`: `analytic` is the gradient claimed at
// theta; each coordinate in `coordinates` is moved by +-epsilon (and put back) and cost()
// evaluated. The differences are over those coordinates, in all and within each of
// `layers` (ranges of theta).
GradCheckResult compareGradients(std::vector<double>& theta, const std::vector<double>& analytic,
                                 const std::function<double()>& cost,
                                 const std::vector<int64_t>& coordinates,
                                 const std::vector<ParameterSegment>& layers, double epsilon);

// The cost is the one training minimizes: L2 of strength `l2`, and class weights (one per
// class, or none; see loss.h). `data` is used as it is (no input normalization). epsilon is
// the step of the centred difference. Parameters are initialized from `seed`; biases and batch-norm gamma/beta get
// small random values too, so that their gradients are exercised away from zero. The
// sample of coordinates (coordinatesPerTensor, 0 for all) is drawn from its own stream of
// `seed`: the network is the same whether all coordinates are checked or a sample.
GradCheckResult gradCheck(const NetworkSpec& network, double l2,
                          const std::vector<float>& classWeights, const DataView& data,
                          uint64_t seed, double epsilon = 1e-7, int64_t coordinatesPerTensor = 0);

}  // namespace caviar
