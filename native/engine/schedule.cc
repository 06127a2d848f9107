#include "schedule.h"

#include <algorithm>
#include <cmath>

#include "error.h"

namespace caviar {

// Each formula gives startRate exactly at epoch 0.
double scheduledLearningRate(const DecaySpec& decay, double startRate, int epoch) {
  const double steps = std::floor(static_cast<double>(epoch) / decay.interval);
  switch (decay.type) {
    case DecayType::kNone:
      return startRate;
    case DecayType::kInverseTime:
      return startRate / (1.0 + decay.rate * epoch);
    case DecayType::kStaircase:
      return startRate / (1.0 + decay.rate * steps);
    case DecayType::kExponential:
      return startRate * std::pow(decay.rate, epoch);
    case DecayType::kSqrt:
      return startRate / std::sqrt(epoch + 1.0);
    case DecayType::kStep:
      return startRate * std::pow(decay.rate, steps);
    case DecayType::kCosine: {
      // floor + (start - floor)(1 + cos)/2, written from the start: floor + (start - floor)
      // may round away from start.
      const double progress = std::min(epoch, decay.period) / static_cast<double>(decay.period);
      return startRate - (startRate - decay.floor) * (1.0 - std::cos(M_PI * progress)) / 2.0;
    }
  }
  return startRate;
}

// The product is the one lr0 * rate / sqrt(epoch + 1) computes first, so a spec's sqrt
// schedule gives the same bits as that formula at every epoch.
double firstLearningRate(const DecaySpec& decay, double learningRate) {
  return decay.type == DecayType::kSqrt ? learningRate * decay.rate : learningRate;
}

void validateLearningRate(double learningRate) {
  if (!std::isfinite(learningRate) || learningRate <= 0)
    throw Error(codes::kInvalidSpec, "/learningRate: must be a positive number", "/learningRate");
}

}  // namespace caviar
