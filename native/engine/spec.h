// What a network and its training are made of: plain structs that the caller fills in
// whole. A job spec's defaults have one home, the TypeScript face (src/engine/config.ts),
// which fills every field before anything reaches C++; the binding requires every field,
// so none has a default here (a field left unset is zero, which validate* refuses where
// zero means nothing). The engine checks again (validate*) because it is also used on its
// own, from the C++ tests. The few constants no spec sets (leakySlope, batch norm's
// momentum and epsilon) are the engine's own, and live here alone.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace caviar {

enum class Activation { kRelu, kLeakyRelu, kTanh, kSigmoid, kSoftmax, kLinear };
enum class Loss { kCrossEntropy, kBinaryCrossEntropy, kMeanSquaredError };
enum class Init { kHe, kXavier, kGlorot, kNormal, kZeros };
enum class Normalization { kStandard, kMinMax, kNone };
enum class OptimizerType { kSgd, kMomentum, kRmsprop, kAdam, kAdamW };
enum class DecayType { kNone, kInverseTime, kStaircase, kExponential, kSqrt, kStep, kCosine };

struct LayerSpec {
  int units = 0;
  Activation activation{};
  bool batchNorm = false;
  double dropout = 0.0;  // probability of dropping a unit: keep_prob = 1 - dropout
};

struct NetworkSpec {
  int inputs = 0;
  std::vector<LayerSpec> layers;  // hidden layers, then the output layer
  Loss loss{};
  Init init{};
  double initScale = 0.0;      // standard deviation for Init::kNormal
  double leakySlope = 0.01;    // slope of leaky-relu below zero
  double batchNormMomentum = 0.1;  // running = (1 - momentum) running + momentum batch (PyTorch)
  double batchNormEpsilon = 1e-5;
};

struct OptimizerSpec {
  OptimizerType type{};
  double learningRate = 0.0;
  double beta = 0.0;  // momentum and rmsprop
  double beta1 = 0.0;
  double beta2 = 0.0;
  double epsilon = 0.0;
  double weightDecay = 0.0;  // adamw only
};

// The constants of each schedule (COURSE-NOTES.md, epoch counts from 0):
//   inverse-time  lr0 / (1 + rate * epoch)
//   staircase     lr0 / (1 + rate * floor(epoch / interval))
//   exponential   lr0 * rate^epoch
//   sqrt          lr0 * rate / sqrt(epoch + 1)
//   step          lr0 * rate^floor(epoch / interval)
//   cosine        floor + (lr0 - floor) * (1 + cos(pi * min(epoch, period) / period)) / 2
// A rate set from outside restarts the schedule so that its epoch 0 trains at exactly that
// rate (schedule.h).
struct DecaySpec {
  DecayType type{};
  double rate = 0.0;
  int interval = 0;
  double floor = 0.0;
  int period = 0;  // cosine: epochs to reach the floor
};

struct TrainingSpec {
  int batchSize = 0;  // >= rows means full-batch gradient descent
  bool shuffle = false;
  uint64_t seed = 0;
  OptimizerSpec optimizer;
  DecaySpec decay;
  double l2 = 0.0;  // lambda: cost += lambda / (2m) sum ||W||^2
  Normalization normalize{};
  // One weight per class (classCount), or none: the cost training minimizes becomes
  // (1/m) sum_i w_{y_i} L_i (loss.h). The caller resolves "balanced" and class names.
  std::vector<float> classWeights;
};

// A borrowed view of rows of inputs and their targets, row-major. Targets hold one class
// index per row for softmax outputs, and one value per output unit otherwise.
struct DataView {
  const float* x = nullptr;
  const float* y = nullptr;
  int64_t rows = 0;
  int features = 0;
  int targets = 0;  // floats of y per row
};

// Throws Error(INVALID_SPEC) naming the first field that is wrong.
void validateNetwork(const NetworkSpec& spec);
void validateTraining(const TrainingSpec& spec);
// Throws Error(SHAPE_MISMATCH) or Error(INVALID_DATA) when data cannot train this network.
void validateData(const NetworkSpec& spec, const DataView& data, const char* part);

// How many floats of targets a row has for this network: 1 (a class index) for softmax.
int targetWidth(const NetworkSpec& spec);
bool isClassifier(const NetworkSpec& spec);
// The classes a class weight can be given to: softmax's units, or 2 (0 and 1) for one
// sigmoid unit; 0 for a network that does not pick one class per row (regression, or
// several sigmoid units, which are independent labels).
int classCount(const NetworkSpec& spec);
// Throws Error(INVALID_SPEC) at /training/classWeights unless `weights` is empty or holds
// one positive finite weight per class.
void validateClassWeights(const NetworkSpec& spec, const std::vector<float>& weights);

// Names as they appear in job specs ("leaky-relu", "adamw", ...), both ways.
Activation activationFromName(const std::string& name);
Loss lossFromName(const std::string& name);
Init initFromName(const std::string& name);
Normalization normalizationFromName(const std::string& name);
OptimizerType optimizerFromName(const std::string& name);
DecayType decayFromName(const std::string& name);
const char* activationName(Activation activation);
const char* lossName(Loss loss);
const char* initName(Init init);
const char* normalizationName(Normalization normalization);

}  // namespace caviar
