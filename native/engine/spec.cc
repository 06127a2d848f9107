#include "spec.h"

#include <cmath>
#include <string>

#include "error.h"

namespace caviar {
namespace {

[[noreturn]] void invalid(const std::string& path, const std::string& message) {
  throw Error(codes::kInvalidSpec, path + ": " + message, path);
}

template <typename Enum, size_t N>
Enum fromName(const std::string& name, const std::pair<const char*, Enum> (&names)[N],
              const char* what) {
  for (const auto& [candidate, value] : names) {
    if (name == candidate) return value;
  }
  std::string known;
  for (const auto& entry : names) known += std::string(known.empty() ? "" : ", ") + entry.first;
  throw Error(codes::kInvalidSpec, "unknown " + std::string(what) + " '" + name +
                                       "' (expected one of: " + known + ")");
}

template <typename Enum, size_t N>
const char* toName(Enum value, const std::pair<const char*, Enum> (&names)[N]) {
  for (const auto& [name, candidate] : names) {
    if (value == candidate) return name;
  }
  return "unknown";
}

const std::pair<const char*, Activation> kActivations[] = {
    {"relu", Activation::kRelu},       {"leaky-relu", Activation::kLeakyRelu},
    {"tanh", Activation::kTanh},       {"sigmoid", Activation::kSigmoid},
    {"softmax", Activation::kSoftmax}, {"linear", Activation::kLinear}};
const std::pair<const char*, Loss> kLosses[] = {
    {"cross-entropy", Loss::kCrossEntropy},
    {"binary-cross-entropy", Loss::kBinaryCrossEntropy},
    {"mse", Loss::kMeanSquaredError}};
const std::pair<const char*, Init> kInits[] = {{"he", Init::kHe},
                                               {"xavier", Init::kXavier},
                                               {"glorot", Init::kGlorot},
                                               {"normal", Init::kNormal},
                                               {"zeros", Init::kZeros}};
const std::pair<const char*, Normalization> kNormalizations[] = {
    {"standard", Normalization::kStandard},
    {"minmax", Normalization::kMinMax},
    {"none", Normalization::kNone}};
const std::pair<const char*, OptimizerType> kOptimizers[] = {{"sgd", OptimizerType::kSgd},
                                                             {"momentum", OptimizerType::kMomentum},
                                                             {"rmsprop", OptimizerType::kRmsprop},
                                                             {"adam", OptimizerType::kAdam},
                                                             {"adamw", OptimizerType::kAdamW}};
const std::pair<const char*, DecayType> kDecays[] = {{"none", DecayType::kNone},
                                                     {"inverse-time", DecayType::kInverseTime},
                                                     {"staircase", DecayType::kStaircase},
                                                     {"exponential", DecayType::kExponential},
                                                     {"sqrt", DecayType::kSqrt},
                                                     {"step", DecayType::kStep},
                                                     {"cosine", DecayType::kCosine}};

bool finitePositive(double value) { return std::isfinite(value) && value > 0; }
bool probability(double value) { return std::isfinite(value) && value >= 0 && value < 1; }

}  // namespace

Activation activationFromName(const std::string& name) {
  return fromName(name, kActivations, "activation");
}
Loss lossFromName(const std::string& name) { return fromName(name, kLosses, "loss"); }
Init initFromName(const std::string& name) { return fromName(name, kInits, "init"); }
Normalization normalizationFromName(const std::string& name) {
  return fromName(name, kNormalizations, "normalization");
}
OptimizerType optimizerFromName(const std::string& name) {
  return fromName(name, kOptimizers, "optimizer");
}
DecayType decayFromName(const std::string& name) { return fromName(name, kDecays, "decay"); }
const char* activationName(Activation activation) { return toName(activation, kActivations); }
const char* lossName(Loss loss) { return toName(loss, kLosses); }
const char* initName(Init init) { return toName(init, kInits); }
const char* normalizationName(Normalization normalization) {
  return toName(normalization, kNormalizations);
}

bool isClassifier(const NetworkSpec& spec) { return spec.loss != Loss::kMeanSquaredError; }

int classCount(const NetworkSpec& spec) {
  if (spec.loss == Loss::kCrossEntropy) return spec.layers.back().units;
  if (spec.loss == Loss::kBinaryCrossEntropy && spec.layers.back().units == 1) return 2;
  return 0;
}

void validateClassWeights(const NetworkSpec& spec, const std::vector<float>& weights) {
  if (weights.empty()) return;
  const std::string path = "/training/classWeights";
  const int classes = classCount(spec);
  if (classes == 0)
    invalid(path, "class weights need a network that picks one class per row: softmax with "
                  "cross-entropy, or one sigmoid unit with binary cross-entropy");
  if (static_cast<int>(weights.size()) != classes)
    invalid(path, std::to_string(weights.size()) + " weights for " + std::to_string(classes) +
                      " classes");
  for (size_t index = 0; index < weights.size(); ++index) {
    if (!finitePositive(weights[index]))
      invalid(path + "/" + std::to_string(index), "must be a positive number");
  }
}

int targetWidth(const NetworkSpec& spec) {
  return spec.loss == Loss::kCrossEntropy ? 1 : spec.layers.back().units;
}

void validateNetwork(const NetworkSpec& spec) {
  if (spec.inputs < 1) invalid("/inputs", "a network needs at least one input feature");
  if (spec.layers.empty()) invalid("/model/layers", "a network needs an output layer");
  const size_t last = spec.layers.size() - 1;
  for (size_t index = 0; index < spec.layers.size(); ++index) {
    const LayerSpec& layer = spec.layers[index];
    const std::string path = "/model/layers/" + std::to_string(index);
    if (layer.units < 1) invalid(path + "/units", "a layer needs at least one unit");
    if (!probability(layer.dropout)) invalid(path + "/dropout", "dropout must be in [0, 1)");
    if (layer.activation == Activation::kSoftmax && index != last)
      invalid(path + "/activation", "softmax belongs on the output layer only");
    if (index == last && (layer.dropout > 0 || layer.batchNorm))
      invalid(path, "the output layer takes neither dropout nor batch norm");
  }
  const LayerSpec& output = spec.layers[last];
  const std::string outputPath = "/model/layers/" + std::to_string(last);
  switch (spec.loss) {
    case Loss::kCrossEntropy:
      if (output.activation != Activation::kSoftmax)
        invalid("/loss", "cross-entropy needs a softmax output layer");
      if (output.units < 2) invalid(outputPath + "/units", "softmax needs at least 2 units");
      break;
    case Loss::kBinaryCrossEntropy:
      if (output.activation != Activation::kSigmoid)
        invalid("/loss", "binary-cross-entropy needs a sigmoid output layer");
      break;
    case Loss::kMeanSquaredError:
      if (output.activation == Activation::kSoftmax)
        invalid("/loss", "use cross-entropy with a softmax output layer");
      break;
  }
  if (spec.init == Init::kNormal && !finitePositive(spec.initScale))
    invalid("/model/initScale", "must be a positive number");
  if (!std::isfinite(spec.leakySlope) || spec.leakySlope < 0 || spec.leakySlope >= 1)
    invalid("/model/leakySlope", "must be in [0, 1)");
  if (!(spec.batchNormMomentum > 0 && spec.batchNormMomentum <= 1))
    invalid("/model/batchNormMomentum", "must be in (0, 1]");
  if (!finitePositive(spec.batchNormEpsilon))
    invalid("/model/batchNormEpsilon", "must be a positive number");
}

void validateTraining(const TrainingSpec& spec) {
  if (spec.batchSize < 1) invalid("/training/batchSize", "must be at least 1");
  if (!std::isfinite(spec.l2) || spec.l2 < 0) invalid("/training/l2", "must be >= 0");
  const OptimizerSpec& optimizer = spec.optimizer;
  if (!finitePositive(optimizer.learningRate))
    invalid("/training/optimizer/learningRate", "must be a positive number");
  if (!probability(optimizer.beta)) invalid("/training/optimizer/beta", "must be in [0, 1)");
  if (!probability(optimizer.beta1)) invalid("/training/optimizer/beta1", "must be in [0, 1)");
  if (!probability(optimizer.beta2)) invalid("/training/optimizer/beta2", "must be in [0, 1)");
  if (!finitePositive(optimizer.epsilon))
    invalid("/training/optimizer/epsilon", "must be a positive number");
  if (!std::isfinite(optimizer.weightDecay) || optimizer.weightDecay < 0)
    invalid("/training/optimizer/weightDecay", "must be >= 0");
  const DecaySpec& decay = spec.decay;
  if (!std::isfinite(decay.rate) || decay.rate < 0)
    invalid("/training/lrDecay/rate", "must be >= 0");
  if (decay.interval < 1) invalid("/training/lrDecay/interval", "must be at least 1");
  if (decay.period < 1) invalid("/training/lrDecay/period", "must be at least 1");
  if (!std::isfinite(decay.floor) || decay.floor < 0)
    invalid("/training/lrDecay/floor", "must be >= 0");
}

void validateData(const NetworkSpec& spec, const DataView& data, const char* part) {
  const std::string name(part);
  if (data.rows < 1) throw Error(codes::kInvalidData, "the " + name + " part has no rows");
  if (data.features != spec.inputs)
    throw Error(codes::kShapeMismatch, "the " + name + " part has " +
                                           std::to_string(data.features) +
                                           " features but the network takes " +
                                           std::to_string(spec.inputs));
  if (data.targets != targetWidth(spec))
    throw Error(codes::kShapeMismatch, "the " + name + " part has " +
                                           std::to_string(data.targets) +
                                           " targets per row but the network needs " +
                                           std::to_string(targetWidth(spec)));
  for (int64_t row = 0; row < data.rows; ++row) {
    for (int column = 0; column < data.features; ++column) {
      if (!std::isfinite(data.x[row * data.features + column]))
        throw Error(codes::kInvalidData, "the " + name + " part has a non-finite value at row " +
                                             std::to_string(row) + ", column " +
                                             std::to_string(column));
    }
    for (int column = 0; column < data.targets; ++column) {
      const float target = data.y[row * data.targets + column];
      const std::string where = " at row " + std::to_string(row);
      if (!std::isfinite(target))
        throw Error(codes::kInvalidData, "the " + name + " part has a non-finite target" + where);
      if (spec.loss == Loss::kCrossEntropy &&
          (target < 0 || target >= spec.layers.back().units || target != std::floor(target)))
        throw Error(codes::kInvalidData,
                    "the " + name + " part has class " + std::to_string(target) + where +
                        " but the output layer has " +
                        std::to_string(spec.layers.back().units) + " units");
      if (spec.loss == Loss::kBinaryCrossEntropy && (target < 0 || target > 1))
        throw Error(codes::kInvalidData,
                    "the " + name + " part has a binary target outside [0, 1]" + where);
    }
  }
}

}  // namespace caviar
