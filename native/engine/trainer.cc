#include "trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <numeric>
#include <sstream>
#include <string>

#include "blas.h"
#include "crc32c.h"
#include "denormals.h"
#include "error.h"
#include "network.h"
#include "normalization.h"
#include "optimizer.h"
#include "rng.h"
#include "schedule.h"
#include "squares.h"

namespace caviar {
namespace {

// Rows per forward pass when evaluating a part (see model.cc).
constexpr int kEvaluationRows = 512;

// The least work worth a part of its own on another thread, where the hand-off (about a
// microsecond) and a part's start cost about as much as the work they spare.
constexpr int64_t kMinStepElementsPerPart = 16384;
constexpr int64_t kMinGatherFloatsPerPart = 16384;
constexpr int64_t kFloatsPerLine = 16;

enum Stream : uint64_t { kInitStream = 0, kShuffleStream = 1, kDropoutStream = 2 };

constexpr char kCheckpointMagic[8] = {'C', 'A', 'V', 'I', 'A', 'R', 'C', 'K'};
// Version 3 is version 2 followed by a CRC-32C of every byte before it. Version 2 keeps the
// rate the schedule's first epoch trains at where version 1 kept the base rate of its
// formula; they differ for sqrt decay (start = base * rate).
constexpr uint32_t kCheckpointVersion = 3;
constexpr uint32_t kCheckpointVersion1 = 1;
constexpr uint32_t kByteOrderMark = 0x01020304;
constexpr size_t kChecksumBytes = 4;

// The checksum is stored little-endian whatever the machine, unlike the fields it covers: a
// checkpoint from a machine of the other byte order then passes it, and is refused for its
// byte order rather than reported as damaged.
void appendChecksum(std::vector<uint8_t>& bytes) {
  const uint32_t checksum = crc32c(bytes.data(), bytes.size());
  for (size_t index = 0; index < kChecksumBytes; ++index)
    bytes.push_back(static_cast<uint8_t>(checksum >> (8 * index)));
}

void verifyChecksum(const uint8_t* bytes, size_t size) {
  bool matches = size >= sizeof kCheckpointMagic + sizeof kCheckpointVersion + kChecksumBytes;
  if (matches) {
    const size_t covered = size - kChecksumBytes;
    uint32_t stored = 0;
    for (size_t index = 0; index < kChecksumBytes; ++index)
      stored |= static_cast<uint32_t>(bytes[covered + index]) << (8 * index);
    matches = crc32c(bytes, covered) == stored;
  }
  if (!matches)
    throw Error(codes::kCheckpointCorrupt,
                "the checkpoint's bytes do not match their checksum: it was damaged (changed or cut "
                "short) after it was written");
}

// Whether the bytes begin with the magic and the current version's number.
bool claimsCurrentVersion(const uint8_t* bytes, size_t size) {
  if (size < sizeof kCheckpointMagic + sizeof kCheckpointVersion) return false;
  uint32_t version = 0;
  std::memcpy(&version, bytes + sizeof kCheckpointMagic, sizeof version);
  return std::memcmp(bytes, kCheckpointMagic, sizeof kCheckpointMagic) == 0 &&
         version == kCheckpointVersion;
}

// What must match for a checkpoint to fit a trainer: the architecture and the optimizer.
std::string fingerprint(const NetworkSpec& network, const TrainingSpec& training) {
  std::ostringstream text;
  text << "inputs " << network.inputs << ", layers";
  for (const LayerSpec& layer : network.layers)
    text << ' ' << layer.units << '/' << activationName(layer.activation)
         << (layer.batchNorm ? "/batch-norm" : "");
  text << ", loss " << lossName(network.loss) << ", optimizer "
       << static_cast<int>(training.optimizer.type) << ", normalization "
       << static_cast<int>(training.normalize);
  return text.str();
}

// Writes fields, or only counts their bytes: the length restore expects of a checkpoint
// comes from the same list of fields that writes one.
class ByteWriter {
 public:
  enum class Mode { kWrite, kCount };
  explicit ByteWriter(Mode mode = Mode::kWrite) : mode_(mode) {}
  template <typename Value>
  void put(const Value& value) {
    append(&value, sizeof(Value));
  }
  template <typename Value>
  void putVector(const std::vector<Value>& values) {
    put<uint64_t>(values.size());
    append(values.data(), values.size() * sizeof(Value));
  }
  void putString(const std::string& text) {
    put<uint64_t>(text.size());
    append(text.data(), text.size());
  }
  void putRng(const Rng& rng) {
    const Rng::State state = rng.state();
    for (uint64_t word : state.words) put(word);
    put<uint8_t>(state.hasSpareNormal);
    put(state.spareNormal);
  }
  size_t size() const { return size_; }
  std::vector<uint8_t> take() { return std::move(bytes_); }

