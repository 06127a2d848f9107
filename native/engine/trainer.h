// Trains one network: seeded shuffling and mini-batches, input normalization from the
// training part, an optimizer with its learning-rate schedule, per-epoch metrics, and
// checkpoints that restore training bit for bit.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "model.h"
#include "spec.h"

namespace caviar {

struct PartMetrics {
  double loss = 0.0;                // cost, L2 term included, without class weights
  std::optional<double> accuracy;  // classifiers only
};

struct LayerMetrics {
  double weightNorm = 0.0;  // ||W||_F at the end of the epoch
  double gradNorm = 0.0;    // mean over the epoch's mini-batches of ||dW||_F
};

struct EpochMetrics {
  int epoch = 0;              // counts from 1
  double learningRate = 0.0;  // the rate this epoch used
  double seconds = 0.0;       // wall time, dev evaluation included
  double samplesPerSecond = 0.0;
  PartMetrics train;          // accumulated over the epoch's own mini-batches (as Keras does)
  std::optional<PartMetrics> dev;  // one pass in inference mode
  std::vector<LayerMetrics> layers;
  // The identity of the rate change this epoch applied (see Session), 0 for none.
  int64_t appliedRateChange = 0;
};

class Trainer {
 public:
  // Copies the data: the caller's buffers may go away once this returns. The dev part may
  // have 0 rows. Throws INVALID_SPEC, SHAPE_MISMATCH or INVALID_DATA.
  Trainer(const NetworkSpec& network, const TrainingSpec& training, const DataView& train,
          const DataView& dev);
  ~Trainer();
  Trainer(const Trainer&) = delete;
  Trainer& operator=(const Trainer&) = delete;

  // One pass over the training part. `cancel` is read between mini-batches: when it turns
  // true the epoch stops with CANCELLED and the trainer is left as it was before the epoch
  // began, so it can still be checkpointed. A non-finite cost throws DIVERGED. With
  // `newRate`, the epoch first sets the learning rate as setLearningRate does; an epoch
  // that fails leaves the rate as it was too.
  EpochMetrics runEpoch(const std::atomic<bool>* cancel = nullptr,
                        std::optional<double> newRate = std::nullopt);

  int epochsDone() const;
  // The rate the next epoch will use. Setting it restarts the schedule from that rate:
  // the next epoch uses exactly `learningRate`, and decay goes on from there.
  double nextLearningRate() const;
  void setLearningRate(double learningRate);

  // Cost and accuracy of `data` (raw, unnormalized features) in inference mode.
  PartMetrics evaluate(const DataView& data);

  // Everything needed to go on training: parameters, optimizer moments, step counter,
  // batch-norm running statistics, RNG state, epoch, schedule. Versioned binary format,
  // ending with a CRC-32C of every byte before it.
  std::vector<uint8_t> checkpoint() const;
  // Throws CHECKPOINT_CORRUPT when the bytes do not match their checksum (they were damaged
  // after they were written) and INVALID_CHECKPOINT when they are not a checkpoint of this
  // network; either way the trainer is left as it was.
  void restore(const uint8_t* bytes, size_t size);

  // The trained model as it would be saved: architecture, normalization, parameters.
  ModelState model() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace caviar
