// Binary cross-entropy in float (loss.h) against the same formula in long double, at the
// extremes: logits far past where exp underflows or 1 + exp(-|z|) rounds to 1, targets at
// 0, 1 and between; and log(1 + x) for x in [0, 1] to a few units in the last place.
#include "loss.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

namespace caviar {
namespace {

constexpr float kEpsilon = std::numeric_limits<float>::epsilon();

TEST(Loss, Log1pOfFractionIsWithinAFewUlpsOnZeroToOne) {
  // The places where 1 + x rounds to 1 (x < 2^-24) or nearly: there log(1 + x) alone is
  // off by up to 100%.
  std::vector<float> points = {0.0f, 1e-38f, 1e-30f, 1e-10f, 5.9e-8f, 6e-8f, 1e-7f, 1.2e-7f,
                               2.4e-7f, 1e-6f, 1e-4f, 0.25f, 0.5f, 0.999f, 1.0f};
  for (float x = 1e-9f; x <= 1.0f; x *= 1.01f) points.push_back(x);
  for (const float x : points) {
    const long double expected = std::log1p(static_cast<long double>(x));
    const float actual = log1pOfFraction(x);
    EXPECT_NEAR(actual, static_cast<double>(expected), 4 * kEpsilon * static_cast<double>(expected))
        << "x = " << x;
  }
  EXPECT_EQ(log1pOfFraction(0.0f), 0.0f);
}

long double binaryCrossEntropy(float z, float y) {
  const long double logit = z;
  return std::max(logit, 0.0L) - logit * y + std::log1p(std::exp(-std::abs(logit)));
}

TEST(Loss, BinaryCrossEntropyIsFiniteAndExactAtExtremeLogits) {
  const std::vector<float> logits = {-1e30f, -1000.0f, -104.0f, -88.0f, -40.0f, -17.0f, -16.5f,
                                     -1.0f, -1e-6f, 0.0f, 1e-6f, 1.0f, 16.5f, 17.0f, 40.0f,
                                     88.0f, 104.0f, 1000.0f, 1e30f};
  for (const float y : {0.0f, 1.0f, 0.3f}) {
    for (const float z : logits) {
      const float output = sigmoid(z);
      const LossTotals totals =
          lossForward<float>(Loss::kBinaryCrossEntropy, &z, &output, &y, nullptr, 1, 1);
      const long double expected = binaryCrossEntropy(z, y);
      ASSERT_TRUE(std::isfinite(totals.loss)) << "z = " << z << ", y = " << y;
      // Relative to the loss, and to |z| for the terms max(z, 0) - z y, which are rounded
      // once each in float.
      const double tolerance =
          4 * kEpsilon * static_cast<double>(expected) + 2 * kEpsilon * std::abs(z);
      EXPECT_NEAR(totals.loss, static_cast<double>(expected), tolerance) << "z = " << z << ", y = " << y;
      EXPECT_EQ(totals.correct, (z > 0) == (y >= 0.5f) ? 1 : 0) << "z = " << z << ", y = " << y;
    }
  }
}

// A confident, right prediction costs about exp(-|z|), not 0: the tail that 1 + exp(-|z|)
// rounds away in float.
TEST(Loss, BinaryCrossEntropyKeepsTheTailOfAConfidentRightPrediction) {
  for (const float z : {17.0f, 20.0f, 30.0f, 60.0f}) {
    const float y = 1.0f;
    const float output = sigmoid(z);
    const LossTotals totals =
        lossForward<float>(Loss::kBinaryCrossEntropy, &z, &output, &y, nullptr, 1, 1);
    const double tail = std::exp(-static_cast<double>(z));
    EXPECT_NEAR(totals.loss, tail, 4 * kEpsilon * tail) << "z = " << z;
  }
}

}  // namespace
}  // namespace caviar
