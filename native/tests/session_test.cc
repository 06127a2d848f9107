// Run control (session.h): the busy rules, the hand-overs of epochs and the gate after each,
// cancellation and the rate change, each across threads as the addon uses them (a training
// thread, the thread its reports go to, and others that cancel or set a rate). The
// cross-thread tests are the ones the ThreadSanitizer build (CAVIAR_TSAN) is for.
#include "session.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "error.h"
#include "schedule.h"
#include "testkit.h"

namespace caviar {
namespace {

using testkit::errorCode;
using testkit::layer;
using testkit::network;
using testkit::training;

// Momentum on two blobs, inverse-time decay: every epoch's rate differs from the last.
struct Scenario {
  testkit::Dataset train = testkit::gaussianBlobs(2, 120, 1);
  NetworkSpec net = network(2, {layer(8, Activation::kTanh), layer(2, Activation::kSoftmax)},
                            Loss::kCrossEntropy);
  TrainingSpec spec = [] {
    TrainingSpec value = training(OptimizerType::kMomentum, 0.1, 16, 3);
    value.decay.type = DecayType::kInverseTime;
    value.decay.rate = 0.5;
    return value;
  }();

  std::unique_ptr<Session> session() const {
    return std::make_unique<Session>(net, spec, train.view(), DataView{});
  }
  double rate(double start, int epoch) const { return scheduledLearningRate(spec.decay, start, epoch); }
};

using Batch = std::vector<EpochMetrics>;

// A run on its own thread whose hand-overs queue up for the test's thread, as the addon's
// reports queue up for the JS thread; the test listens to each with betweenEpochs. By
// default every epoch is handed over alone.
class BackgroundRun {
 public:
  BackgroundRun(Session& session, int epochs, double reportEverySeconds = 0) : session_(session) {
    session_.beginRun();
    thread_ = std::thread([this, epochs, reportEverySeconds] {
      try {
        completed_ = session_.runEpochs(epochs, reportEverySeconds, [this](const Batch& batch) {
          std::lock_guard<std::mutex> lock(mutex_);
          reports_.push_back(batch);
          arrived_.notify_all();
        });
      } catch (const Error& error) {
        std::lock_guard<std::mutex> lock(mutex_);
        code_ = error.code();
        message_ = error.what();
      }
      std::lock_guard<std::mutex> lock(mutex_);
      ended_ = true;
      arrived_.notify_all();
    });
  }
  // A test that failed half-way must not leave the thread waiting for a listener.
  ~BackgroundRun() {
    if (!thread_.joinable()) return;
    session_.stop();
    finish();
  }

  // The next hand-over, or nothing once the run has ended without one.
  std::optional<Batch> nextBatch() {
    std::unique_lock<std::mutex> lock(mutex_);
    arrived_.wait(lock, [this] { return !reports_.empty() || ended_; });
    if (reports_.empty()) return std::nullopt;
    Batch batch = std::move(reports_.front());
    reports_.pop_front();
    return batch;
  }
  // For a run that hands over every epoch alone: the next epoch's report.
  std::optional<EpochMetrics> next() {
    const std::optional<Batch> batch = nextBatch();
    if (!batch) return std::nullopt;
    EXPECT_EQ(batch->size(), 1u);
    return batch->front();
  }
  // Whether a report arrives within `wait`.
  bool reportsWithin(std::chrono::milliseconds wait) {
    std::unique_lock<std::mutex> lock(mutex_);
    return arrived_.wait_for(lock, wait, [this] { return !reports_.empty(); });
  }
  // Listens to every hand-over until the run ends, with `listen` between epochs.
  std::vector<Batch> listenToBatches(const std::function<void(const Batch&)>& listen = {}) {
    std::vector<Batch> batches;
    while (std::optional<Batch> batch = nextBatch()) {
      session_.betweenEpochs([&] {
        if (listen) listen(*batch);
      });
      batches.push_back(std::move(*batch));
    }
    return batches;
  }
  // For a run that hands over every epoch alone: listens to each, as listenToBatches does.
  std::vector<EpochMetrics> listen(const std::function<void(const EpochMetrics&)>& listen = {}) {
    std::vector<EpochMetrics> history;
    for (const Batch& batch : listenToBatches([&](const Batch& alone) {
           EXPECT_EQ(alone.size(), 1u);
           if (listen) listen(alone.front());
         }))
      history.insert(history.end(), batch.begin(), batch.end());
    return history;
  }
  // Joins the training thread and ends the run, as the addon does once its thread is done.
  void finish() {
    thread_.join();
    session_.endRun();
  }

