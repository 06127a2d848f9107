#include "schedule.h"

#include <algorithm>
#include <cmath>

#include "error.h"

namespace caviar {

double scheduledLearningRate(const DecaySpec& decay, double baseRate, int epoch) {
  const double steps = std::floor(static_cast<double>(epoch) / decay.interval);
  switch (decay.type) {
    case DecayType::kNone:
      return baseRate;
    case DecayType::kInverseTime:
      return baseRate / (1.0 + decay.rate * epoch);
    case DecayType::kStaircase:
      return baseRate / (1.0 + decay.rate * steps);
    case DecayType::kExponential:
      return baseRate * std::pow(decay.rate, epoch);
    case DecayType::kSqrt:
      return baseRate * decay.rate / std::sqrt(epoch + 1.0);
    case DecayType::kStep:
      return baseRate * std::pow(decay.rate, steps);
    case DecayType::kCosine: {
      const double progress = std::min(epoch, decay.period) / static_cast<double>(decay.period);
      return decay.floor + (baseRate - decay.floor) * (1.0 + std::cos(M_PI * progress)) / 2.0;
    }
  }
  return baseRate;
}

void validateLearningRate(double learningRate) {
  if (!std::isfinite(learningRate) || learningRate <= 0)
    throw Error(codes::kInvalidSpec, "/learningRate: must be a positive number", "/learningRate");
}

}  // namespace caviar
