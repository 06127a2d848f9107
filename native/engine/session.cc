#include "session.h"

#include <chrono>
#include <exception>
#include <string>
#include <utility>

#include "error.h"
#include "schedule.h"

namespace caviar {

Session::Session(const NetworkSpec& network, const TrainingSpec& training, const DataView& train,
                 const DataView& dev)
    : trainer_(network, training, train, dev) {}

// A second call while one runs is refused, as better-sqlite3 refuses a statement while
// another iterates. Between epochs the trainer is still, so the calls that only read it may
// run there.
void Session::claim(bool betweenEpochsToo) const {
  if (activity_ == Activity::kIdle) return;
  if (activity_ == Activity::kBetweenEpochs && betweenEpochsToo) return;
  throw Error(codes::kBusy, activity_ == Activity::kEvaluating
                                ? "the trainer is busy: an evaluate() is running"
                                : "the trainer is busy: a train() is running");
}

void Session::fixNextChange() {
  if (pending_) next_ = std::exchange(pending_, std::nullopt);
}

void Session::beginRun() {
  std::lock_guard<std::mutex> lock(mutex_);
  claim(false);
  activity_ = Activity::kTraining;
  cancel_ = false;
  open_ = false;
  fixNextChange();
}

namespace {

bool isCancellation(const std::exception_ptr& error) {
  try {
    std::rethrow_exception(error);
  } catch (const Error& caught) {
    return caught.code() == codes::kCancelled;
  } catch (...) {
    return false;
  }
}

}  // namespace

int Session::runEpochs(int epochs, double reportEverySeconds,
                       const std::function<void(const std::vector<EpochMetrics>&)>& report) {
  using Clock = std::chrono::steady_clock;
  const int first = trainer_.epochsDone();
  std::vector<EpochMetrics> batch;
  Clock::time_point lastHandOver = Clock::now();
  const auto handOver = [&] {
    report(batch);
    std::unique_lock<std::mutex> lock(mutex_);
    opened_.wait(lock, [this] { return open_; });
    open_ = false;
    lock.unlock();
    batch.clear();
    // Measured from the listener's release, so that its hand-overs are at least the
    // interval apart however long it takes.
    lastHandOver = Clock::now();
  };
  for (int epoch = 0; epoch < epochs; ++epoch) {
    std::optional<RateChange> change;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      // Checked before the epoch touches the trainer: after stop() it is the caller's.
      if (cancel_)
        throw Error(codes::kCancelled,
                    "training was cancelled before epoch " + std::to_string(first + epoch + 1));
      // No listener released the gate since the last epoch, so none fixed the change set
      // meanwhile: this epoch applies it, as it would after a hand-over.
      if (!batch.empty()) fixNextChange();
      change = std::exchange(next_, std::nullopt);
    }
    EpochMetrics metrics;
    try {
      metrics = trainer_.runEpoch(&cancel_, change ? std::optional<double>(change->rate) : std::nullopt);
    } catch (...) {
      {
        // The epoch was undone, its rate change with it: that change is still to apply,
        // unless a newer one has taken its place.
        std::lock_guard<std::mutex> lock(mutex_);
        if (change && !pending_) pending_ = change;
      }
      // The trainer is back at the end of the batch's last epoch: its listener gets the
      // batch before the error, to see and checkpoint it. A cancel drops the batch instead:
      // after stop() no listener will come.
      if (!batch.empty() && !isCancellation(std::current_exception())) handOver();
      throw;
    }
    if (change) metrics.appliedRateChange = change->id;
    batch.push_back(std::move(metrics));
    const bool due = epoch + 1 == epochs || reportEverySeconds <= 0 || batch.size() == kMaxEpochsPerHandOver ||
                     std::chrono::duration<double>(Clock::now() - lastHandOver).count() >= reportEverySeconds;
    if (due) handOver();
  }
  return epochs;
}

void Session::betweenEpochs(const std::function<void()>& listen) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    // A report that arrives after the run was stopped finds the session past its run.
    if (activity_ == Activity::kTraining) activity_ = Activity::kBetweenEpochs;
  }
  const auto release = [this] {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (activity_ == Activity::kBetweenEpochs) activity_ = Activity::kTraining;
      fixNextChange();
      open_ = true;
    }
    opened_.notify_one();
  };
  try {
    listen();
  } catch (...) {
    release();
    throw;
  }
  release();
}

void Session::endRun() {
  std::lock_guard<std::mutex> lock(mutex_);
  activity_ = Activity::kIdle;
  // A change fixed for an epoch that did not come is pending again, unless a newer one is.
  if (next_ && !pending_) pending_ = next_;
  next_.reset();
}

void Session::beginEvaluation() {
  std::lock_guard<std::mutex> lock(mutex_);
  claim(false);
  activity_ = Activity::kEvaluating;
}

PartMetrics Session::evaluate(const DataView& data) { return trainer_.evaluate(data); }

void Session::endEvaluation() {
  std::lock_guard<std::mutex> lock(mutex_);
  activity_ = Activity::kIdle;
}

void Session::cancel() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (activity_ != Activity::kTraining && activity_ != Activity::kBetweenEpochs) return;
    cancel_ = true;
    open_ = true;
  }
  opened_.notify_one();
}

void Session::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    cancel_ = true;
    open_ = true;
  }
  opened_.notify_one();
}

void Session::setLearningRate(RateChange change) {
  validateLearningRate(change.rate);
  std::lock_guard<std::mutex> lock(mutex_);
  pending_ = change;
}

double Session::nextLearningRate() {
  std::lock_guard<std::mutex> lock(mutex_);
  claim(true);
  if (pending_) return pending_->rate;
  return trainer_.nextLearningRate();
}

int Session::epochsDone() {
  std::lock_guard<std::mutex> lock(mutex_);
  claim(true);
  return trainer_.epochsDone();
}

std::vector<uint8_t> Session::checkpoint() {
  std::lock_guard<std::mutex> lock(mutex_);
  claim(true);
  return trainer_.checkpoint();
}

ModelState Session::model() {
  std::lock_guard<std::mutex> lock(mutex_);
  claim(true);
  return trainer_.model();
}

void Session::restore(const uint8_t* bytes, size_t size) {
  std::lock_guard<std::mutex> lock(mutex_);
  claim(false);
  trainer_.restore(bytes, size);
}

}  // namespace caviar