  int completed() const { return completed_; }
  // The code the run threw ("" when it ended well), and its message.
  const std::string& code() const { return code_; }
  const std::string& message() const { return message_; }

 private:
  Session& session_;
  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable arrived_;
  std::deque<Batch> reports_;
  bool ended_ = false;
  int completed_ = 0;
  std::string code_, message_;
};

std::vector<double> ratesOf(const std::vector<EpochMetrics>& history) {
  std::vector<double> rates;
  for (const EpochMetrics& metrics : history) rates.push_back(metrics.learningRate);
  return rates;
}

constexpr double kNever = std::numeric_limits<double>::infinity();

TEST(Session, AZeroIntervalHandsOverEveryEpochAloneInOrderAndHoldsTheTrainerForItsListener) {
  const Scenario setup;
  const auto session = setup.session();
  BackgroundRun run(*session, 5, 0.0);
  std::vector<std::vector<uint8_t>> checkpoints;
  const std::vector<Batch> batches = run.listenToBatches([&](const Batch& batch) {
    // The training thread waits for the listener: the trainer is still at this epoch.
    EXPECT_EQ(session->epochsDone(), batch.back().epoch);
    checkpoints.push_back(session->checkpoint());
  });
  run.finish();
  EXPECT_EQ(run.code(), "");
  EXPECT_EQ(run.completed(), 5);
  ASSERT_EQ(batches.size(), 5u);
  for (int index = 0; index < 5; ++index) {
    ASSERT_EQ(batches[index].size(), 1u);
    EXPECT_EQ(batches[index][0].epoch, index + 1);
  }
  EXPECT_EQ(session->epochsDone(), 5);
  EXPECT_EQ(session->checkpoint(), checkpoints.back());
}

// The same training as a run that hands over every epoch, all of it in one hand-over.
TEST(Session, AnInfiniteIntervalHandsOverEveryEpochInOrderOnceAtTheEnd) {
  const Scenario setup;
  const auto perEpoch = setup.session();
  BackgroundRun reference(*perEpoch, 6);
  const std::vector<EpochMetrics> expected = reference.listen();
  reference.finish();
  ASSERT_EQ(expected.size(), 6u);

  const auto session = setup.session();
  BackgroundRun run(*session, 6, kNever);
  std::vector<uint8_t> inside;
  const std::vector<Batch> batches = run.listenToBatches([&](const Batch& batch) {
    EXPECT_EQ(session->epochsDone(), batch.back().epoch);
    inside = session->checkpoint();
  });
  run.finish();
  EXPECT_EQ(run.code(), "");
  EXPECT_EQ(run.completed(), 6);
  ASSERT_EQ(batches.size(), 1u);
  ASSERT_EQ(batches[0].size(), 6u);
  for (int index = 0; index < 6; ++index) {
    EXPECT_EQ(batches[0][index].epoch, index + 1);
    EXPECT_EQ(batches[0][index].learningRate, expected[index].learningRate);
    EXPECT_EQ(batches[0][index].train.loss, expected[index].train.loss);
  }
  EXPECT_EQ(inside, perEpoch->checkpoint());
}

// However short the epochs, a batch holds at most kMaxEpochsPerHandOver of them.
TEST(Session, AHandOverHoldsAtMostItsCapOfEpochs) {
  const Scenario setup;
  const auto session = setup.session();
  const int epochs = static_cast<int>(Session::kMaxEpochsPerHandOver) + 3;
  BackgroundRun run(*session, epochs, kNever);
  const std::vector<Batch> batches = run.listenToBatches([](const Batch&) {});
  run.finish();
  EXPECT_EQ(run.code(), "");
  ASSERT_EQ(batches.size(), 2u);
  EXPECT_EQ(batches[0].size(), Session::kMaxEpochsPerHandOver);
  ASSERT_EQ(batches[1].size(), 3u);
  EXPECT_EQ(batches[1].back().epoch, epochs);
}

// Epochs shorter than the interval go together, and the listener's calls are at least the
// interval apart, whatever the listener costs: it is measured from the release of the last.
TEST(Session, HandsOverEpochsTogetherAtLeastTheIntervalApart) {
  const Scenario setup;
  const auto session = setup.session();
  constexpr double kInterval = 0.02;
  BackgroundRun run(*session, 1000000, kInterval);
  std::vector<std::chrono::steady_clock::time_point> calls;
  const std::vector<Batch> batches = run.listenToBatches([&](const Batch& batch) {
    calls.push_back(std::chrono::steady_clock::now());
    EXPECT_EQ(session->epochsDone(), batch.back().epoch);
    if (calls.size() == 4) session->cancel();
  });
  run.finish();
  EXPECT_EQ(run.code(), codes::kCancelled);
  ASSERT_EQ(batches.size(), 4u);
  int epoch = 0;
  size_t largest = 0;
  for (const Batch& batch : batches) {
    for (const EpochMetrics& metrics : batch) EXPECT_EQ(metrics.epoch, ++epoch);
    largest = std::max(largest, batch.size());
  }
  EXPECT_GT(largest, 1u) << "every epoch was handed over alone";
  // Cancelled inside the listener: no epoch ran past the last one handed over.
  EXPECT_EQ(session->epochsDone(), epoch);
  // A batch of kMaxEpochsPerHandOver goes as soon as it is full, interval or not.
  for (size_t index = 1; index < calls.size(); ++index)
    if (batches[index].size() < Session::kMaxEpochsPerHandOver)
      EXPECT_GE(std::chrono::duration<double>(calls[index] - calls[index - 1]).count(), kInterval)
          << "hand-over " << index + 1;
}

// A cancel drops the epochs since the last hand-over (here there was none yet), though
// the trainer has moved past them.
TEST(Session, ACancelBetweenHandOversThrowsCancelledAndHandsNothingMoreOver) {
  const Scenario setup;
  const auto session = setup.session();
  BackgroundRun run(*session, 1000000, kNever);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  session->cancel();
  // A tiny network may fill a batch of kMaxEpochsPerHandOver within those 20 ms: full
  // batches are handed over, the epochs since the last one are not.
  const std::vector<Batch> before = run.listenToBatches();
  for (const Batch& batch : before) EXPECT_EQ(batch.size(), Session::kMaxEpochsPerHandOver);
  run.finish();
  EXPECT_EQ(run.code(), codes::kCancelled);
  // The session trains on from where the cancel left the trainer.
  const int done = session->epochsDone();
  EXPECT_GE(done, static_cast<int>(before.size() * Session::kMaxEpochsPerHandOver));
  BackgroundRun again(*session, 2, kNever);
  const std::vector<Batch> after = again.listenToBatches();
  again.finish();
  ASSERT_EQ(after.size(), 1u);
  ASSERT_EQ(after[0].size(), 2u);
  EXPECT_EQ(after[0][0].epoch, done + 1);
}

// Plain SGD on a linear regression at a rate past its stable one: the error grows
// geometrically and overflows some epochs in. Those before the failing one are handed
// over first, with the trainer at the end of the last of them.
TEST(Session, ADivergedRunHandsOverTheEpochsBeforeTheFailingOneFirst) {
  Scenario setup;
  setup.spec = training(OptimizerType::kSgd, 3.0, 16, 3);
  setup.net = network(2, {layer(1, Activation::kLinear)}, Loss::kMeanSquaredError);
  const auto session = setup.session();
  BackgroundRun run(*session, 1000, kNever);
  std::vector<uint8_t> inside;
  const std::vector<Batch> batches = run.listenToBatches([&](const Batch& batch) {
    EXPECT_EQ(session->epochsDone(), batch.back().epoch);
    inside = session->checkpoint();
  });
  run.finish();
  EXPECT_EQ(run.code(), codes::kDiverged);
  ASSERT_EQ(batches.size(), 1u);
  const Batch& batch = batches[0];
  ASSERT_GT(batch.size(), 1u);
  for (size_t index = 0; index < batch.size(); ++index) EXPECT_EQ(batch[index].epoch, static_cast<int>(index) + 1);
  EXPECT_NE(run.message().find("in epoch " + std::to_string(batch.size() + 1)), std::string::npos) << run.message();
  // The failed epoch was undone: the trainer is where the listener saw it.
  EXPECT_EQ(session->epochsDone(), static_cast<int>(batch.size()));
  EXPECT_EQ(session->checkpoint(), inside);
}

TEST(Session, RefusesWhatWouldTouchTheTrainerWhileARunOrAnEvaluationHoldsIt) {
  const Scenario setup;
  const auto session = setup.session();
  const std::vector<uint8_t> start = session->checkpoint();
  {
    BackgroundRun run(*session, 3);
    // Before its first report is listened to, the run holds the trainer.
    EXPECT_EQ(errorCode([&] { session->beginRun(); }), codes::kBusy);
    EXPECT_EQ(errorCode([&] { session->beginEvaluation(); }), codes::kBusy);
    EXPECT_EQ(errorCode([&] { session->checkpoint(); }), codes::kBusy);
    EXPECT_EQ(errorCode([&] { session->model(); }), codes::kBusy);
    EXPECT_EQ(errorCode([&] { session->epochsDone(); }), codes::kBusy);
    EXPECT_EQ(errorCode([&] { session->nextLearningRate(); }), codes::kBusy);
    EXPECT_EQ(errorCode([&] { session->restore(start.data(), start.size()); }), codes::kBusy);
    run.listen([&](const EpochMetrics&) {
      // Between epochs the reads work; what would change the trainer does not.
      EXPECT_EQ(errorCode([&] { session->model(); }), "");
      EXPECT_EQ(errorCode([&] { session->beginRun(); }), codes::kBusy);
      EXPECT_EQ(errorCode([&] { session->beginEvaluation(); }), codes::kBusy);
      EXPECT_EQ(errorCode([&] { session->restore(start.data(), start.size()); }), codes::kBusy);
    });
    run.finish();
  }
  session->beginEvaluation();
  try {
    session->beginRun();
    FAIL() << "a run began during an evaluation";
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), codes::kBusy);
    EXPECT_NE(std::string(error.what()).find("evaluate()"), std::string::npos) << error.what();
  }
  EXPECT_EQ(errorCode([&] { session->checkpoint(); }), codes::kBusy);
  session->evaluate(setup.train.view());
  session->endEvaluation();
  // Idle again: everything works.
  session->restore(start.data(), start.size());
  EXPECT_EQ(session->epochsDone(), 0);
}