 private:
  void append(const void* data, size_t count) {
    size_ += count;
    if (mode_ == Mode::kCount || count == 0) return;
    const auto* bytes = static_cast<const uint8_t*>(data);
    bytes_.insert(bytes_.end(), bytes, bytes + count);
  }
  Mode mode_;
  size_t size_ = 0;
  std::vector<uint8_t> bytes_;
};

class ByteReader {
 public:
  ByteReader(const uint8_t* bytes, size_t size) : bytes_(bytes), size_(size) {}
  template <typename Value>
  Value get() {
    Value value;
    std::memcpy(&value, take(sizeof(Value)), sizeof(Value));
    return value;
  }
  // Reads a vector that must have `expected` elements.
  template <typename Value>
  std::vector<Value> getVector(size_t expected, const char* what) {
    const auto count = get<uint64_t>();
    if (count != expected)
      fail(std::string(what) + " has " + std::to_string(count) + " values, expected " +
           std::to_string(expected));
    std::vector<Value> values(count);
    const uint8_t* source = take(count * sizeof(Value));
    if (count > 0) std::memcpy(values.data(), source, count * sizeof(Value));
    return values;
  }
  std::string getString() {
    const auto count = get<uint64_t>();
    if (count > size_) fail("a string runs past the end");
    const auto* text = reinterpret_cast<const char*>(take(count));
    return std::string(text, count);
  }
  Rng::State getRng() {
    Rng::State state;
    for (uint64_t& word : state.words) word = get<uint64_t>();
    state.hasSpareNormal = get<uint8_t>() != 0;
    state.spareNormal = get<double>();
    return state;
  }
  bool done() const { return offset_ == size_; }
  // Leaves the last `count` bytes (the checksum, already verified) out of what is read.
  void endBefore(size_t count) { size_ -= count; }
  [[noreturn]] static void fail(const std::string& why) {
    throw Error(codes::kInvalidCheckpoint, "not a usable checkpoint: " + why);
  }

 private:
  const uint8_t* take(size_t count) {
    if (count > size_ - offset_) fail("it ends too early");
    const uint8_t* start = bytes_ + offset_;
    offset_ += count;
    return start;
  }
  const uint8_t* bytes_;
  size_t size_;
  size_t offset_ = 0;
};

// destination (rows, width) <- the rows order[0..rows) of source (., width). An element loop:
// std::copy_n calls memmove once per row, which costs more than a tiny row's copy.
void gatherRows(const float* source, const int64_t* order, int rows, int width,
                float* destination) {
  for (int row = 0; row < rows; ++row) {
    const float* from = source + order[row] * width;
    float* to = destination + static_cast<int64_t>(row) * width;
    for (int column = 0; column < width; ++column) to[column] = from[column];
  }
}

std::vector<float> copyOf(const float* values, int64_t count) {
  return count > 0 ? std::vector<float>(values, values + count) : std::vector<float>();
}

}  // namespace

struct Trainer::State {
  State(const NetworkSpec& networkSpec, const TrainingSpec& trainingSpec, const DataView& train,
        const DataView& dev, int capacity)
      : network(networkSpec),
        training(trainingSpec),
        model(networkSpec, capacity),
        optimizer(trainingSpec.optimizer, static_cast<int64_t>(model.parameters().size())),
        features(train.features),
        targets(train.targets),
        trainRows(train.rows),
        devRows(dev.rows),
        trainX(copyOf(train.x, train.rows * train.features)),
        trainY(copyOf(train.y, train.rows * train.targets)),
        devX(copyOf(dev.x, dev.rows * dev.features)),
        devY(copyOf(dev.y, dev.rows * dev.targets)),
        shuffleRng(deriveSeed(trainingSpec.seed, kShuffleStream)),
        dropoutRng(deriveSeed(trainingSpec.seed, kDropoutStream)),
        startRate(firstLearningRate(trainingSpec.decay, trainingSpec.optimizer.learningRate)) {}

