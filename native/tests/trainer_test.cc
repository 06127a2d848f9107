// Training (trainer.h): small seeded runs learn, repeat bit for bit, resume from
// checkpoints bit for bit, and every way a run can go wrong ends in an Error with its code.
#include "trainer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <new>
#include <functional>
#include <limits>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "crc32c.h"
#include "error.h"
#include "schedule.h"
#include "testkit.h"

// Every allocation from the C++ heap is counted, for the test that an epoch makes none but
// its report's.
namespace {
std::atomic<int64_t> heapAllocations{0};
}  // namespace

void* operator new(std::size_t size) {
  heapAllocations.fetch_add(1, std::memory_order_relaxed);
  if (void* memory = std::malloc(size == 0 ? 1 : size)) return memory;
  throw std::bad_alloc();
}
void operator delete(void* memory) noexcept { std::free(memory); }
void operator delete(void* memory, std::size_t) noexcept { std::free(memory); }

namespace caviar {
namespace {

using testkit::Dataset;
using testkit::errorCode;
using testkit::layer;
using testkit::network;
using testkit::training;

const DataView kNoDev{};

// Every float a model holds (parameters and batch-norm running statistics), in order.
std::vector<float> allValues(const ModelState& model) {
  std::vector<float> values;
  for (const LayerParameters& entry : model.layers) {
    for (const auto* part : {&entry.weight, &entry.bias, &entry.gamma, &entry.beta,
                             &entry.runningMean, &entry.runningVar})
      values.insert(values.end(), part->begin(), part->end());
  }
  return values;
}

bool bitIdentical(const std::vector<float>& first, const std::vector<float>& second) {
  return first.size() == second.size() &&
         std::memcmp(first.data(), second.data(), first.size() * sizeof(float)) == 0;
}

std::vector<EpochMetrics> trainEpochs(Trainer& trainer, int epochs) {
  std::vector<EpochMetrics> history;
  for (int epoch = 0; epoch < epochs; ++epoch) history.push_back(trainer.runEpoch());
  return history;
}

// A network, its training, and the data it learns from.
struct Scenario {
  std::string name;
  NetworkSpec network;
  TrainingSpec training;
  Dataset train;
  Dataset dev;