// Epochs back to back (the listener lets each next one start at once) while another
// thread, neither the training thread nor the listener's, cancels.
TEST(Session, CancelFromAnotherThreadStopsTheRunAndUndoesTheEpochUnderWay) {
  const Scenario setup;
  const auto session = setup.session();
  BackgroundRun run(*session, 100000);
  std::atomic<int> listened{0};
  std::thread canceller([&] {
    while (listened.load() < 3) std::this_thread::yield();
    session->cancel();
  });
  std::vector<uint8_t> last;
  const std::vector<EpochMetrics> history = run.listen([&](const EpochMetrics&) {
    last = session->checkpoint();
    listened.fetch_add(1);
  });
  canceller.join();
  run.finish();
  EXPECT_EQ(run.code(), codes::kCancelled);
  EXPECT_GE(history.size(), 3u);
  EXPECT_LT(history.size(), 100000u);
  // Every epoch that ended was reported; the one the cancel met left no trace.
  EXPECT_EQ(session->epochsDone(), static_cast<int>(history.size()));
  EXPECT_EQ(session->checkpoint(), last);
  // The run is over: a cancel now changes nothing, and the session trains again.
  session->cancel();
  BackgroundRun again(*session, 1);
  EXPECT_EQ(again.listen().size(), 1u);
  again.finish();
  EXPECT_EQ(again.code(), "");
}