  // What an epoch changes, kept so that a cancelled or diverged epoch leaves no trace. Its
  // blocks are the size of the ones they copy, allocated once with them (sizeSnapshot):
  // taking one copies, undoing an epoch swaps, and neither allocates.
  struct Snapshot {
    std::vector<float> parameters, running, first, second;
    int64_t steps = 0;
    Rng::State shuffle, dropout;
    double startRate = 0.0;
    int scheduleStart = 0;
  };
  void sizeSnapshot() {
    saved.parameters.resize(model.parameters().size());
    saved.running.resize(model.runningStatistics().size());
    saved.first.resize(optimizer.firstMoments().size());
    saved.second.resize(optimizer.secondMoments().size());
  }
  void takeSnapshot() {
    std::copy(model.parameters().begin(), model.parameters().end(), saved.parameters.begin());
    std::copy(model.runningStatistics().begin(), model.runningStatistics().end(), saved.running.begin());
    std::copy(optimizer.firstMoments().begin(), optimizer.firstMoments().end(), saved.first.begin());
    std::copy(optimizer.secondMoments().begin(), optimizer.secondMoments().end(), saved.second.begin());
    saved.steps = optimizer.steps();
    saved.shuffle = shuffleRng.state();
    saved.dropout = dropoutRng.state();
    saved.startRate = startRate;
    saved.scheduleStart = scheduleStart;
  }
  void revert() {
    model.parameters().swap(saved.parameters);
    model.runningStatistics().swap(saved.running);
    optimizer.firstMoments().swap(saved.first);
    optimizer.secondMoments().swap(saved.second);
    optimizer.setSteps(saved.steps);
    shuffleRng.setState(saved.shuffle);
    dropoutRng.setState(saved.dropout);
    startRate = saved.startRate;
    scheduleStart = saved.scheduleStart;
  }

  // A rate set from outside: the schedule starts again from it at the next epoch, which
  // trains at exactly that rate.
  void restartSchedule(double learningRate) {
    validateLearningRate(learningRate);
    startRate = learningRate;
    scheduleStart = epochsDone;
  }

  double learningRate() const {
    return scheduledLearningRate(training.decay, startRate, epochsDone - scheduleStart);
  }

  // A checkpoint's fields, all but the checksum that ends it.
  void writeFields(ByteWriter& writer) const {
    for (char byte : kCheckpointMagic) writer.put(byte);
    writer.put(kCheckpointVersion);
    writer.put(kByteOrderMark);
    writer.putString(fingerprint(network, training));
    writer.put<int32_t>(epochsDone);
    writer.put<double>(startRate);
    writer.put<int32_t>(scheduleStart);
    writer.put<int64_t>(optimizer.steps());
    writer.putVector(model.parameters());
    writer.putVector(model.runningStatistics());
    writer.putVector(optimizer.firstMoments());
    writer.putVector(optimizer.secondMoments());
    writer.putVector(shift);
    writer.putVector(scale);
    writer.putRng(shuffleRng);
    writer.putRng(dropoutRng);
  }

  // Every checkpoint of this network in the current version has this length, whatever
  // its contents.
  size_t checkpointSize() const {
    ByteWriter counter(ByteWriter::Mode::kCount);
    writeFields(counter);
    return counter.size() + kChecksumBytes;
  }

  // The mini-batch of rows [start, start + rows) of the shuffled order, copied into batchX
  // and batchY, in parts of rows when they are many enough.
  void gatherBatch(int64_t start, int rows) {
    const int64_t floats = static_cast<int64_t>(rows) * (features + targets);
    const int parts = floats >= kMinGatherFloatsPerPart * 2 ? std::min(pool.threads(), rows) : 1;
    pool.run(parts, [&](int part) {
      const auto first = static_cast<int>(static_cast<int64_t>(rows) * part / parts);
      const auto count = static_cast<int>(static_cast<int64_t>(rows) * (part + 1) / parts) - first;
      gatherRows(trainX.data(), order.data() + start + first, count, features,
                 batchX.data() + static_cast<int64_t>(first) * features);
      gatherRows(trainY.data(), order.data() + start + first, count, targets,
                 batchY.data() + static_cast<int64_t>(first) * targets);
    });
  }

