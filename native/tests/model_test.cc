// Inference (model.h): a Model built from a trainer's model() predicts what the trainer
// evaluated, repeatably and row by row, and refuses parameters that do not fit.
#include "model.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "error.h"
#include "testkit.h"
#include "trainer.h"

namespace caviar {
namespace {

using testkit::Dataset;
using testkit::errorCode;
using testkit::layer;
using testkit::network;
using testkit::training;

// Three blobs learned by a network with batch norm (running statistics at inference) and
// dropout (off at inference), on inputs the trainer standardizes.
struct TrainedClassifier {
  Dataset train = testkit::gaussianBlobs(3, 300, 51);
  // 600 rows: more than one of the Model's 256-row inference passes.
  Dataset dev = testkit::gaussianBlobs(3, 600, 52);
  NetworkSpec spec = network(2,
                             {layer(12, Activation::kRelu, true, 0.1f),
                              layer(3, Activation::kSoftmax)},
                             Loss::kCrossEntropy);
  Trainer trainer{spec, training(OptimizerType::kAdam, 0.02, 32, 3), train.view(), dev.view()};

  TrainedClassifier() {
    for (int epoch = 0; epoch < 5; ++epoch) trainer.runEpoch();
  }
};

std::vector<float> predictAll(Model& model, const Dataset& data) {
  const int units = model.state().network.layers.back().units;
  std::vector<float> outputs(static_cast<size_t>(data.rows) * units);
  model.predict(data.x.data(), data.rows, outputs.data());
  return outputs;
}

TEST(Model, PredictsTheSameOutputsEveryTime) {
  TrainedClassifier classifier;
  Model model(classifier.trainer.model());
  Model twin(classifier.trainer.model());
  const std::vector<float> first = predictAll(model, classifier.dev);
  EXPECT_EQ(predictAll(model, classifier.dev), first);
  EXPECT_EQ(predictAll(twin, classifier.dev), first);
}

// The trainer's evaluate() and the Model run the same inference code on the same
// parameters and normalization: the same predicted classes, and the same cross-entropy
// up to the rounding of taking it from probabilities rather than logits.
TEST(Model, AgreesWithTheTrainersEvaluation) {
  TrainedClassifier classifier;
  Model model(classifier.trainer.model());
  const Dataset& dev = classifier.dev;
  const std::vector<float> outputs = predictAll(model, dev);
  double loss = 0.0;
  int64_t correct = 0;
  for (int64_t row = 0; row < dev.rows; ++row) {
    const float* probabilities = outputs.data() + row * 3;
    const auto label = static_cast<int>(dev.y[row]);
    loss -= std::log(static_cast<double>(probabilities[label]));
    correct += std::max_element(probabilities, probabilities + 3) - probabilities == label;
  }
  const PartMetrics evaluated = classifier.trainer.evaluate(dev.view());
  EXPECT_NEAR(loss / dev.rows, evaluated.loss, 1e-5);
  EXPECT_EQ(static_cast<double>(correct) / dev.rows, evaluated.accuracy.value());
  EXPECT_GT(evaluated.accuracy.value(), 0.9);
}

// model.h promises bit for bit what the trainer's network predicted. For a regression the
// trainer's loss is a plain function of the outputs: the mean over rows of the mean squared
// error over units, each error taken in float and squared and summed in double in row
// order. Computed the same way from the Model's outputs it must come out identical.
// (200 rows: one inference pass in both.)
TEST(Model, PredictsBitForBitWhatTheTrainerEvaluated) {
  Rng rng(54);
  Dataset train;
  train.rows = 200;
  train.features = 3;
  train.targets = 2;
  for (int64_t row = 0; row < train.rows; ++row) {
    double total = 0.0;
    for (int feature = 0; feature < 3; ++feature) {
      const double value = 5.0 + 2.0 * rng.normal();
      train.x.push_back(static_cast<float>(value));
      total += value;
    }
    train.y.push_back(static_cast<float>(std::sin(total)));
    train.y.push_back(static_cast<float>(total / 10));
  }
  Trainer trainer(network(3, {layer(8, Activation::kTanh, true), layer(2, Activation::kLinear)},
                          Loss::kMeanSquaredError),
                  training(OptimizerType::kAdam, 0.01, 32, 5), train.view(), DataView{});
  for (int epoch = 0; epoch < 3; ++epoch) trainer.runEpoch();
  Model model(trainer.model());
  const std::vector<float> outputs = predictAll(model, train);
  double loss = 0.0;
  for (int64_t row = 0; row < train.rows; ++row) {
    double total = 0.0;
    for (int unit = 0; unit < 2; ++unit) {
      const double error = outputs[row * 2 + unit] - train.y[row * 2 + unit];
      total += error * error;
    }
    loss += total / 2;
  }
  EXPECT_EQ(loss / train.rows, trainer.evaluate(train.view()).loss);
}

TEST(Model, SoftmaxProbabilitiesSumToOnePerRow) {
  TrainedClassifier classifier;
  Model model(classifier.trainer.model());
  const std::vector<float> outputs = predictAll(model, classifier.dev);
  for (int64_t row = 0; row < classifier.dev.rows; ++row) {
    double total = 0.0;
    for (int unit = 0; unit < 3; ++unit) {
      const float probability = outputs[row * 3 + unit];
      ASSERT_GE(probability, 0.0f);
      ASSERT_LE(probability, 1.0f);
      total += probability;
    }
    ASSERT_NEAR(total, 1.0, 1e-6) << "row " << row;
  }
}

TEST(Model, SigmoidOutputsAreProbabilities) {
  const Dataset train = testkit::gaussianBlobs(2, 100, 53);
  Trainer trainer(network(2, {layer(4, Activation::kTanh), layer(1, Activation::kSigmoid)},
                          Loss::kBinaryCrossEntropy),
                  training(OptimizerType::kAdam, 0.05, 16, 4), train.view(), DataView{});
  trainer.runEpoch();
  Model model(trainer.model());
  for (const float probability : predictAll(model, train)) {
    ASSERT_GT(probability, 0.0f);
    ASSERT_LT(probability, 1.0f);
  }
}

// At inference batch norm uses running statistics, so a row's output must not depend on
// the other rows predicted with it. BLAS may round a one-row product differently from a
// many-row one, hence a tolerance rather than equality.
TEST(Model, PredictsEachRowIndependentlyOfItsBatch) {
  TrainedClassifier classifier;
  Model model(classifier.trainer.model());
  const Dataset& dev = classifier.dev;
  const std::vector<float> together = predictAll(model, dev);
  for (int64_t row = 0; row < dev.rows; row += 37) {
    float alone[3];
    model.predict(dev.x.data() + row * dev.features, 1, alone);
    for (int unit = 0; unit < 3; ++unit)
      EXPECT_NEAR(alone[unit], together[row * 3 + unit], 1e-6) << "row " << row;
  }
}

TEST(Model, KeepsTheStateItWasBuiltFrom) {
  TrainedClassifier classifier;
  const ModelState state = classifier.trainer.model();
  Model model(state);
  EXPECT_EQ(model.state().shift, state.shift);
  EXPECT_EQ(model.state().scale, state.scale);
  ASSERT_EQ(model.state().layers.size(), state.layers.size());
  for (size_t index = 0; index < state.layers.size(); ++index) {
    EXPECT_EQ(model.state().layers[index].weight, state.layers[index].weight);
    EXPECT_EQ(model.state().layers[index].runningVar, state.layers[index].runningVar);
  }
}

struct BrokenModel {
  std::string name;
  std::function<void(ModelState&)> breakIt;
  const char* code;
};

void PrintTo(const BrokenModel& broken, std::ostream* out) { *out << broken.name; }

class ModelValidation : public ::testing::TestWithParam<BrokenModel> {};

TEST_P(ModelValidation, RejectsParametersThatDoNotFitTheArchitecture) {
  TrainedClassifier classifier;
  ModelState state = classifier.trainer.model();
  EXPECT_EQ(errorCode([&] { validateModel(state); }), "");
  GetParam().breakIt(state);
  EXPECT_EQ(errorCode([&] { validateModel(state); }), GetParam().code);
  EXPECT_EQ(errorCode([&] { Model model(state); }), GetParam().code);
}

// Layer 0 has batch norm (no bias); layer 1 is the softmax output (a bias, no batch norm).
INSTANTIATE_TEST_SUITE_P(
    Breakages, ModelValidation,
    ::testing::Values(
        BrokenModel{"WeightOneShort", [](ModelState& state) { state.layers[1].weight.pop_back(); },
                    codes::kShapeMismatch},
        BrokenModel{"OutputWithoutBias", [](ModelState& state) { state.layers[1].bias.clear(); },
                    codes::kShapeMismatch},
        BrokenModel{"BiasBesideBatchNorm",
                    [](ModelState& state) { state.layers[0].bias.assign(12, 0.0f); },
                    codes::kShapeMismatch},
        BrokenModel{"RunningVarianceMissing",
                    [](ModelState& state) { state.layers[0].runningVar.clear(); },
                    codes::kShapeMismatch},
        BrokenModel{"GammaTooLong",
                    [](ModelState& state) { state.layers[0].gamma.push_back(1.0f); },
                    codes::kShapeMismatch},
        BrokenModel{"LayerMissing", [](ModelState& state) { state.layers.pop_back(); },
                    codes::kShapeMismatch},
        BrokenModel{"ShiftForAnotherInputCount",
                    [](ModelState& state) { state.shift.push_back(0.0f); }, codes::kShapeMismatch},
        BrokenModel{"ZeroScale", [](ModelState& state) { state.scale[1] = 0.0f; },
                    codes::kInvalidSpec},
        BrokenModel{"InvalidArchitecture",
                    [](ModelState& state) { state.network.layers[0].units = 0; },
                    codes::kInvalidSpec}),
    testkit::caseName<BrokenModel>);

}  // namespace
}  // namespace caviar
