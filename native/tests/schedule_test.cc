// Learning-rate schedules (schedule.h) at chosen epochs, against values worked out from
// the formulas in spec.h's DecaySpec comment with a learning rate of 0.1, and restarted
// schedules, which start at exactly the rate they are given.
#include "schedule.h"

#include <gtest/gtest.h>

#include <ostream>
#include <string>

#include "testkit.h"

namespace caviar {
namespace {

constexpr double kBaseRate = 0.1;

struct ScheduleCase {
  std::string name;
  DecaySpec decay;
  int epoch;
  double expected;
};

void PrintTo(const ScheduleCase& schedule, std::ostream* out) { *out << schedule.name; }

DecaySpec decay(DecayType type, double rate, int interval = 1, double floor = 0.0,
                int period = 1) {
  DecaySpec spec;
  spec.type = type;
  spec.rate = rate;
  spec.interval = interval;
  spec.floor = floor;
  spec.period = period;
  return spec;
}

class Schedule : public ::testing::TestWithParam<ScheduleCase> {};

TEST_P(Schedule, GivesTheFormulasRateAtTheEpoch) {
  const ScheduleCase& schedule = GetParam();
  const double start = firstLearningRate(schedule.decay, kBaseRate);
  EXPECT_NEAR(scheduledLearningRate(schedule.decay, start, schedule.epoch), schedule.expected,
              1e-15);
}

// A rate set from outside restarts the schedule from it: epoch 0 of the restarted schedule
// trains at that very rate, to the bit, whatever the schedule and its constants.
TEST_P(Schedule, StartsAtExactlyTheRateItIsRestartedFrom) {
  const DecaySpec& decay = GetParam().decay;
  for (const double rate : {0.1, 0.037, 1e-5, 0.3, 2.0 / 3.0, 123.456})
    EXPECT_EQ(scheduledLearningRate(decay, rate, 0), rate) << rate;
}

const DecaySpec kNone = decay(DecayType::kNone, 0.5, 3);
const DecaySpec kInverseTime = decay(DecayType::kInverseTime, 0.5);
const DecaySpec kStaircase = decay(DecayType::kStaircase, 1.0, 2);
const DecaySpec kExponential = decay(DecayType::kExponential, 0.95);
const DecaySpec kSqrt = decay(DecayType::kSqrt, 2.0);
const DecaySpec kStep = decay(DecayType::kStep, 0.5, 3);
const DecaySpec kCosine = decay(DecayType::kCosine, 1.0, 1, 0.01, 10);

INSTANTIATE_TEST_SUITE_P(
    Decays, Schedule,
    ::testing::Values(
        ScheduleCase{"NoneAtStart", kNone, 0, 0.1}, ScheduleCase{"NoneLater", kNone, 7, 0.1},
        // lr0 / (1 + 0.5 epoch)
        ScheduleCase{"InverseTimeAtStart", kInverseTime, 0, 0.1},
        ScheduleCase{"InverseTimeAfterOne", kInverseTime, 1, 0.1 / 1.5},
        ScheduleCase{"InverseTimeAfterFour", kInverseTime, 4, 0.1 / 3},
        // lr0 / (1 + floor(epoch / 2)): holds for two epochs at a time
        ScheduleCase{"StaircaseAtStart", kStaircase, 0, 0.1},
        ScheduleCase{"StaircaseHoldsWithinInterval", kStaircase, 1, 0.1},
        ScheduleCase{"StaircaseSecondStair", kStaircase, 2, 0.05},
        ScheduleCase{"StaircaseSecondStairEnd", kStaircase, 3, 0.05},
        ScheduleCase{"StaircaseFourthStair", kStaircase, 7, 0.025},
        // lr0 0.95^epoch
        ScheduleCase{"ExponentialAtStart", kExponential, 0, 0.1},
        ScheduleCase{"ExponentialAfterOne", kExponential, 1, 0.095},
        ScheduleCase{"ExponentialAfterTwo", kExponential, 2, 0.09025},
        ScheduleCase{"ExponentialAfterTen", kExponential, 10, 0.059873693923837873},
        // lr0 2 / sqrt(epoch + 1)
        ScheduleCase{"SqrtAtStart", kSqrt, 0, 0.2},
        ScheduleCase{"SqrtAfterThree", kSqrt, 3, 0.1},
        ScheduleCase{"SqrtAfterEight", kSqrt, 8, 0.2 / 3},
        // lr0 0.5^floor(epoch / 3)
        ScheduleCase{"StepAtStart", kStep, 0, 0.1},
        ScheduleCase{"StepHoldsWithinInterval", kStep, 2, 0.1},
        ScheduleCase{"StepFirstDrop", kStep, 3, 0.05},
        ScheduleCase{"StepSecondDrop", kStep, 6, 0.025},
        ScheduleCase{"StepThirdDrop", kStep, 9, 0.0125},
        // 0.01 + 0.09 (1 + cos(pi min(epoch, 10) / 10)) / 2
        ScheduleCase{"CosineAtStart", kCosine, 0, 0.1},
        ScheduleCase{"CosineAfterTwo", kCosine, 2, 0.091405764746872634},
        ScheduleCase{"CosineHalfway", kCosine, 5, 0.055},
        ScheduleCase{"CosineAfterSeven", kCosine, 7, 0.02854966364683871},
        ScheduleCase{"CosineReachesFloor", kCosine, 10, 0.01},
        ScheduleCase{"CosineStaysAtFloor", kCosine, 15, 0.01}),
    testkit::caseName<ScheduleCase>);

}  // namespace
}  // namespace caviar