  std::unique_ptr<Trainer> makeTrainer() const {
    return std::make_unique<Trainer>(network, training, train.view(), dev.view());
  }
};

void PrintTo(const Scenario& scenario, std::ostream* out) { *out << scenario.name; }

// Three blobs, two hidden layers with batch norm and dropout, Adam with L2 and decay:
// every piece of state a checkpoint must carry.
Scenario adamBatchNormDropout() {
  TrainingSpec spec = training(OptimizerType::kAdam, 0.01, 32, 11);
  spec.l2 = 0.01;
  spec.decay.type = DecayType::kInverseTime;
  spec.decay.rate = 0.1;
  return {"AdamBatchNormDropout",
          network(2,
                  {layer(16, Activation::kRelu, true, 0.2f), layer(8, Activation::kTanh, true),
                   layer(3, Activation::kSoftmax)},
                  Loss::kCrossEntropy),
          spec, testkit::gaussianBlobs(3, 200, 1), testkit::gaussianBlobs(3, 60, 2)};
}

Scenario momentumBinary() {
  return {"MomentumBinary",
          network(2, {layer(8, Activation::kTanh), layer(1, Activation::kSigmoid)},
                  Loss::kBinaryCrossEntropy, Init::kXavier),
          training(OptimizerType::kMomentum, 0.1, 50, 12), testkit::xorQuadrants(150, 3),
          testkit::xorQuadrants(50, 4)};
}

// Plain SGD keeps no moments and no running statistics: empty blocks in the checkpoint.
Scenario sgdRegressionInOrder() {
  TrainingSpec spec = training(OptimizerType::kSgd, 0.05, 16, 13);
  spec.shuffle = false;
  return {"SgdRegressionInOrder",
          network(2, {layer(6, Activation::kLeakyRelu), layer(1, Activation::kLinear)},
                  Loss::kMeanSquaredError),
          spec, testkit::xorQuadrants(100, 5), Dataset{}};
}

std::vector<Scenario> scenarios() {
  return {adamBatchNormDropout(), momentumBinary(), sgdRegressionInOrder()};
}

TEST(Trainer, LearnsXorWithOneHiddenLayer) {
  const Dataset train = testkit::xorQuadrants(400, 21);
  const Dataset dev = testkit::xorQuadrants(200, 22);
  Trainer trainer(network(2, {layer(16, Activation::kTanh), layer(1, Activation::kSigmoid)},
                          Loss::kBinaryCrossEntropy, Init::kXavier),
                  training(OptimizerType::kAdam, 0.02, 32, 1), train.view(), dev.view());
  const std::vector<EpochMetrics> history = trainEpochs(trainer, 60);
  EXPECT_LT(history.back().train.loss, history.front().train.loss / 2);
  ASSERT_TRUE(history.back().dev.has_value());
  EXPECT_GE(history.back().dev->accuracy.value(), 0.92);
}

class TrainsWithoutHiddenLayers : public ::testing::TestWithParam<Scenario> {};

TEST_P(TrainsWithoutHiddenLayers, ReachesHighAccuracyOnBlobs) {
  const auto trainer = GetParam().makeTrainer();
  const std::vector<EpochMetrics> history = trainEpochs(*trainer, 20);
  EXPECT_LT(history.back().train.loss, history.front().train.loss);
  EXPECT_GE(history.back().dev->accuracy.value(), 0.95);
}

INSTANTIATE_TEST_SUITE_P(
    Regressions, TrainsWithoutHiddenLayers,
    ::testing::Values(
        Scenario{"SoftmaxRegression",
                 network(2, {layer(3, Activation::kSoftmax)}, Loss::kCrossEntropy),
                 training(OptimizerType::kAdam, 0.05, 32, 1), testkit::gaussianBlobs(3, 300, 31),
                 testkit::gaussianBlobs(3, 90, 32)},
        Scenario{"LogisticRegression",
                 network(2, {layer(1, Activation::kSigmoid)}, Loss::kBinaryCrossEntropy),
                 training(OptimizerType::kAdam, 0.05, 32, 1), testkit::gaussianBlobs(2, 200, 33),
                 testkit::gaussianBlobs(2, 60, 34)}),
    testkit::caseName<Scenario>);

TEST(Trainer, LearnsWithBatchNormAndDropout) {
  const Dataset train = testkit::xorQuadrants(400, 41);
  const Dataset dev = testkit::xorQuadrants(200, 42);
  Trainer trainer(network(2,
                          {layer(32, Activation::kRelu, true, 0.2f),
                           layer(16, Activation::kRelu, true, 0.1f),
                           layer(1, Activation::kSigmoid)},
                          Loss::kBinaryCrossEntropy),
                  training(OptimizerType::kAdam, 0.01, 32, 2), train.view(), dev.view());
  const std::vector<EpochMetrics> history = trainEpochs(trainer, 40);
  EXPECT_LT(history.back().train.loss, history.front().train.loss);
  EXPECT_GE(history.back().dev->accuracy.value(), 0.9);
}

class Determinism : public ::testing::TestWithParam<Scenario> {};

TEST_P(Determinism, SameSeedGivesBitIdenticalParameters) {
  const Scenario& scenario = GetParam();
  const auto first = scenario.makeTrainer();
  const auto second = scenario.makeTrainer();
  const std::vector<EpochMetrics> firstHistory = trainEpochs(*first, 3);
  const std::vector<EpochMetrics> secondHistory = trainEpochs(*second, 3);
  EXPECT_TRUE(bitIdentical(allValues(first->model()), allValues(second->model())));
  for (size_t epoch = 0; epoch < firstHistory.size(); ++epoch)
    EXPECT_EQ(firstHistory[epoch].train.loss, secondHistory[epoch].train.loss);
}

TEST_P(Determinism, AnotherSeedGivesOtherParameters) {
  Scenario other = GetParam();
  other.training.seed += 1;
  const auto first = GetParam().makeTrainer();
  const auto second = other.makeTrainer();
  trainEpochs(*first, 1);
  trainEpochs(*second, 1);
  EXPECT_FALSE(bitIdentical(allValues(first->model()), allValues(second->model())));
}

INSTANTIATE_TEST_SUITE_P(Scenarios, Determinism, ::testing::ValuesIn(scenarios()),
                         testkit::caseName<Scenario>);

class Checkpoint : public ::testing::TestWithParam<Scenario> {};

// Epochs 1-10 in one trainer, against 1-5, a checkpoint, and 6-10 in a new trainer. The
// rate is changed by hand after epoch 3 in both, so the restarted schedule travels too.
TEST_P(Checkpoint, ResumedTrainingEqualsUninterruptedTrainingBitForBit) {
  const Scenario& scenario = GetParam();
  auto trainWithManualRate = [](Trainer& trainer, int from, int to) {
    std::vector<EpochMetrics> history;
    for (int epoch = from; epoch < to; ++epoch) {
      if (epoch == 3) trainer.setLearningRate(trainer.nextLearningRate() / 2);
      history.push_back(trainer.runEpoch());
    }
    return history;
  };
  const auto straight = scenario.makeTrainer();
  const std::vector<EpochMetrics> expected = trainWithManualRate(*straight, 0, 10);

  std::vector<uint8_t> bytes;
  {
    const auto first = scenario.makeTrainer();
    trainWithManualRate(*first, 0, 5);
    bytes = first->checkpoint();
  }
  const auto resumed = scenario.makeTrainer();
  resumed->restore(bytes.data(), bytes.size());
  EXPECT_EQ(resumed->epochsDone(), 5);
  const std::vector<EpochMetrics> rest = trainWithManualRate(*resumed, 5, 10);

  EXPECT_TRUE(bitIdentical(allValues(resumed->model()), allValues(straight->model())));
  EXPECT_EQ(resumed->epochsDone(), 10);
  EXPECT_EQ(resumed->nextLearningRate(), straight->nextLearningRate());
  for (size_t index = 0; index < rest.size(); ++index) {
    const EpochMetrics& want = expected[index + 5];
    EXPECT_EQ(rest[index].epoch, want.epoch);
    EXPECT_EQ(rest[index].learningRate, want.learningRate);
    EXPECT_EQ(rest[index].train.loss, want.train.loss) << "epoch " << want.epoch;
  }
}

INSTANTIATE_TEST_SUITE_P(Scenarios, Checkpoint, ::testing::ValuesIn(scenarios()),
                         testkit::caseName<Scenario>);

struct DecayCase {
  std::string name;
  DecaySpec decay;
};

void PrintTo(const DecayCase& decay, std::ostream* out) { *out << decay.name; }

DecaySpec decayOf(DecayType type, double rate, int interval = 1, double floor = 0.0,
                  int period = 1) {
  DecaySpec decay;
  decay.type = type;
  decay.rate = rate;
  decay.interval = interval;
  decay.floor = floor;
  decay.period = period;
  return decay;
}

class RateChangeUnderDecay : public ::testing::TestWithParam<DecayCase> {};

// Ten epochs with a rate set by hand before epoch 5, straight through and with a
// checkpoint and a fresh trainer after epoch 7. The epoch after the change trains at
// exactly the new rate and the schedule runs from it as from its first epoch (before it,
// as the spec says); the resumed run goes on as the uninterrupted one, bit for bit.
TEST_P(RateChangeUnderDecay, RestartsTheScheduleAtTheNewRateAndCheckpointsIt) {
  Scenario scenario = momentumBinary();
  scenario.training.decay = GetParam().decay;
  const DecaySpec& decay = scenario.training.decay;
  constexpr int kChangeAt = 4;
  constexpr double kChanged = 0.037;
  auto train = [&](Trainer& trainer, int from, int to) {
    std::vector<EpochMetrics> history;
    for (int epoch = from; epoch < to; ++epoch) {
      if (epoch == kChangeAt) trainer.setLearningRate(kChanged);
      history.push_back(trainer.runEpoch());
    }
    return history;
  };
  const auto straight = scenario.makeTrainer();
  const std::vector<EpochMetrics> expected = train(*straight, 0, 10);
  const double first = firstLearningRate(decay, scenario.training.optimizer.learningRate);
  for (int epoch = 0; epoch < 10; ++epoch) {
    const double rate = epoch < kChangeAt ? scheduledLearningRate(decay, first, epoch)
                                          : scheduledLearningRate(decay, kChanged, epoch - kChangeAt);
    EXPECT_EQ(expected[epoch].learningRate, rate) << "epoch " << epoch + 1;
  }
  EXPECT_EQ(expected[kChangeAt].learningRate, kChanged);

  std::vector<uint8_t> bytes;
  {
    const auto paused = scenario.makeTrainer();
    train(*paused, 0, 7);
    bytes = paused->checkpoint();
  }
  const auto resumed = scenario.makeTrainer();
  resumed->restore(bytes.data(), bytes.size());
  const std::vector<EpochMetrics> rest = train(*resumed, 7, 10);
  for (size_t index = 0; index < rest.size(); ++index) {
    EXPECT_EQ(rest[index].learningRate, expected[index + 7].learningRate) << "epoch " << index + 8;
    EXPECT_EQ(rest[index].train.loss, expected[index + 7].train.loss) << "epoch " << index + 8;
  }
  EXPECT_TRUE(bitIdentical(allValues(resumed->model()), allValues(straight->model())));
}

INSTANTIATE_TEST_SUITE_P(
    Decays, RateChangeUnderDecay,
    ::testing::Values(DecayCase{"None", decayOf(DecayType::kNone, 1.0)},
                      DecayCase{"InverseTime", decayOf(DecayType::kInverseTime, 0.5)},
                      DecayCase{"Staircase", decayOf(DecayType::kStaircase, 1.0, 2)},
                      DecayCase{"Exponential", decayOf(DecayType::kExponential, 0.9)},
                      DecayCase{"Sqrt", decayOf(DecayType::kSqrt, 0.5)},
                      DecayCase{"Step", decayOf(DecayType::kStep, 0.5, 3)},
                      DecayCase{"Cosine", decayOf(DecayType::kCosine, 1.0, 1, 0.013, 6)}),
    testkit::caseName<DecayCase>);

constexpr size_t kChecksumBytes = 4;

// Version 3 is version 2 followed by its checksum: `bytes` (version 3) as version 2 wrote them.
std::vector<uint8_t> asVersion2(std::vector<uint8_t> bytes) {
  bytes.resize(bytes.size() - kChecksumBytes);
  const uint32_t version = 2;
  std::memcpy(bytes.data() + 8, &version, sizeof version);
  return bytes;
}

// `bytes` (version 3) under another version number, with the checksum that goes with it:
// what a later build might write.
std::vector<uint8_t> withVersion(std::vector<uint8_t> bytes, uint32_t version) {
  bytes.resize(bytes.size() - kChecksumBytes);
  std::memcpy(bytes.data() + 8, &version, sizeof version);
  const uint32_t checksum = crc32c(bytes.data(), bytes.size());
  for (size_t index = 0; index < kChecksumBytes; ++index)
    bytes.push_back(static_cast<uint8_t>(checksum >> (8 * index)));
  return bytes;
}

// Version 1 kept the base rate of the schedule's formula where version 2 keeps its first
// epoch's rate: `bytes` (version 3) rewritten as version 1 would have written them.
std::vector<uint8_t> asVersion1(std::vector<uint8_t> bytes, double baseRate) {
  bytes = asVersion2(std::move(bytes));
  const uint32_t version = 1;
  std::memcpy(bytes.data() + 8, &version, sizeof version);
  uint64_t fingerprint = 0;  // after the magic, the version and the byte-order mark
  std::memcpy(&fingerprint, bytes.data() + 16, sizeof fingerprint);
  const size_t rate = 16 + sizeof fingerprint + fingerprint + sizeof(int32_t);  // after epochsDone
  std::memcpy(bytes.data() + rate, &baseRate, sizeof baseRate);
  return bytes;
}

// A job checkpointed by the previous build resumes as that build would have gone on: with
// sqrt decay, version 1's base rate lr0 means a first epoch at lr0 * rate.
TEST(Trainer, RestoresAVersion1CheckpointAsItsWriterWouldHaveGoneOn) {
  Scenario scenario = momentumBinary();
  scenario.training.decay = decayOf(DecayType::kSqrt, 0.5);
  const auto straight = scenario.makeTrainer();
  trainEpochs(*straight, 3);
  const std::vector<uint8_t> old =
      asVersion1(straight->checkpoint(), scenario.training.optimizer.learningRate);
  const auto resumed = scenario.makeTrainer();
  resumed->restore(old.data(), old.size());
  EXPECT_EQ(resumed->nextLearningRate(), 0.1 * 0.5 / std::sqrt(4.0));
  const std::vector<EpochMetrics> expected = trainEpochs(*straight, 3);
  const std::vector<EpochMetrics> rest = trainEpochs(*resumed, 3);
  for (size_t index = 0; index < rest.size(); ++index) {
    EXPECT_EQ(rest[index].learningRate, expected[index].learningRate);
    EXPECT_EQ(rest[index].train.loss, expected[index].train.loss);
  }
}

// A job checkpointed by the build before checksums resumes as that build would have gone
// on, and its next checkpoint is of the current version.
TEST(Trainer, RestoresAVersion2CheckpointWhichHasNoChecksum) {
  const Scenario scenario = adamBatchNormDropout();
  const auto straight = scenario.makeTrainer();
  trainEpochs(*straight, 3);
  const std::vector<uint8_t> old = asVersion2(straight->checkpoint());
  const auto resumed = scenario.makeTrainer();
  resumed->restore(old.data(), old.size());
  EXPECT_EQ(resumed->epochsDone(), 3);
  const std::vector<EpochMetrics> expected = trainEpochs(*straight, 3);
  const std::vector<EpochMetrics> rest = trainEpochs(*resumed, 3);
  for (size_t index = 0; index < rest.size(); ++index)
    EXPECT_EQ(rest[index].train.loss, expected[index].train.loss) << "epoch " << index + 4;
  EXPECT_TRUE(bitIdentical(allValues(resumed->model()), allValues(straight->model())));
  EXPECT_EQ(resumed->checkpoint(), straight->checkpoint());
}

// Every bit counts, the magic's and the version's too: a checkpoint with any one bit
// flipped is reported as damaged, none is read, and the trainer is left as it was.
TEST(Trainer, RestoreRefusesACheckpointWithAnyOneBitFlipped) {
  const Scenario scenario = adamBatchNormDropout();
  const auto source = scenario.makeTrainer();
  trainEpochs(*source, 1);
  const std::vector<uint8_t> valid = source->checkpoint();
  const auto target = scenario.makeTrainer();
  trainEpochs(*target, 2);
  const std::vector<float> before = allValues(target->model());

  std::vector<uint8_t> damaged = valid;
  std::vector<std::string> missed;
  for (size_t bit = 0; bit < valid.size() * 8; ++bit) {
    damaged[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
    const std::string code = errorCode([&] { target->restore(damaged.data(), damaged.size()); });
    damaged[bit / 8] = valid[bit / 8];
    if (code != codes::kCheckpointCorrupt)
      missed.push_back("bit " + std::to_string(bit) + ": " + (code.empty() ? "restored" : code));
  }
  EXPECT_TRUE(missed.empty()) << missed.size() << " of " << valid.size() * 8
                              << " flips not reported, the first: " << missed.front();
  EXPECT_EQ(target->epochsDone(), 2);
  EXPECT_TRUE(bitIdentical(allValues(target->model()), before));
}

// Damage other than a flip: bytes cut off or added, eight bytes overwritten, all of them.
TEST(Trainer, RestoreRefusesACheckpointCutShortLengthenedOrOverwritten) {
  const Scenario scenario = adamBatchNormDropout();
  const auto source = scenario.makeTrainer();
  trainEpochs(*source, 1);
  const std::vector<uint8_t> valid = source->checkpoint();

  std::vector<uint8_t> xored = valid;
  for (size_t index = valid.size() / 2; index < valid.size() / 2 + 8; ++index) xored[index] ^= 0x5A;
  Rng rng(6);
  std::vector<uint8_t> garbage(valid.size());
  for (uint8_t& byte : garbage) byte = static_cast<uint8_t>(rng.below(256));
  std::vector<uint8_t> lengthened = valid;
  lengthened.push_back(0);
  struct Damaged {
    std::string name;
    std::vector<uint8_t> bytes;
  };
  const std::vector<Damaged> cases = {
      {"last byte cut off", std::vector<uint8_t>(valid.begin(), valid.end() - 1)},
      {"cut in half", std::vector<uint8_t>(valid.begin(), valid.begin() + valid.size() / 2)},
      {"a byte added", lengthened},
      {"eight bytes XORed", xored},
      {"every byte overwritten", garbage}};
  const auto target = scenario.makeTrainer();
  trainEpochs(*target, 2);
  const std::vector<float> before = allValues(target->model());
  for (const Damaged& damaged : cases) {
    EXPECT_EQ(errorCode([&] { target->restore(damaged.bytes.data(), damaged.bytes.size()); }),
              codes::kCheckpointCorrupt)
        << damaged.name;
    EXPECT_EQ(target->epochsDone(), 2) << damaged.name;
    EXPECT_TRUE(bitIdentical(allValues(target->model()), before)) << damaged.name;
  }
}

TEST(Trainer, RestoreRejectsWhatIsNotThisNetworksCheckpoint) {
  const Scenario scenario = adamBatchNormDropout();
  const auto source = scenario.makeTrainer();
  trainEpochs(*source, 1);
  const std::vector<uint8_t> valid = source->checkpoint();

  Scenario wider = scenario;
  wider.network.layers[0].units = 17;
  Scenario otherOptimizer = scenario;
  otherOptimizer.training.optimizer.type = OptimizerType::kAdamW;
  Scenario otherData = scenario;
  otherData.train = testkit::gaussianBlobs(3, 200, 99);
  auto checkpointOf = [](const Scenario& other) {
    const auto trainer = other.makeTrainer();
    trainEpochs(*trainer, 1);
    return trainer->checkpoint();
  };
  // Bytes of a checkpoint's length are checked as one (the test above): garbage of
  // another length is not a checkpoint at all.
  Rng rng(5);
  std::vector<uint8_t> garbage(valid.size() / 2);
  for (uint8_t& byte : garbage) byte = static_cast<uint8_t>(rng.below(256));
  const std::vector<uint8_t> version2 = asVersion2(valid);

  struct Rejected {
    std::string name;
    std::vector<uint8_t> bytes;
  };
  const std::vector<Rejected> cases = {{"empty", {}},
                                       {"garbage", garbage},
                                       {"a later version", withVersion(valid, 4)},
                                       // Without a checksum, damage is only what the lengths show.
                                       {"version 2, truncated", {version2.begin(), version2.end() - 1}},
                                       {"version 2, a trailing byte", [&] {
                                          std::vector<uint8_t> bytes = version2;
                                          bytes.push_back(0);
                                          return bytes;
                                        }()},
                                       {"other architecture", checkpointOf(wider)},
                                       {"other optimizer", checkpointOf(otherOptimizer)},
                                       {"other training data", checkpointOf(otherData)}};
  const auto target = scenario.makeTrainer();
  trainEpochs(*target, 2);
  const std::vector<float> before = allValues(target->model());
  for (const Rejected& rejected : cases) {
    EXPECT_EQ(errorCode([&] { target->restore(rejected.bytes.data(), rejected.bytes.size()); }),
              codes::kInvalidCheckpoint)
        << rejected.name;
    // A rejected checkpoint changes nothing.
    EXPECT_EQ(target->epochsDone(), 2) << rejected.name;
    EXPECT_TRUE(bitIdentical(allValues(target->model()), before)) << rejected.name;
  }
}

TEST(Trainer, HugeLearningRateThrowsDivergedNamingTheEpoch) {
  Scenario scenario = sgdRegressionInOrder();
  scenario.training.optimizer.learningRate = 1e12;
  const auto trainer = scenario.makeTrainer();
  std::vector<float> before;
  try {
    for (int epoch = 0; epoch < 5; ++epoch) {
      before = allValues(trainer->model());
      trainer->runEpoch();
    }
    FAIL() << "five epochs at a learning rate of 1e12 did not diverge";
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), codes::kDiverged);
    EXPECT_NE(std::string(error.what()).find("epoch " + std::to_string(trainer->epochsDone() + 1)),
              std::string::npos)
        << error.what();
  }
  // The diverged epoch leaves no trace: the job can be checkpointed at its last good state.
  EXPECT_TRUE(bitIdentical(allValues(trainer->model()), before));
}

// Full-batch at a huge rate, the cost of epoch 2 is still finite (about 1e46, in double)
// while its update overflows the float weights. That epoch must not end as a success
// holding non-finite parameters: its checkpoint would be the state a diverged job keeps.
TEST(Trainer, NoEpochEndsWithNonFiniteParameters) {
  Scenario scenario = sgdRegressionInOrder();
  scenario.training.optimizer.learningRate = 1e12;
  scenario.training.batchSize = 1000;
  const auto trainer = scenario.makeTrainer();
  auto finite = [&] {
    const std::vector<float> values = allValues(trainer->model());
    return std::all_of(values.begin(), values.end(),
                       [](float value) { return std::isfinite(value); });
  };
  for (int epoch = 1; epoch <= 5; ++epoch) {
    const std::string code = errorCode([&] { trainer->runEpoch(); });
    ASSERT_TRUE(finite()) << "after epoch " << epoch << (code.empty() ? "" : ", which threw ")
                          << code;
    if (!code.empty()) {
      EXPECT_EQ(code, codes::kDiverged);
      return;
    }
  }
  FAIL() << "five full-batch epochs at a learning rate of 1e12 did not diverge";
}

// The flag is read before the first mini-batch, after the epoch's shuffle has drawn from
// its generator: that draw must be undone too, or the next epoch would differ from a
// fresh trainer's first.
TEST(Trainer, CancelledEpochLeavesTheTrainerAsItWas) {
  const Scenario scenario = adamBatchNormDropout();
  const auto trainer = scenario.makeTrainer();
  const std::vector<float> before = allValues(trainer->model());
  std::atomic<bool> cancel{true};
  EXPECT_EQ(errorCode([&] { trainer->runEpoch(&cancel); }), codes::kCancelled);
  EXPECT_EQ(trainer->epochsDone(), 0);
  EXPECT_TRUE(bitIdentical(allValues(trainer->model()), before));

  cancel = false;
  const EpochMetrics afterCancel = trainer->runEpoch(&cancel);
  const auto fresh = scenario.makeTrainer();
  const EpochMetrics uncancelled = fresh->runEpoch();
  EXPECT_EQ(afterCancel.epoch, 1);
  EXPECT_EQ(afterCancel.train.loss, uncancelled.train.loss);
  EXPECT_TRUE(bitIdentical(allValues(trainer->model()), allValues(fresh->model())));
}

TEST(Trainer, EpochsFollowTheDecaySchedule) {
  Scenario scenario = momentumBinary();
  scenario.training.decay.type = DecayType::kStep;
  scenario.training.decay.rate = 0.5;
  scenario.training.decay.interval = 2;
  const auto trainer = scenario.makeTrainer();
  for (int epoch = 0; epoch < 5; ++epoch) {
    const double expected = scheduledLearningRate(scenario.training.decay, 0.1, epoch);
    EXPECT_EQ(trainer->nextLearningRate(), expected);
    EXPECT_EQ(trainer->runEpoch().learningRate, expected) << "epoch " << epoch + 1;
  }
}

TEST(Trainer, SetLearningRateAppliesFromTheNextEpochAndRestartsTheSchedule) {
  Scenario scenario = momentumBinary();
  scenario.training.decay.type = DecayType::kInverseTime;
  scenario.training.decay.rate = 1.0;
  const auto trainer = scenario.makeTrainer();
  EXPECT_EQ(trainer->runEpoch().learningRate, 0.1);
  EXPECT_EQ(trainer->runEpoch().learningRate, 0.05);
  trainer->setLearningRate(0.02);
  EXPECT_EQ(trainer->nextLearningRate(), 0.02);
  EXPECT_EQ(trainer->runEpoch().learningRate, 0.02);
  EXPECT_EQ(trainer->runEpoch().learningRate, 0.01);
  for (const double invalid : {0.0, -1.0, std::numeric_limits<double>::quiet_NaN(),
                               std::numeric_limits<double>::infinity()}) {
    EXPECT_EQ(errorCode([&] { trainer->setLearningRate(invalid); }), codes::kInvalidSpec)
        << invalid;
  }
  // The refused rates left the schedule alone: inverse time from 0.02, two epochs on.
  EXPECT_EQ(trainer->nextLearningRate(), 0.02 / 3);
}

// The session hands a rate change to the epoch that applies it; an epoch that fails
// leaves the schedule as it was, so the change can be applied again.
TEST(Trainer, AnEpochGivenANewRateRestartsTheScheduleUnlessItFails) {
  Scenario scenario = momentumBinary();
  scenario.training.decay.type = DecayType::kInverseTime;
  scenario.training.decay.rate = 1.0;
  const auto trainer = scenario.makeTrainer();
  EXPECT_EQ(trainer->runEpoch().learningRate, 0.1);
  const std::atomic<bool> cancel{true};
  EXPECT_EQ(errorCode([&] { trainer->runEpoch(&cancel, 0.02); }), codes::kCancelled);
  EXPECT_EQ(trainer->nextLearningRate(), 0.05);
  EXPECT_EQ(errorCode([&] { trainer->runEpoch(nullptr, -1.0); }), codes::kInvalidSpec);
  EXPECT_EQ(trainer->runEpoch(nullptr, 0.02).learningRate, 0.02);
  EXPECT_EQ(trainer->runEpoch().learningRate, 0.01);
}

// A job spec's defaults are the TypeScript face's alone: a spec the caller left unset is
// refused, never trained with values of the engine's own.
TEST(Trainer, HasNoDefaultsOfItsOwn) {
  const Scenario scenario = momentumBinary();
  EXPECT_EQ(errorCode([&] { Trainer(scenario.network, TrainingSpec{}, scenario.train.view(), kNoDev); }),
            codes::kInvalidSpec);
  TrainingSpec noOptimizer = scenario.training;
  noOptimizer.optimizer = OptimizerSpec{};
  EXPECT_EQ(errorCode([&] { Trainer(scenario.network, noOptimizer, scenario.train.view(), kNoDev); }),
            codes::kInvalidSpec);
  TrainingSpec noDecay = scenario.training;
  noDecay.decay = DecaySpec{};
  EXPECT_EQ(errorCode([&] { Trainer(scenario.network, noDecay, scenario.train.view(), kNoDev); }),
            codes::kInvalidSpec);
  NetworkSpec normal = scenario.network;
  normal.init = Init::kNormal;
  EXPECT_EQ(errorCode([&] { Trainer(normal, scenario.training, scenario.train.view(), kNoDev); }),
            codes::kInvalidSpec);
}

// Class weights enter the cost each mini-batch minimizes (loss.h): weights of 1 train bit
// for bit as none, other weights train other parameters. The reported losses stay
// unweighted, so with weights of 1 they are the same numbers too.
TEST(Trainer, ClassWeightsChangeTrainingAndWeightsOfOneChangeNothing) {
  const Scenario scenario = momentumBinary();
  const auto trained = [&](const std::vector<float>& weights) {
    TrainingSpec spec = scenario.training;
    spec.classWeights = weights;
    Trainer trainer(scenario.network, spec, scenario.train.view(), scenario.dev.view());
    const std::vector<EpochMetrics> history = trainEpochs(trainer, 3);
    return std::make_pair(allValues(trainer.model()), history.back());
  };
  const auto [none, noneMetrics] = trained({});
  const auto [ones, onesMetrics] = trained({1.0f, 1.0f});
  const auto [skewed, skewedMetrics] = trained({1.0f, 5.0f});
  EXPECT_TRUE(bitIdentical(none, ones));
  EXPECT_EQ(noneMetrics.train.loss, onesMetrics.train.loss);
  EXPECT_EQ(noneMetrics.dev->loss, onesMetrics.dev->loss);
  EXPECT_FALSE(bitIdentical(none, skewed));
  EXPECT_NE(noneMetrics.train.loss, skewedMetrics.train.loss);
}

TEST(Trainer, RefusesClassWeightsThatDoNotFitTheNetwork) {
  const Scenario binary = momentumBinary();
  TrainingSpec three = binary.training;
  three.classWeights = {1.0f, 2.0f, 3.0f};
  EXPECT_EQ(errorCode([&] { Trainer(binary.network, three, binary.train.view(), kNoDev); }),
            codes::kInvalidSpec);
  const Scenario regression = sgdRegressionInOrder();
  TrainingSpec weighted = regression.training;
  weighted.classWeights = {1.0f, 2.0f};
  EXPECT_EQ(errorCode([&] { Trainer(regression.network, weighted, regression.train.view(), kNoDev); }),
            codes::kInvalidSpec);
}

// The buffers are sized once, with the network: an epoch (its rollback copy of the
// parameters, moments and running statistics, its rate change, its dev pass) allocates
// only the list of layer figures it reports. So does an epoch that is undone.
TEST(Trainer, AnEpochAllocatesNothingButItsReport) {
  const Scenario scenario = adamBatchNormDropout();
  const auto trainer = scenario.makeTrainer();
  const auto allocationsOf = [](auto&& action) {
    const int64_t before = heapAllocations.load();
    action();
    return heapAllocations.load() - before;
  };
  EXPECT_EQ(allocationsOf([&] { trainer->runEpoch(); }), 1);
  EXPECT_EQ(allocationsOf([&] { trainer->runEpoch(nullptr, 0.02); }), 1);
  const std::atomic<bool> cancel{true};
  EXPECT_THROW(trainer->runEpoch(&cancel), Error);
  EXPECT_EQ(allocationsOf([&] { trainer->runEpoch(); }), 1);
}

TEST(Trainer, EpochMetricsDescribeTheEpoch) {
  const Scenario classifier = adamBatchNormDropout();
  const auto trainer = classifier.makeTrainer();
  trainer->runEpoch();
  const EpochMetrics metrics = trainer->runEpoch();
  EXPECT_EQ(metrics.epoch, 2);
  EXPECT_GE(metrics.seconds, 0.0);
  EXPECT_GT(metrics.samplesPerSecond, 0.0);
  EXPECT_TRUE(metrics.train.accuracy.has_value());
  ASSERT_TRUE(metrics.dev.has_value());
  // The dev metrics are one inference pass over the dev part, normalized like the training
  // part: what evaluate() reports for the raw dev rows.
  const PartMetrics dev = trainer->evaluate(classifier.dev.view());
  EXPECT_DOUBLE_EQ(metrics.dev->loss, dev.loss);
  EXPECT_EQ(metrics.dev->accuracy, dev.accuracy);
  const ModelState model = trainer->model();
  ASSERT_EQ(metrics.layers.size(), classifier.network.layers.size());
  for (size_t index = 0; index < metrics.layers.size(); ++index) {
    double squares = 0.0;
    for (const float weight : model.layers[index].weight) squares += double{weight} * weight;
    EXPECT_NEAR(metrics.layers[index].weightNorm, std::sqrt(squares), 1e-6 * std::sqrt(squares))
        << "layer " << index;
    EXPECT_GT(metrics.layers[index].gradNorm, 0.0) << "layer " << index;
  }

  // A regression without a dev part: no accuracy, no dev metrics.
  const auto regression = sgdRegressionInOrder().makeTrainer();
  const EpochMetrics plain = regression->runEpoch();
  EXPECT_FALSE(plain.train.accuracy.has_value());
  EXPECT_FALSE(plain.dev.has_value());
}

// With one batch per epoch, the first epoch's training loss is the cost of the
// initialized network, which evaluate() computes in one pass.
TEST(Trainer, BatchAsLargeAsTheDataTrainsFullBatch) {
  Scenario scenario = momentumBinary();
  scenario.training.batchSize = 1000;
  const auto trainer = scenario.makeTrainer();
  const PartMetrics initial = trainer->evaluate(scenario.train.view());
  const std::vector<EpochMetrics> history = trainEpochs(*trainer, 30);
  EXPECT_NEAR(history.front().train.loss, initial.loss, 1e-6 * initial.loss);
  EXPECT_EQ(history.front().train.accuracy, initial.accuracy);
  EXPECT_LT(history.back().train.loss, history.front().train.loss);
}

// 101 rows in batches of 50 leave a last batch of one row. At a negligible learning rate
// the epoch's loss is the initial cost only if each batch counts by its rows: averaging
// the three batch means instead would give that one row a third of the weight.
TEST(Trainer, LastShortBatchCountsByItsRows) {
  Scenario scenario = momentumBinary();
  scenario.training = training(OptimizerType::kSgd, 1e-9, 50, 7);
  scenario.train = testkit::xorQuadrants(101, 8);
  const auto trainer = scenario.makeTrainer();
  const PartMetrics initial = trainer->evaluate(scenario.train.view());
  const EpochMetrics epoch = trainer->runEpoch();
  EXPECT_NEAR(epoch.train.loss, initial.loss, 1e-5 * initial.loss);
  EXPECT_EQ(epoch.train.accuracy, initial.accuracy);
}

TEST(Trainer, EvaluateRejectsDataThatDoesNotFit) {
  Scenario scenario = adamBatchNormDropout();
  const auto trainer = scenario.makeTrainer();
  Dataset wrong = testkit::gaussianBlobs(3, 10, 3);
  wrong.y[0] = 7.0f;
  EXPECT_EQ(errorCode([&] { trainer->evaluate(wrong.view()); }), codes::kInvalidData);
  wrong.features = 1;
  EXPECT_EQ(errorCode([&] { trainer->evaluate(wrong.view()); }), codes::kShapeMismatch);
}

// Batch statistics of a single row have zero variance; training must stay finite.
TEST(Trainer, BatchNormTrainsWithALastBatchOfOneRow) {
  Scenario scenario = adamBatchNormDropout();
  scenario.train = testkit::gaussianBlobs(3, 97, 9);
  scenario.training.batchSize = 32;
  const auto trainer = scenario.makeTrainer();
  for (const EpochMetrics& metrics : trainEpochs(*trainer, 3)) {
    EXPECT_TRUE(std::isfinite(metrics.train.loss));
    EXPECT_TRUE(std::isfinite(metrics.dev->loss));
  }
  for (const float value : allValues(trainer->model())) ASSERT_TRUE(std::isfinite(value));
}

// One full batch at a negligible learning rate: the batch statistics are those of
// Z = x' W^T for the model's own W and standardized inputs x'. Running averages follow
// PyTorch: running = 0.9 running + 0.1 batch, from mean 0 and variance 1, with the
// unbiased batch variance (divisor m - 1).
TEST(Trainer, BatchNormRunningStatisticsFollowPyTorch) {
  const Dataset train = testkit::gaussianBlobs(3, 20, 61);
  Trainer trainer(network(2, {layer(4, Activation::kRelu, true), layer(3, Activation::kSoftmax)},
                          Loss::kCrossEntropy),
                  training(OptimizerType::kSgd, 1e-9, 64, 6), train.view(), kNoDev);
  trainer.runEpoch();
  const ModelState model = trainer.model();
  const LayerParameters& normalized = model.layers[0];
  for (int unit = 0; unit < 4; ++unit) {
    std::vector<double> z;
    for (int64_t row = 0; row < train.rows; ++row) {
      double value = 0.0;
      for (int feature = 0; feature < 2; ++feature) {
        const double standardized =
            (train.x[row * 2 + feature] - model.shift[feature]) / model.scale[feature];
        value += standardized * normalized.weight[unit * 2 + feature];
      }
      z.push_back(value);
    }
    double mean = 0.0;
    for (const double value : z) mean += value / train.rows;
    double squares = 0.0;
    for (const double value : z) squares += (value - mean) * (value - mean);
    const double unbiased = squares / (train.rows - 1);
    EXPECT_NEAR(normalized.runningMean[unit], 0.1 * mean, 1e-5) << "unit " << unit;
    EXPECT_NEAR(normalized.runningVar[unit], 0.9 + 0.1 * unbiased, 1e-5) << "unit " << unit;
  }
}

// y = x1 + x2 through 32 linear hidden units, half of them dropped in training. Inverted
// dropout scales the kept units by 2 while training, so inference, with every unit and no
// scaling, predicts y without bias and far better than the noisy training passes did.
TEST(Trainer, DropoutIsInvertedSoInferenceNeedsNoRescaling) {
  Rng rng(71);
  Dataset train;
  train.rows = 400;
  train.features = 2;
  train.targets = 1;
  for (int64_t row = 0; row < train.rows; ++row) {
    const auto first = static_cast<float>(rng.normal());
    const auto second = static_cast<float>(rng.normal());
    train.x.insert(train.x.end(), {first, second});
    train.y.push_back(first + second);
  }
  TrainingSpec spec = training(OptimizerType::kAdam, 0.01, 32, 7);
  spec.normalize = Normalization::kNone;
  Trainer trainer(network(2, {layer(32, Activation::kLinear, false, 0.5f),
                              layer(1, Activation::kLinear)},
                          Loss::kMeanSquaredError, Init::kXavier),
                  spec, train.view(), kNoDev);
  const std::vector<EpochMetrics> history = trainEpochs(trainer, 30);
  const double inference = trainer.evaluate(train.view()).loss;
  // y has variance 2: a doubled or halved prediction would cost about 2.
  EXPECT_LT(inference, 0.05);
  EXPECT_GT(history.back().train.loss, 2 * inference);
}

TEST(Trainer, ShuffleChangesTheMiniBatches) {
  Scenario shuffled = momentumBinary();
  Scenario inOrder = shuffled;
  inOrder.training.shuffle = false;
  const auto first = shuffled.makeTrainer();
  const auto second = inOrder.makeTrainer();
  trainEpochs(*first, 1);
  trainEpochs(*second, 1);
  EXPECT_FALSE(bitIdentical(allValues(first->model()), allValues(second->model())));
}

// The trainer copies its data: poisoning the caller's buffers after construction changes
// nothing (a trainer that read them would meet NaN and diverge).
TEST(Trainer, KeepsItsOwnCopyOfTheData) {
  Scenario scenario = adamBatchNormDropout();
  const auto pristine = scenario.makeTrainer();
  const auto copying = scenario.makeTrainer();
  const float poison = std::numeric_limits<float>::quiet_NaN();
  std::fill(scenario.train.x.begin(), scenario.train.x.end(), poison);
  std::fill(scenario.dev.x.begin(), scenario.dev.x.end(), poison);
  std::fill(scenario.train.y.begin(), scenario.train.y.end(), poison);
  const std::vector<EpochMetrics> expected = trainEpochs(*pristine, 2);
  const std::vector<EpochMetrics> copied = trainEpochs(*copying, 2);
  EXPECT_EQ(copied.back().dev->loss, expected.back().dev->loss);
  EXPECT_TRUE(bitIdentical(allValues(copying->model()), allValues(pristine->model())));
}

struct SpecCase {
  std::string name;
  std::function<void(Scenario&)> change;
};

void PrintTo(const SpecCase& spec, std::ostream* out) { *out << spec.name; }

class InvalidSpec : public ::testing::TestWithParam<SpecCase> {};

TEST_P(InvalidSpec, ThrowsInvalidSpec) {
  Scenario scenario = adamBatchNormDropout();
  GetParam().change(scenario);
  EXPECT_EQ(errorCode([&] { scenario.makeTrainer(); }), codes::kInvalidSpec);
}

INSTANTIATE_TEST_SUITE_P(
    Specs, InvalidSpec,
    ::testing::Values(
        SpecCase{"ZeroUnits", [](Scenario& bad) { bad.network.layers[0].units = 0; }},
        SpecCase{"DropoutOne", [](Scenario& bad) { bad.network.layers[0].dropout = 1; }},
        SpecCase{"NegativeDropout", [](Scenario& bad) { bad.network.layers[0].dropout = -0.1f; }},
        SpecCase{"SoftmaxHidden",
                 [](Scenario& bad) { bad.network.layers[0].activation = Activation::kSoftmax; }},
        SpecCase{"CrossEntropyOnSigmoidOutput",
                 [](Scenario& bad) { bad.network.layers[2].activation = Activation::kSigmoid; }},
        SpecCase{"BinaryCrossEntropyOnSoftmaxOutput",
                 [](Scenario& bad) { bad.network.loss = Loss::kBinaryCrossEntropy; }},
        SpecCase{"MeanSquaredErrorOnSoftmaxOutput",
                 [](Scenario& bad) { bad.network.loss = Loss::kMeanSquaredError; }},
        SpecCase{"DropoutOnOutput", [](Scenario& bad) { bad.network.layers[2].dropout = 0.5f; }},
        SpecCase{"NoLayers", [](Scenario& bad) { bad.network.layers.clear(); }},
        SpecCase{"ZeroInputs", [](Scenario& bad) { bad.network.inputs = 0; }},
        SpecCase{"ZeroBatchSize", [](Scenario& bad) { bad.training.batchSize = 0; }},
        SpecCase{"ZeroLearningRate",
                 [](Scenario& bad) { bad.training.optimizer.learningRate = 0; }},
        SpecCase{"BetaOfOne", [](Scenario& bad) { bad.training.optimizer.beta2 = 1; }},
        SpecCase{"NegativeL2", [](Scenario& bad) { bad.training.l2 = -1; }}),
    testkit::caseName<SpecCase>);

struct DataCase {
  std::string name;
  Loss loss;
  std::function<void(Dataset& train, Dataset& dev)> change;
  const char* code;
};

void PrintTo(const DataCase& data, std::ostream* out) { *out << data.name; }

class InvalidData : public ::testing::TestWithParam<DataCase> {};

TEST_P(InvalidData, ThrowsItsCode) {
  const DataCase& data = GetParam();
  const bool binary = data.loss == Loss::kBinaryCrossEntropy;
  const NetworkSpec spec =
      binary ? network(2, {layer(4, Activation::kRelu), layer(1, Activation::kSigmoid)}, data.loss)
             : network(2, {layer(4, Activation::kRelu), layer(3, Activation::kSoftmax)}, data.loss);
  Dataset train = testkit::gaussianBlobs(binary ? 2 : 3, 30, 1);
  Dataset dev = testkit::gaussianBlobs(binary ? 2 : 3, 9, 2);
  data.change(train, dev);
  EXPECT_EQ(errorCode([&] {
              Trainer trainer(spec, training(OptimizerType::kAdam, 0.01, 8, 1), train.view(),
                              dev.view());
            }),
            data.code);
}

// Changes the number of features per row, keeping the buffer consistent with it.
void setFeatures(Dataset& data, int features) {
  data.features = features;
  data.x.resize(static_cast<size_t>(data.rows) * features, 0.5f);
}

void setTargets(Dataset& data, int targets) {
  data.targets = targets;
  data.y.resize(static_cast<size_t>(data.rows) * targets, 0.0f);
}

const float kNaN = std::numeric_limits<float>::quiet_NaN();
const float kInfinity = std::numeric_limits<float>::infinity();

INSTANTIATE_TEST_SUITE_P(
    Parts, InvalidData,
    ::testing::Values(
        DataCase{"TrainHasMoreFeatures", Loss::kCrossEntropy,
                 [](Dataset& train, Dataset&) { setFeatures(train, 3); }, codes::kShapeMismatch},
        DataCase{"DevHasFewerFeatures", Loss::kCrossEntropy,
                 [](Dataset&, Dataset& dev) { setFeatures(dev, 1); }, codes::kShapeMismatch},
        DataCase{"TwoTargetsForSoftmax", Loss::kCrossEntropy,
                 [](Dataset& train, Dataset&) { setTargets(train, 2); }, codes::kShapeMismatch},
        DataCase{"NaNInTrainInputs", Loss::kCrossEntropy,
                 [](Dataset& train, Dataset&) { train.x[7] = kNaN; }, codes::kInvalidData},
        DataCase{"InfinityInDevInputs", Loss::kCrossEntropy,
                 [](Dataset&, Dataset& dev) { dev.x[3] = kInfinity; }, codes::kInvalidData},
        DataCase{"NaNTarget", Loss::kCrossEntropy,
                 [](Dataset& train, Dataset&) { train.y[2] = kNaN; }, codes::kInvalidData},
        DataCase{"ClassIndexEqualToUnits", Loss::kCrossEntropy,
                 [](Dataset& train, Dataset&) { train.y[4] = 3.0f; }, codes::kInvalidData},
        DataCase{"NegativeClassIndex", Loss::kCrossEntropy,
                 [](Dataset& train, Dataset&) { train.y[4] = -1.0f; }, codes::kInvalidData},
        DataCase{"FractionalClassIndex", Loss::kCrossEntropy,
                 [](Dataset& train, Dataset&) { train.y[4] = 1.5f; }, codes::kInvalidData},
        DataCase{"BinaryTargetAboveOne", Loss::kBinaryCrossEntropy,
                 [](Dataset& train, Dataset&) { train.y[0] = 2.0f; }, codes::kInvalidData},
        DataCase{"NoTrainingRows", Loss::kCrossEntropy,
                 [](Dataset& train, Dataset&) {
                   train = Dataset{};
                   train.features = 2;
                   train.targets = 1;
                 },
                 codes::kInvalidData}),
    testkit::caseName<DataCase>);

}  // namespace
}  // namespace caviar
