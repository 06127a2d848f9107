// Learning-rate decay (COURSE-NOTES.md). A schedule runs from the rate its first epoch
// trains at, `startRate`; `epoch` counts from 0 at the schedule's start. A spec's schedule
// starts at firstLearningRate; a rate set from outside restarts it from that very rate, so
// the next epoch trains at exactly that rate and the decay runs on from there as from the
// schedule's first epoch.
#pragma once

#include "spec.h"

namespace caviar {

double scheduledLearningRate(const DecaySpec& decay, double startRate, int epoch);

// The rate a spec's first epoch trains at: its learning rate, times `rate` for sqrt decay
// (lr0 * rate / sqrt(epoch + 1)); every other schedule starts at lr0.
double firstLearningRate(const DecaySpec& decay, double learningRate);

// A rate set from outside must be a positive number; throws INVALID_SPEC at /learningRate.
void validateLearningRate(double learningRate);

}  // namespace caviar