  // The optimizer's step from the mini-batch's gradients, in parts of the parameter block
  // when it is large enough. Each part first sums the squares of its share of each layer's
  // weight gradient (for the epoch's gradient norms), so that its update then finds those
  // gradients in cache. The parts' sums add up in part order, whichever thread made them.
  void step(double learningRate) {
    const int layerCount = model.layerCount();
    const float* gradients = model.gradients().data();
    optimizer.beginStep();
    pool.run(stepParts, [&](int part) {
      const int64_t begin = stepEdge(part), end = stepEdge(part + 1);
      double* sums = partSquares.data() + static_cast<size_t>(part) * layerCount;
      for (int layer = 0; layer < layerCount; ++layer) {
        const int64_t weights = model.offsets(layer).weight;
        const int64_t from = std::max(begin, weights);
        const int64_t to = std::min(end, weights + model.layerWeightCount(layer));
        sums[layer] = to > from ? squares(gradients + from, to - from) : 0.0;
      }
      optimizer.update(model.parameters().data(), gradients, model.segments(), learningRate,
                       begin, end);
    });
    for (int layer = 0; layer < layerCount; ++layer) {
      double total = 0.0;
      for (int part = 0; part < stepParts; ++part)
        total += partSquares[static_cast<size_t>(part) * layerCount + layer];
      gradientNorms[layer] += std::sqrt(total);
    }
  }

  // The start of part `part` of the parameter block, on a 64-byte boundary.
  int64_t stepEdge(int part) const {
    const auto count = static_cast<int64_t>(model.parameters().size());
    if (part == stepParts) return count;
    const int64_t lines = (count + kFloatsPerLine - 1) / kFloatsPerLine;
    return std::min(count, lines * part / stepParts * kFloatsPerLine);
  }

  PartMetrics evaluateNormalized(const float* x, const float* y, int64_t rows) {
    LossTotals totals;
    for (int64_t start = 0; start < rows; start += model.capacity()) {
      const int count = static_cast<int>(std::min<int64_t>(model.capacity(), rows - start));
      model.forward(x + start * features, count, PassMode::kInference, nullptr);
      // Unweighted: the reported loss compares across runs with any class weights.
      const LossTotals part = model.loss(y + start * targets, count, nullptr);
      totals.loss += part.loss;
      totals.correct += part.correct;
      totals.counted += part.counted;
    }
    PartMetrics metrics;
    metrics.loss = totals.loss / rows;
    if (training.l2 > 0) metrics.loss += training.l2 / (2.0 * rows) * model.weightSquares();
    if (isClassifier(network)) metrics.accuracy = static_cast<double>(totals.correct) / totals.counted;
    return metrics;
  }

