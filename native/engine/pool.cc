// The work pool's hand-off: threads spin briefly for the next part, then sleep.
#include "pool.h"

#include <algorithm>
#include <chrono>
#if defined(__SSE2__)
#include <immintrin.h>
#endif

#include "denormals.h"

namespace caviar {
namespace {

// How long a thread spins for the next job, or for the end of one, before it sleeps. The
// gaps between the parallel parts of a mini-batch (its loss, the products too small to
// split) are tens of microseconds and at times past a hundred, and a worker woken from sleep
// joins tens of microseconds late: at 50 us, the Fashion-MNIST MLP (W1) trained 10% slower
// on 2 threads than at 300. Past this an idle pool takes no core from anyone (a job side by
// side, a server).
constexpr auto kSpin = std::chrono::microseconds(300);

constexpr int kMaxThreads = 256;
constexpr int kMaxParts = 0xffff;

inline void relax() {
#if defined(__SSE2__)
  _mm_pause();  // lets the core's other work run, and leaves the spin without a misprediction storm
#endif
}

// Spins until ready() or for kSpin; returns ready().
template <typename Ready>
bool spinUntil(const Ready& ready) {
  const auto deadline = std::chrono::steady_clock::now() + kSpin;
  for (;;) {
    for (int round = 0; round < 64; ++round) {
      if (ready()) return true;
      relax();
    }
    if (std::chrono::steady_clock::now() >= deadline) return ready();
  }
}

}  // namespace

WorkPool::WorkPool(int threads) : threads_(std::clamp(threads, 1, kMaxThreads)) {
  workers_.reserve(threads_ - 1);
  for (int worker = 1; worker < threads_; ++worker) workers_.emplace_back([this] { work(); });
}

WorkPool::~WorkPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  workArrived_.notify_all();
  for (std::thread& worker : workers_) worker.join();
}

void WorkPool::runErased(int parts, PartCall call, void* context) {
  if (parts <= 0) return;
  bool idle = false;
  if (parts == 1 || parts > kMaxParts || workers_.empty() ||
      !busy_.compare_exchange_strong(idle, true, std::memory_order_acquire)) {
    std::exception_ptr error;
    for (int part = 0; part < parts; ++part) {
      try {
        call(context, part);
      } catch (...) {
        if (!error) error = std::current_exception();
      }
    }
    if (error) std::rethrow_exception(error);
    return;
  }
  call_ = call;
  context_ = context;
  floatControl_ = floatControl();
  partsDone_.store(0, std::memory_order_relaxed);
  const uint64_t generation = generationOf(ticket_.load(std::memory_order_relaxed)) + 1;
  const uint64_t ticket = (generation << (2 * kPartBits)) | (static_cast<uint64_t>(parts) << kPartBits);
  // Sequentially consistent, as the sleepers_ count that follows and a worker's count then
  // check: either the worker sees this job, or this thread sees the worker asleep.
  ticket_.store(ticket);
  if (sleepers_.load() > 0) {
    // A worker between its check and its wait holds the mutex: taking it here means the
    // notification cannot fall in that gap.
    { std::lock_guard<std::mutex> lock(mutex_); }
    workArrived_.notify_all();
  }
  runParts(ticket);
  const auto finished = [&] { return partsDone_.load() == parts; };
  if (!spinUntil(finished)) {
    std::unique_lock<std::mutex> lock(mutex_);
    callerSleeping_.store(true);
    jobFinished_.wait(lock, finished);
    callerSleeping_.store(false);
  }
  std::exception_ptr error = error_;
  error_ = nullptr;
  busy_.store(false, std::memory_order_release);
  if (error) std::rethrow_exception(error);
}

void WorkPool::work() {
  uint64_t seen = 0;
  for (;;) {
    const auto published = [&] { return generationOf(ticket_.load()) != generationOf(seen); };
    if (!spinUntil(published)) {
      std::unique_lock<std::mutex> lock(mutex_);
      sleepers_.fetch_add(1);
      workArrived_.wait(lock, [&] { return stopping_ || published(); });
      sleepers_.fetch_sub(1);
      if (stopping_) return;
    }
    seen = ticket_.load(std::memory_order_acquire);
    runParts(seen);
  }
}

void WorkPool::runParts(uint64_t ticket) {
  const uint64_t generation = generationOf(ticket);
  while (generationOf(ticket) == generation && nextOf(ticket) < partsOf(ticket)) {
    if (ticket_.compare_exchange_weak(ticket, ticket + 1, std::memory_order_acq_rel,
                                      std::memory_order_acquire)) {
      runPart(nextOf(ticket), partsOf(ticket));
      ticket = ticket_.load(std::memory_order_acquire);
    }
  }
}

void WorkPool::runPart(int part, int parts) {
  {
    AdoptFloatControl control(floatControl_);
    try {
      call_(context_, part);
    } catch (...) {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!error_) error_ = std::current_exception();
    }
  }
  // Only the last part can find the caller asleep. If it sees the caller awake, the caller's
  // check that follows sees this count (both sequentially consistent): no notification.
  if (partsDone_.fetch_add(1) + 1 == parts && callerSleeping_.load()) {
    { std::lock_guard<std::mutex> lock(mutex_); }
    jobFinished_.notify_one();
  }
}

}  // namespace caviar
