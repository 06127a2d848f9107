// Learning-rate decay (COURSE-NOTES.md). `epoch` counts from 0 at the schedule's start.
#pragma once

#include "spec.h"

namespace caviar {

double scheduledLearningRate(const DecaySpec& decay, double baseRate, int epoch);

// A rate set from outside must be a positive number; throws INVALID_SPEC at /learningRate.
void validateLearningRate(double learningRate);

}  // namespace caviar
