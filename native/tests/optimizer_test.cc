// The update rules of optimizer.h against values worked out by hand, in double, from the
// formulas of COURSE-NOTES.md (epsilon outside the square root, Adam's t from 1).
#include "optimizer.h"

#include <gtest/gtest.h>

#include <array>
#include <ostream>
#include <string>
#include <vector>

#include "testkit.h"

namespace caviar {
namespace {

constexpr int kParameters = 4;
using Values = std::array<float, kParameters>;

// Three weights that decay, then one bias that does not.
const std::vector<ParameterSegment> kSegments = {{0, 3, true}, {3, 1, false}};
const Values kStart = {0.5f, -1.0f, 2.0f, 0.25f};
// One gradient per step; the last bias gradient is 0 so that momentum alone moves it.
const std::array<Values, 3> kGradients = {{{0.2f, -0.4f, 1.0f, -0.1f},
                                           {-0.1f, -0.3f, 0.5f, 0.2f},
                                           {0.05f, 0.6f, -2.0f, 0.0f}}};
constexpr double kLearningRate = 0.1;

struct RuleCase {
  std::string name;
  OptimizerType type;
  std::array<Values, 3> expected;  // the parameters after each step
};

// Names a case in test output, where GoogleTest would print its bytes.
void PrintTo(const RuleCase& rule, std::ostream* out) { *out << rule.name; }

OptimizerSpec specFor(OptimizerType type) {
  OptimizerSpec spec;
  spec.type = type;
  spec.learningRate = kLearningRate;
  spec.beta = 0.9;
  spec.beta1 = 0.9;
  spec.beta2 = 0.999;
  spec.epsilon = 1e-8;
  spec.weightDecay = 0.1;
  return spec;
}

class OptimizerRule : public ::testing::TestWithParam<RuleCase> {};

TEST_P(OptimizerRule, MatchesHandComputedParametersOverThreeSteps) {
  const RuleCase& rule = GetParam();
  Optimizer optimizer(specFor(rule.type), kParameters);
  Values parameters = kStart;
  for (size_t step = 0; step < kGradients.size(); ++step) {
    optimizer.step(parameters.data(), kGradients[step].data(), kSegments, kLearningRate);
    for (int i = 0; i < kParameters; ++i) {
      EXPECT_NEAR(parameters[i], rule.expected[step][i], 1e-6)
          << rule.name << ", step " << step + 1 << ", parameter " << i;
    }
  }
  EXPECT_EQ(optimizer.steps(), 3);
}

// sgd: w -= lr g. momentum: v = 0.9 v + 0.1 g; w -= lr v.
// rmsprop: S = 0.9 S + 0.1 g^2; w -= lr g / (sqrt(S) + eps); its first step moves every
// parameter by lr / sqrt(0.1) = 0.316228 against the sign of its gradient.
// adam: the first step's bias-corrected moments are g and g^2 exactly, so it moves every
// parameter by lr = 0.1 against the sign of its gradient.
// adamw: as adam, after w -= lr * 0.1 * w on the three weights only; the bias column is
// adam's.
INSTANTIATE_TEST_SUITE_P(
    Rules, OptimizerRule,
    ::testing::Values(
        RuleCase{"sgd",
                 OptimizerType::kSgd,
                 {{{0.48f, -0.96f, 1.9f, 0.26f},
                   {0.49f, -0.93f, 1.85f, 0.24f},
                   {0.485f, -0.99f, 2.05f, 0.24f}}}},
        RuleCase{"momentum",
                 OptimizerType::kMomentum,
                 {{{0.498f, -0.996f, 1.99f, 0.251f},
                   {0.4972f, -0.9894f, 1.976f, 0.2499f},
                   {0.49598f, -0.98946f, 1.9834f, 0.24891f}}}},
        RuleCase{"rmsprop",
                 OptimizerType::kRmsprop,
                 {{{0.183772284f, -0.683772259f, 1.68377224f, 0.566227666f},
                   {0.331214218f, -0.487656137f, 1.53633029f, 0.280513421f},
                   {0.255750591f, -0.738836306f, 1.81818822f, 0.280513421f}}}},
        RuleCase{"adam",
                 OptimizerType::kAdam,
                 {{{0.4f, -0.9f, 1.9f, 0.35f},
                   {0.373366303f, -0.801742497f, 1.80678204f, 0.31338964f},
                   {0.33932339f, -0.802233412f, 1.82741774f, 0.285089733f}}}},
        RuleCase{"adamw",
                 OptimizerType::kAdamW,
                 {{{0.395f, -0.89f, 1.88f, 0.35f},
                   {0.364416303f, -0.782842497f, 1.76798204f, 0.31338964f},
                   {0.326729227f, -0.775504987f, 1.77093792f, 0.285089733f}}}}),
    testkit::caseName<RuleCase>);

// With g = 1e-8 the first Adam step is lr g / (|g| + eps) = lr / 2. Epsilon inside the
// square root would give lr g / sqrt(g^2 + eps), about lr / 10^4.
TEST(Optimizer, AdamKeepsEpsilonOutsideTheSquareRoot) {
  Optimizer optimizer(specFor(OptimizerType::kAdam), 1);
  float parameter = 0.0f;
  const float gradient = 1e-8f;
  optimizer.step(&parameter, &gradient, {{0, 1, false}}, kLearningRate);
  EXPECT_NEAR(parameter, -kLearningRate / 2, 1e-6);
}

// A checkpoint carries the moments and the step counter: an optimizer rebuilt from them
// takes the same next step as one that never stopped, bias correction included.
TEST(Optimizer, ResumesFromItsMomentsAndStepCounter) {
  const OptimizerSpec spec = specFor(OptimizerType::kAdam);
  Optimizer uninterrupted(spec, kParameters);
  Values straight = kStart;
  for (const Values& gradient : kGradients)
    uninterrupted.step(straight.data(), gradient.data(), kSegments, kLearningRate);

  Optimizer first(spec, kParameters);
  Values resumed = kStart;
  for (size_t step = 0; step < 2; ++step)
    first.step(resumed.data(), kGradients[step].data(), kSegments, kLearningRate);
  Optimizer second(spec, kParameters);
  second.firstMoments() = first.firstMoments();
  second.secondMoments() = first.secondMoments();
  second.setSteps(first.steps());
  second.step(resumed.data(), kGradients[2].data(), kSegments, kLearningRate);

  EXPECT_EQ(resumed, straight);
  EXPECT_EQ(second.steps(), 3);
}

TEST(Optimizer, KeepsOnlyTheMomentsItsRuleUses) {
  struct Expectation {
    OptimizerType type;
    bool first;
    bool second;
  };
  for (const Expectation& expectation : {Expectation{OptimizerType::kSgd, false, false},
                                         Expectation{OptimizerType::kMomentum, true, false},
                                         Expectation{OptimizerType::kRmsprop, false, true},
                                         Expectation{OptimizerType::kAdam, true, true},
                                         Expectation{OptimizerType::kAdamW, true, true}}) {
    const Optimizer optimizer(specFor(expectation.type), kParameters);
    EXPECT_EQ(optimizer.firstMoments().size(), expectation.first ? kParameters : 0u);
    EXPECT_EQ(optimizer.secondMoments().size(), expectation.second ? kParameters : 0u);
  }
}

}  // namespace
}  // namespace caviar
