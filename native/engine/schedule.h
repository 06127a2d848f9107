// Learning-rate decay (COURSE-NOTES.md). `epoch` counts from 0 at the schedule's start.
#pragma once

#include "spec.h"

namespace caviar {

double scheduledLearningRate(const DecaySpec& decay, double baseRate, int epoch);

}  // namespace caviar