TEST(Session, TheNextEpochWaitsUntilTheGateIsReleasedFromAnotherThread) {
  const Scenario setup;
  const auto session = setup.session();
  BackgroundRun run(*session, 2);
  ASSERT_TRUE(run.next().has_value());
  // Nobody has listened to epoch 1 yet: epoch 2 does not start.
  EXPECT_FALSE(run.reportsWithin(std::chrono::milliseconds(100)));
  std::thread listener([&] { session->betweenEpochs([] {}); });
  listener.join();
  const std::optional<EpochMetrics> second = run.next();
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->epoch, 2);
  session->betweenEpochs([] {});
  run.finish();
  EXPECT_EQ(run.code(), "");
}

TEST(Session, StopLetsAThreadWaitingBetweenEpochsLeaveWithoutItsListener) {
  const Scenario setup;
  const auto session = setup.session();
  BackgroundRun run(*session, 5);
  ASSERT_TRUE(run.next().has_value());
  std::thread([&] { session->stop(); }).join();
  EXPECT_FALSE(run.next().has_value());
  run.finish();
  EXPECT_EQ(run.code(), codes::kCancelled);
  EXPECT_NE(run.message().find("before epoch 2"), std::string::npos) << run.message();
}

TEST(Session, AListenerThatThrowsStillLetsTheRunGoOn) {
  const Scenario setup;
  const auto session = setup.session();
  BackgroundRun run(*session, 3);
  int seen = 0;
  while (run.next()) {
    ++seen;
    EXPECT_THROW(session->betweenEpochs([] { throw std::runtime_error("the listener failed"); }),
                 std::runtime_error);
  }
  run.finish();
  EXPECT_EQ(seen, 3);
  EXPECT_EQ(run.code(), "");
}

