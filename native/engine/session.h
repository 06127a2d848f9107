// Run control for one trainer, between the threads that ask things of it (the addon's JS
// thread, or any other) and the thread that trains: one run or evaluation at a time (another
// is refused with BUSY); a cancel flag that the training thread reads between mini-batches;
// a gate that holds the training thread after each hand-over of epochs (every epoch, or
// those of a reporting interval together) until their listener is done with them; and the
// learning-rate change that the next epoch applies, exactly once.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <vector>

#include "trainer.h"

namespace caviar {

// A learning rate set from outside, with the caller's identity for it (a positive integer,
// or 0 for none), which the epoch that applies it reports as EpochMetrics::appliedRateChange.
struct RateChange {
  double rate = 0.0;
  int64_t id = 0;
};

class Session {
 public:
  static constexpr size_t kMaxEpochsPerHandOver = 1024;

  // Throws as Trainer's constructor does.
  Session(const NetworkSpec& network, const TrainingSpec& training, const DataView& train,
          const DataView& dev);
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // ---- A run: beginRun where it is asked for, runEpochs on the training thread,
  // betweenEpochs where each hand-over arrives, endRun once runEpochs has returned.

  // Claims the trainer for a run, or throws BUSY. Clears the cancel flag, and fixes the rate
  // change that the run's first epoch applies: one set after this waits for the epoch after.
  void beginRun();
  // Trains up to `epochs` epochs on the calling thread. Each epoch's metrics join a batch
  // that `report` hands to its listener, in order, after which the thread waits until the
  // listener has been through betweenEpochs (or the run is cancelled or stopped). A
  // hand-over follows the run's last epoch, every epoch when `reportEverySeconds` <= 0, and
  // an epoch that ends at least `reportEverySeconds` after the last hand-over (or the run's
  // start); +infinity leaves one at the end; and a batch of kMaxEpochsPerHandOver, which
  // bounds what a batch holds (and the burst of epochs a listener passes on at once).
  // Epochs that are not handed over one by one cost no thread hop each: for a tiny network
  // the hop outlasts the epoch. Returns the epochs trained.
  // Throws CANCELLED (an epoch under way is undone, and the epochs since the last hand-over
  // are not handed over: the trainer may be past the last epoch its listener saw), DIVERGED
  // or another error from an epoch (undone too, after a hand-over of the batch's epochs
  // before it), or what `report` throws.
  int runEpochs(int epochs, double reportEverySeconds,
                const std::function<void(const std::vector<EpochMetrics>&)>& report);
  // For the listener, with a hand-over in hand: runs `listen` while the trainer is between
  // epochs, at the end of the last one handed over (it may read the trainer, set a rate,
  // cancel), then lets the next epoch start with the rate change set by then.
  void betweenEpochs(const std::function<void()>& listen);
  // The run's thread has returned: the trainer is idle again.
  void endRun();

  // ---- An evaluation: beginEvaluation (BUSY unless idle), evaluate on any one thread,
  // endEvaluation. A rate set meanwhile waits for the next epoch like any other.
  void beginEvaluation();
  PartMetrics evaluate(const DataView& data);
  void endEvaluation();

  // ---- From any thread, at any time.

  // Stops a run between mini-batches, or before its next epoch; nothing when none runs.
  void cancel();
  // Cancels, and lets a training thread waiting between epochs leave without its listener
  // (which, at process exit, never comes). That thread touches the trainer no more.
  void stop();
  // The next epoch to start applies `change` (the latest one set wins): it trains at exactly
  // change.rate, and a decay schedule restarts from there. An epoch under way keeps its rate.
  // A change that no epoch has completed with stays pending, so it is applied exactly once.
  // Throws INVALID_SPEC for a rate that is not a positive number.
  void setLearningRate(RateChange change);

  // ---- Reads, while idle or between epochs; BUSY otherwise.

  // The rate the next epoch will use, a pending change included.
  double nextLearningRate();
  int epochsDone();
  // A pending rate change is not in it: it becomes part of the trainer with its epoch.
  std::vector<uint8_t> checkpoint();
  ModelState model();
  // Idle only. Throws INVALID_CHECKPOINT as Trainer::restore does; a pending change stays.
  void restore(const uint8_t* bytes, size_t size);

 private:
  enum class Activity { kIdle, kTraining, kBetweenEpochs, kEvaluating };
  // With mutex_ held: throws BUSY unless idle (or between epochs, when allowed).
  void claim(bool betweenEpochsToo) const;
  // With mutex_ held: a run's next epoch applies the change pending now.
  void fixNextChange();

  Trainer trainer_;
  std::mutex mutex_;
  std::condition_variable opened_;
  Activity activity_ = Activity::kIdle;
  bool open_ = false;  // the gate: the next epoch may start
  std::atomic<bool> cancel_{false};
  // The change the run's next epoch applies, and the one set since for the epoch after.
  std::optional<RateChange> next_, pending_;
};

}  // namespace caviar
