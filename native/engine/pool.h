// The engine's own threads: a small pool that splits the work of a mini-batch (its matrix
// products, its optimizer step, its gather) into parts with disjoint outputs.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <mutex>
#include <thread>
#include <type_traits>
#include <vector>

namespace caviar {

// Parts are claimed by whichever thread comes first, the caller included, so a part's
// result must not depend on the thread that runs it: work is divided by its size and the
// pool's thread count only, which keeps a run's bits the same from one run to the next.
// One caller uses the pool at a time; another caller meanwhile, or a part that asks for
// the pool again, runs all its parts itself, with the same results.
class WorkPool {
 public:
  // `threads` counts the caller: threads - 1 workers are started, none for 1.
  explicit WorkPool(int threads);
  ~WorkPool();
  WorkPool(const WorkPool&) = delete;
  WorkPool& operator=(const WorkPool&) = delete;

  int threads() const { return threads_; }

  // Calls task(part) for every part in [0, parts), each once, and returns when all have
  // returned. Each part runs with the caller's floating-point control (flush-to-zero,
  // denormals-are-zero). When parts throw, the first exception caught is rethrown here,
  // after every part has run or thrown.
  template <typename Task>
  void run(int parts, Task&& task) {
    using Callable = std::remove_reference_t<Task>;
    runErased(parts, [](void* context, int part) { (*static_cast<Callable*>(context))(part); },
              const_cast<void*>(static_cast<const void*>(&task)));
  }

  // Workers blocked in the kernel waiting for work (not spinning), for tests.
  int sleepingWorkers() const { return sleepers_.load(); }

 private:
  using PartCall = void (*)(void* context, int part);
  void runErased(int parts, PartCall call, void* context);
  void work();
  // Claims and runs parts of the job published in `ticket_` as `seen` until none is left.
  void runParts(uint64_t seen);
  void runPart(int part, int parts);

  // A job's generation, its part count and the next part to claim, in one word: claiming
  // a part is one compare-and-swap that fails when the job has changed meanwhile.
  static constexpr int kPartBits = 16;
  static uint64_t generationOf(uint64_t ticket) { return ticket >> (2 * kPartBits); }
  static int partsOf(uint64_t ticket) { return static_cast<int>((ticket >> kPartBits) & 0xffff); }
  static int nextOf(uint64_t ticket) { return static_cast<int>(ticket & 0xffff); }

  const int threads_;
  std::vector<std::thread> workers_;
  std::atomic<bool> busy_{false};  // a caller holds the pool
  std::atomic<uint64_t> ticket_{0};
  std::atomic<int> partsDone_{0};
  // The job's task and control word: written before its ticket is published, read only by
  // a thread that has claimed one of its parts (the job cannot end before that part does).
  PartCall call_ = nullptr;
  void* context_ = nullptr;
  unsigned floatControl_ = 0;

  std::mutex mutex_;  // guards the waits below and error_
  std::condition_variable workArrived_, jobFinished_;
  std::atomic<int> sleepers_{0};
  std::atomic<bool> callerSleeping_{false};
  std::exception_ptr error_;
  bool stopping_ = false;
};

}  // namespace caviar