// A rate set from another thread between epochs 2 and 3 (while the listener holds epoch 2)
// applies from epoch 3, restarting the decay there; epoch 3 alone reports the change.
TEST(Session, ARateSetFromAnotherThreadAppliesAtTheNextEpochExactlyOnce) {
  const Scenario setup;
  const auto session = setup.session();
  BackgroundRun run(*session, 6);
  const std::vector<EpochMetrics> history = run.listen([&](const EpochMetrics& metrics) {
    if (metrics.epoch != 2) return;
    std::thread([&] { session->setLearningRate({0.04, 7}); }).join();
    EXPECT_EQ(session->nextLearningRate(), 0.04);
  });
  run.finish();
  ASSERT_EQ(history.size(), 6u);
  const std::vector<double> expected = {setup.rate(0.1, 0), setup.rate(0.1, 1), setup.rate(0.04, 0),
                                        setup.rate(0.04, 1), setup.rate(0.04, 2), setup.rate(0.04, 3)};
  EXPECT_EQ(ratesOf(history), expected);
  for (const EpochMetrics& metrics : history)
    EXPECT_EQ(metrics.appliedRateChange, metrics.epoch == 3 ? 7 : 0) << "epoch " << metrics.epoch;
  EXPECT_EQ(session->nextLearningRate(), setup.rate(0.04, 4));
}