  NetworkSpec network;
  TrainingSpec training;
  Network<float> model;
  Optimizer optimizer;  // after `model`: it is sized from the model's parameter block
  int features, targets;
  int64_t trainRows, devRows;
  std::vector<float> trainX, trainY, devX, devY;  // normalized copies
  std::vector<float> shift, scale;
  Rng shuffleRng, dropoutRng;
  std::vector<int64_t> order;
  std::vector<float> batchX, batchY;
  Snapshot saved;
  std::vector<double> gradientNorms;  // per layer, summed over an epoch's mini-batches
  WorkPool& pool = enginePool();
  int stepParts = 1;                 // the optimizer step's parts
  std::vector<double> partSquares;   // (stepParts, layers): each part's gradient squares
  int epochsDone = 0;
  // The schedule runs from startRate (its first epoch's rate) at epoch scheduleStart; a
  // rate set from outside restarts it.
  double startRate;
  int scheduleStart = 0;
};

Trainer::Trainer(const NetworkSpec& network, const TrainingSpec& training, const DataView& train,
                 const DataView& dev) {
  validateNetwork(network);
  validateTraining(training);
  validateClassWeights(network, training.classWeights);
  validateData(network, train, "training");
  if (dev.rows > 0) validateData(network, dev, "dev");
  const int batchRows = static_cast<int>(std::min<int64_t>(training.batchSize, train.rows));
  const int capacity = std::max<int>(
      batchRows, static_cast<int>(std::min<int64_t>(kEvaluationRows, std::max(train.rows, dev.rows))));
  state_ = std::make_unique<State>(network, training, train, dev, capacity);
  State& s = *state_;
  Rng initRng(deriveSeed(training.seed, kInitStream));
  s.model.initialize(initRng);
  computeNormalization(training.normalize, s.trainX.data(), s.trainRows, s.features, s.shift,
                       s.scale);
  applyNormalization(s.trainX.data(), s.trainRows, s.features, s.shift, s.scale, s.trainX.data());
  applyNormalization(s.devX.data(), s.devRows, s.features, s.shift, s.scale, s.devX.data());
  s.order.resize(s.trainRows);
  s.batchX.resize(static_cast<size_t>(batchRows) * s.features);
  s.batchY.resize(static_cast<size_t>(batchRows) * s.targets);
  s.sizeSnapshot();
  s.gradientNorms.resize(s.model.layerCount());
  const auto parameterCount = static_cast<int64_t>(s.model.parameters().size());
  s.stepParts = parameterCount >= kMinStepElementsPerPart * 2 ? s.pool.threads() : 1;
  s.partSquares.resize(static_cast<size_t>(s.stepParts) * s.model.layerCount());
}

Trainer::~Trainer() = default;

EpochMetrics Trainer::runEpoch(const std::atomic<bool>* cancel, std::optional<double> newRate) {
  FlushDenormals flush;
  State& s = *state_;
  const auto started = std::chrono::steady_clock::now();
  s.takeSnapshot();
  if (newRate) s.restartSchedule(*newRate);
  const double learningRate = s.learningRate();
  const int layerCount = s.model.layerCount();
  const int64_t batchSize = std::min<int64_t>(s.training.batchSize, s.trainRows);
  const double l2 = s.training.l2;
  const std::vector<float>& weights = s.training.classWeights;
  const float* classWeights = weights.empty() ? nullptr : weights.data();

  const auto diverge = [&](const std::string& what) {
    s.revert();
    std::ostringstream message;
    message << what << " in epoch " << s.epochsDone + 1
            << ": training diverged; try a lower learning rate than " << learningRate;
    throw Error(codes::kDiverged, message.str());
  };

  std::iota(s.order.begin(), s.order.end(), int64_t{0});
  if (s.training.shuffle) s.shuffleRng.shuffle(s.order.data(), s.trainRows);

  double costSum = 0.0;
  int64_t correct = 0, counted = 0, batches = 0;
  std::vector<double>& gradientNorms = s.gradientNorms;
  std::fill(gradientNorms.begin(), gradientNorms.end(), 0.0);
  for (int64_t start = 0; start < s.trainRows; start += batchSize, ++batches) {
    if (cancel != nullptr && cancel->load(std::memory_order_relaxed)) {
      s.revert();
      throw Error(codes::kCancelled, "training was cancelled during epoch " +
                                         std::to_string(s.epochsDone + 1));
    }
    const int rows = static_cast<int>(std::min(batchSize, s.trainRows - start));
    const float* x = s.trainX.data() + start * s.features;
    const float* y = s.trainY.data() + start * s.targets;
    if (s.training.shuffle) {
      s.gatherBatch(start, rows);
      x = s.batchX.data();
      y = s.batchY.data();
    }
    s.model.forward(x, rows, PassMode::kTraining, &s.dropoutRng);
    const LossTotals totals = s.model.loss(y, rows, classWeights);
    const double penalty = l2 > 0 ? l2 / (2.0 * rows) * s.model.weightSquares() : 0.0;
    // The cost minimized is class-weighted; the one reported is not (nor is the dev
    // part's), so that runs with other class weights, or none, compare.
    const double cost = totals.weighted / rows + penalty;
    if (!std::isfinite(cost))
      diverge(std::string("the cost became ") + (std::isnan(cost) ? "NaN" : "infinite") +
              " at mini-batch " + std::to_string(batches + 1));
    costSum += (totals.loss / rows + penalty) * rows;
    correct += totals.correct;
    counted += totals.counted;
    s.model.backward(x, y, rows, l2, classWeights);
    s.step(learningRate);
  }
  // A finite cost can still come with an update that overflows: the last batch's, which no
  // later cost sees. Checked once an epoch, so a checkpoint never holds inf or NaN.
  const std::vector<float>& parameters = s.model.parameters();
  if (!std::all_of(parameters.begin(), parameters.end(),
                   [](float value) { return std::isfinite(value); }))
    diverge("the parameters overflowed");
  s.epochsDone += 1;

  EpochMetrics metrics;
  metrics.epoch = s.epochsDone;
  metrics.learningRate = learningRate;
  metrics.train.loss = costSum / s.trainRows;
  if (isClassifier(s.network)) metrics.train.accuracy = static_cast<double>(correct) / counted;
  metrics.layers.reserve(layerCount);  // the report's one allocation
  for (int layer = 0; layer < layerCount; ++layer)
    metrics.layers.push_back(
        {std::sqrt(s.model.layerWeightSquares(layer)), gradientNorms[layer] / batches});
  if (s.devRows > 0) metrics.dev = s.evaluateNormalized(s.devX.data(), s.devY.data(), s.devRows);
  metrics.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  metrics.samplesPerSecond = metrics.seconds > 0 ? s.trainRows / metrics.seconds : 0.0;
  return metrics;
}

int Trainer::epochsDone() const { return state_->epochsDone; }

double Trainer::nextLearningRate() const { return state_->learningRate(); }

void Trainer::setLearningRate(double learningRate) { state_->restartSchedule(learningRate); }

PartMetrics Trainer::evaluate(const DataView& data) {
  FlushDenormals flush;
  State& s = *state_;
  validateData(s.network, data, "evaluated");
  std::vector<float> x(data.x, data.x + data.rows * data.features);
  applyNormalization(x.data(), data.rows, data.features, s.shift, s.scale, x.data());
  return s.evaluateNormalized(x.data(), data.y, data.rows);
}

std::vector<uint8_t> Trainer::checkpoint() const {
  ByteWriter writer;
  state_->writeFields(writer);
  std::vector<uint8_t> bytes = writer.take();
  appendChecksum(bytes);
  return bytes;
}

void Trainer::restore(const uint8_t* bytes, size_t size) {
  State& s = *state_;
  // The checksum is verified before any field is read, whenever the bytes may be a
  // checkpoint of the current version: when they start as one, and when they have the
  // length of this network's, since the damage may have hit the magic or the version
  // itself (one flipped bit turns 3 into 1 or 2). Versions 1 and 2 have no checksum.
  if (size == s.checkpointSize() || claimsCurrentVersion(bytes, size)) verifyChecksum(bytes, size);
  ByteReader reader(bytes, size);
  for (char expected : kCheckpointMagic) {
    if (reader.get<char>() != expected) ByteReader::fail("it does not start with CAVIARCK");
  }
  const auto version = reader.get<uint32_t>();
  if (version < kCheckpointVersion1 || version > kCheckpointVersion)
    ByteReader::fail("version " + std::to_string(version) + " is not supported (this build reads " +
                     std::to_string(kCheckpointVersion1) + " to " +
                     std::to_string(kCheckpointVersion) + ")");
  if (version == kCheckpointVersion) reader.endBefore(kChecksumBytes);
  if (reader.get<uint32_t>() != kByteOrderMark)
    ByteReader::fail("it was written on a machine of another byte order");
  const std::string expected = fingerprint(s.network, s.training);
  const std::string found = reader.getString();
  if (found != expected)
    ByteReader::fail("it belongs to another network (" + found + "; this one is " + expected + ")");
  // Read everything before changing anything, so a bad checkpoint leaves the trainer as it was.
  const auto epochsDone = reader.get<int32_t>();
  const auto rate = reader.get<double>();
  const double startRate = version == kCheckpointVersion1 ? firstLearningRate(s.training.decay, rate) : rate;
  const auto scheduleStart = reader.get<int32_t>();
  const auto steps = reader.get<int64_t>();
  auto parameters = reader.getVector<float>(s.model.parameters().size(), "parameters");
  auto running = reader.getVector<float>(s.model.runningStatistics().size(), "running statistics");
  auto first = reader.getVector<float>(s.optimizer.firstMoments().size(), "first moments");
  auto second = reader.getVector<float>(s.optimizer.secondMoments().size(), "second moments");
  auto shift = reader.getVector<float>(s.shift.size(), "normalization shift");
  auto scale = reader.getVector<float>(s.scale.size(), "normalization scale");
  const Rng::State shuffle = reader.getRng();
  const Rng::State dropout = reader.getRng();
  if (!reader.done()) ByteReader::fail("it has trailing bytes");
  // A sqrt decay of rate 0 starts at 0.
  if (epochsDone < 0 || scheduleStart < 0 || scheduleStart > epochsDone || steps < 0 ||
      !(startRate >= 0) || !std::isfinite(startRate))
    ByteReader::fail("its counters are inconsistent");

  // The data were normalized with statistics from this trainer's training part; a
  // checkpoint from other data must not silently mix the two.
  if (shift != s.shift || scale != s.scale)
    ByteReader::fail("its input normalization differs: it was made on other training data");
  s.epochsDone = epochsDone;
  s.startRate = startRate;
  s.scheduleStart = scheduleStart;
  s.optimizer.setSteps(steps);
  s.model.parameters() = std::move(parameters);
  s.model.runningStatistics() = std::move(running);
  s.optimizer.firstMoments() = std::move(first);
  s.optimizer.secondMoments() = std::move(second);
  s.shuffleRng.setState(shuffle);
  s.dropoutRng.setState(dropout);
}

ModelState Trainer::model() const {
  const State& s = *state_;
  return exportModel(s.model, s.training.normalize, s.shift, s.scale);
}

}  // namespace caviar