// A rate set from another thread while epochs run with no hand-over between them applies
// from the next epoch, not from the next hand-over's, and once: it restarts the decay
// there, and no later epoch (the next hand-over's included) applies it again.
TEST(Session, ARateSetBetweenHandOversAppliesAtTheNextEpochExactlyOnce) {
  const Scenario setup;
  const auto session = setup.session();
  constexpr double kInterval = 0.2;
  BackgroundRun run(*session, 1000000, kInterval);
  std::thread setter;
  bool applied = false;
  int listened = 0;
  const std::vector<Batch> batches = run.listenToBatches([&](const Batch& batch) {
    // Half an interval after the first hand-over: far from the hand-overs on either side.
    if (!setter.joinable())
      setter = std::thread([&] {
        std::this_thread::sleep_for(std::chrono::duration<double>(kInterval / 2));
        session->setLearningRate({0.04, 7});
      });
    // One hand-over after the change came, to see that it did not come again.
    if (applied || ++listened == 10) session->cancel();
    for (const EpochMetrics& metrics : batch) applied = applied || metrics.appliedRateChange == 7;
  });
  setter.join();
  run.finish();
  EXPECT_EQ(run.code(), codes::kCancelled);
  int changedAt = 0;
  for (size_t index = 0; index < batches.size(); ++index) {
    const Batch& batch = batches[index];
    for (const EpochMetrics& metrics : batch) {
      if (metrics.appliedRateChange == 0) continue;
      EXPECT_EQ(changedAt, 0) << "applied again at epoch " << metrics.epoch;
      EXPECT_EQ(metrics.appliedRateChange, 7);
      // A tiny network may fill batches of kMaxEpochsPerHandOver well within the interval,
      // and a change set while such a batch's listener runs applies at the next batch's
      // first epoch. After a hand-over of the interval's, far from the setter, it may not.
      const bool afterAFullBatch = index > 0 && batches[index - 1].size() == Session::kMaxEpochsPerHandOver;
      if (!afterAFullBatch)
        EXPECT_NE(&metrics, &batch.front()) << "applied only at a hand-over, at epoch " << metrics.epoch;
      changedAt = metrics.epoch;
    }
  }
  ASSERT_GT(changedAt, 0) << "no epoch handed over applied the change";
  for (const Batch& batch : batches) {
    for (const EpochMetrics& metrics : batch) {
      const double expected = metrics.epoch < changedAt ? setup.rate(0.1, metrics.epoch - 1)
                                                        : setup.rate(0.04, metrics.epoch - changedAt);
      EXPECT_EQ(metrics.learningRate, expected) << "epoch " << metrics.epoch;
    }
  }
}

// Set while an epoch trains, a rate waits for the epoch after it: the epoch under way keeps
// its own. Here the change comes while the run's first epoch is (or is about to be) under way.
TEST(Session, ARateSetDuringAnEpochWaitsForTheEpochAfterIt) {
  const Scenario setup;
  const auto session = setup.session();
  BackgroundRun run(*session, 3);
  std::thread([&] { session->setLearningRate({0.02, 1}); }).join();
  const std::vector<EpochMetrics> history = run.listen();
  run.finish();
  EXPECT_EQ(ratesOf(history), (std::vector<double>{setup.rate(0.1, 0), 0.02, setup.rate(0.02, 1)}));
  EXPECT_EQ(history[1].appliedRateChange, 1);
}

// Changes set from another thread while epochs run back to back (until the setter is done):
// each is applied at most once, in the order set, and every epoch that reports a change
// trains at exactly its rate.
TEST(Session, RatesSetConcurrentlyAreEachAppliedAtMostOnceAndInOrder) {
  const Scenario setup;
  const auto session = setup.session();
  constexpr int kChanges = 200;
  std::atomic<bool> done{false};
  BackgroundRun run(*session, 1000000);
  std::thread setter([&] {
    for (int id = 1; id <= kChanges; ++id) {
      session->setLearningRate({0.001 * id, id});
      std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
    done = true;
  });
  const std::vector<EpochMetrics> history = run.listen([&](const EpochMetrics&) {
    if (done) session->cancel();
  });
  setter.join();
  run.finish();
  EXPECT_EQ(run.code(), codes::kCancelled);
  int64_t last = 0;
  for (const EpochMetrics& metrics : history) {
    if (metrics.appliedRateChange == 0) continue;
    EXPECT_GT(metrics.appliedRateChange, last) << "epoch " << metrics.epoch;
    last = metrics.appliedRateChange;
    EXPECT_EQ(metrics.learningRate, 0.001 * metrics.appliedRateChange) << "epoch " << metrics.epoch;
  }
  // The last change either came with an epoch or waits for the next run.
  if (last < kChanges) {
    EXPECT_EQ(session->nextLearningRate(), 0.001 * kChanges);
    BackgroundRun next(*session, 1);
    const std::vector<EpochMetrics> after = next.listen();
    next.finish();
    ASSERT_EQ(after.size(), 1u);
    EXPECT_EQ(after[0].appliedRateChange, kChanges);
  }
}

TEST(Session, AChangeLeftWhenARunEndsAppliesToTheNextRunsFirstEpoch) {
  const Scenario setup;
  const auto session = setup.session();
  {
    BackgroundRun run(*session, 2);
    run.listen([&](const EpochMetrics& metrics) {
      if (metrics.epoch == 2) session->setLearningRate({0.03, 4});
    });
    run.finish();
  }
  EXPECT_EQ(session->nextLearningRate(), 0.03);
  // Checkpointed before any epoch applied it, the trainer does not have it yet.
  const std::vector<uint8_t> bytes = session->checkpoint();
  BackgroundRun next(*session, 2);
  const std::vector<EpochMetrics> history = next.listen();
  next.finish();
  EXPECT_EQ(ratesOf(history), (std::vector<double>{0.03, setup.rate(0.03, 1)}));
  EXPECT_EQ(history[0].appliedRateChange, 4);
  EXPECT_EQ(history[1].appliedRateChange, 0);

  const auto restored = setup.session();
  restored->restore(bytes.data(), bytes.size());
  EXPECT_EQ(restored->nextLearningRate(), setup.rate(0.1, 2));
}

// An epoch that fails undoes its rate change with the rest: the change is still pending,
// so it is not lost and not counted as applied.
TEST(Session, AChangeWhoseEpochFailsStaysPending) {
  Scenario setup;
  setup.spec = training(OptimizerType::kSgd, 0.05, 16, 13);
  setup.net = network(2, {layer(6, Activation::kLeakyRelu), layer(1, Activation::kLinear)},
                      Loss::kMeanSquaredError);
  setup.train = testkit::xorQuadrants(100, 5);
  const auto session = setup.session();
  const std::vector<uint8_t> before = session->checkpoint();
  session->setLearningRate({1e12, 9});
  BackgroundRun run(*session, 5);
  // At 1e12 the first mini-batch's update overflows: the first epoch diverges.
  EXPECT_TRUE(run.listen().empty());
  run.finish();
  EXPECT_EQ(run.code(), codes::kDiverged);
  EXPECT_EQ(session->checkpoint(), before);
  EXPECT_EQ(session->nextLearningRate(), 1e12);
}

TEST(Session, RefusesARateThatIsNotAPositiveNumber) {
  const Scenario setup;
  const auto session = setup.session();
  for (const double invalid : {0.0, -1.0, std::numeric_limits<double>::quiet_NaN()})
    EXPECT_EQ(errorCode([&] { session->setLearningRate({invalid, 1}); }), codes::kInvalidSpec);
  EXPECT_EQ(session->nextLearningRate(), 0.1);
}

}  // namespace
}  // namespace caviar
