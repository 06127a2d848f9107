// Tests of the engine's work pool and of the work split across it: products, steps, epochs.
#include "pool.h"

#include <dirent.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "blas.h"
#include "denormals.h"
#include "error.h"
#include "testkit.h"
#include "trainer.h"

namespace caviar {
namespace {

using testkit::layer;

std::vector<float> uniform(int64_t count, uint64_t seed) {
  Rng rng(seed);
  std::vector<float> values(count);
  for (float& value : values) value = 2.0f * rng.uniformFloat() - 1.0f;
  return values;
}

// The process's threads, with the clock ticks of CPU each has used (Linux's /proc).
std::map<std::string, long> threadTicks() {
  std::map<std::string, long> ticks;
  DIR* tasks = opendir("/proc/self/task");
  if (tasks == nullptr) return ticks;
  while (const dirent* entry = readdir(tasks)) {
    if (entry->d_name[0] == '.') continue;
    std::ifstream stat(std::string("/proc/self/task/") + entry->d_name + "/stat");
    std::string line;
    std::getline(stat, line);
    // After the parenthesized name: state, then fields 4 to 13, then utime and stime.
    std::istringstream fields(line.substr(line.rfind(')') + 2));
    std::string field;
    long user = 0, system = 0;
    for (int index = 3; index <= 13; ++index) fields >> field;
    fields >> user >> system;
    ticks[entry->d_name] = user + system;
  }
  closedir(tasks);
  return ticks;
}

// Polls `condition` for up to two seconds.
template <typename Condition>
bool eventually(const Condition& condition) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

TEST(WorkPool, RunsEveryPartExactlyOnce) {
  for (int threads = 1; threads <= 4; ++threads) {
    WorkPool pool(threads);
    EXPECT_EQ(pool.threads(), threads);
    for (int parts = 0; parts <= 9; ++parts) {
      for (int job = 0; job < 50; ++job) {
        std::vector<std::atomic<int>> runs(parts);
        pool.run(parts, [&](int part) { runs[part].fetch_add(1); });
        for (int part = 0; part < parts; ++part)
          ASSERT_EQ(runs[part].load(), 1) << threads << " threads, part " << part << " of " << parts;
      }
    }
  }
}

// Each part waits until the other has started: only two threads at once can finish them,
// whether the worker was spinning or asleep when they were handed out.
TEST(WorkPool, AWorkerTakesPartsBesideTheCaller) {
  WorkPool pool(2);
  for (int job = 0; job < 20; ++job) {
    std::atomic<int> started{0};
    pool.run(2, [&](int) {
      started.fetch_add(1);
      while (started.load() < 2) std::this_thread::yield();
    });
    if (job % 5 == 4) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

TEST(WorkPool, RethrowsThePartsExceptionOnceEveryPartHasRun) {
  for (int threads = 1; threads <= 3; ++threads) {
    WorkPool pool(threads);
    std::atomic<int> ran{0};
    EXPECT_THROW(pool.run(6,
                          [&](int part) {
                            ran.fetch_add(1);
                            if (part == 3) throw std::runtime_error("part 3");
                          }),
                 std::runtime_error);
    EXPECT_EQ(ran.load(), 6);
    std::atomic<int> after{0};
    pool.run(4, [&](int) { after.fetch_add(1); });
    EXPECT_EQ(after.load(), 4) << "the pool works after a part threw";
  }
}

// A part that asks for the pool again, and callers that ask for it at once, run their
// parts themselves: nothing waits on a pool that is busy.
TEST(WorkPool, NestedAndConcurrentCallersRunTheirPartsThemselves) {
  WorkPool pool(3);
  std::atomic<int64_t> total{0};
  const auto nested = [&] {
    for (int job = 0; job < 500; ++job) {
      pool.run(3, [&](int outer) {
        pool.run(2, [&](int inner) { total.fetch_add(outer * 2 + inner + 1); });
      });
    }
  };
  std::thread other(nested);
  nested();
  other.join();
  EXPECT_EQ(total.load(), 2 * 500 * 21);
}

// The workers' CPU time is read from their own clocks: other threads of the process (the
// BLAS library's, which spin a while after they start) are not the pool's.
TEST(WorkPool, IdleWorkersSleepInsteadOfSpinning) {
  const std::map<std::string, long> others = threadTicks();
  WorkPool pool(3);
  std::atomic<int> ran{0};
  pool.run(3, [&](int) { ran.fetch_add(1); });
  ASSERT_TRUE(eventually([&] { return pool.sleepingWorkers() == 2; }))
      << pool.sleepingWorkers() << " of 2 workers asleep";
  const auto workerTicks = [&] {
    long total = 0;
    for (const auto& [thread, ticks] : threadTicks())
      if (others.count(thread) == 0 && thread != std::to_string(gettid())) total += ticks;
    return total;
  };
  const long before = workerTicks();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_LE(workerTicks() - before, 2) << "clock ticks the workers used in 300 ms idle";
  pool.run(3, [&](int) { ran.fetch_add(1); });
  EXPECT_EQ(ran.load(), 6) << "sleeping workers wake for the next job";
}

TEST(WorkPool, PartsRunWithTheCallersFlushModes) {
  WorkPool pool(2);
  const auto flushes = [] {
    volatile float tiny = 1e-39f;  // subnormal: read as 0 with denormals-are-zero
    return tiny * 1.0f == 0.0f;
  };
  for (const bool flushing : {true, false, true}) {
    std::atomic<int> agreeing{0};
    const auto run = [&] {
      for (int job = 0; job < 20; ++job)
        pool.run(2, [&](int) { agreeing.fetch_add(flushes() == flushing ? 1 : 0); });
    };
    if (flushing) {
      FlushDenormals flush;
      run();
    } else {
      run();
    }
    EXPECT_EQ(agreeing.load(), 40) << (flushing ? "flushing" : "not flushing");
  }
}

struct Product {
  bool transposeA, transposeB;
  int m, n, k;
};

// For each element of op(A) * op(B), the sum over k of |a| * |b|: what bounds the rounding
// of any order of its sum.
std::vector<double> absoluteProducts(const Product& p, const std::vector<float>& a,
                                     const std::vector<float>& b) {
  std::vector<double> sums(static_cast<size_t>(p.m) * p.n, 0.0);
  for (int i = 0; i < p.m; ++i)
    for (int l = 0; l < p.k; ++l) {
      const double left = std::fabs(p.transposeA ? a[static_cast<size_t>(l) * p.m + i]
                                                 : a[static_cast<size_t>(i) * p.k + l]);
      for (int j = 0; j < p.n; ++j)
        sums[static_cast<size_t>(i) * p.n + j] +=
            left * std::fabs(p.transposeB ? b[static_cast<size_t>(j) * p.k + l]
                                          : b[static_cast<size_t>(l) * p.n + j]);
    }
  return sums;
}

// A product split into blocks of C sums each element over all of k on one thread, with no
// reduction between threads: it repeats bit for bit at a thread count, and differs from one
// call only as two orders of the same sum may (some kernels, OpenBLAS's Haswell and Zen ones,
// sum a block's elements in another order than the whole product's; SkylakeX's do not).
// W1's products, shapes that do not divide into the kernels' tiles, blocks small enough for
// the library's small-matrix kernels, and each transposition.
TEST(SplitGemm, RepeatsBitForBitAndAgreesWithOneCallWithinRounding) {
  const std::vector<Product> products = {
      {false, true, 128, 256, 784}, {false, true, 128, 128, 256}, {false, true, 128, 10, 128},
      {true, false, 10, 128, 128},  {false, false, 128, 128, 10}, {true, false, 128, 256, 128},
      {false, false, 128, 256, 128}, {true, false, 256, 784, 128}, {false, true, 512, 256, 784},
      {false, true, 77, 203, 301},  {true, false, 203, 301, 77},  {false, false, 301, 77, 203},
      {true, true, 150, 190, 170},  {false, true, 33, 1000, 64},  {true, false, 1000, 33, 64},
      {false, false, 128, 64, 64},  {false, true, 100, 100, 100}, {true, false, 100, 100, 100},
      {false, false, 100, 100, 100},
  };
  enginePool();  // the BLAS library runs one thread per call from here on
  for (const Product& p : products) {
    const std::vector<float> a = uniform(static_cast<int64_t>(p.m) * p.k, 1);
    const std::vector<float> b = uniform(static_cast<int64_t>(p.k) * p.n, 2);
    std::vector<float> whole = uniform(static_cast<int64_t>(p.m) * p.n, 3);
    gemmBlock(p.transposeA, p.transposeB, p.m, p.n, p.k, 1.0f, a.data(), p.transposeA ? p.m : p.k,
              b.data(), p.transposeB ? p.k : p.n, 0.0f, whole.data(), p.n);
    const std::vector<double> bounds = absoluteProducts(p, a, b);
    // Two summation orders of k terms in float differ by at most 2 k u / (1 - k u) of the
    // sum of the terms' magnitudes (u = 2^-24).
    const double unit = std::ldexp(1.0, -24);
    const double factor = 2.0 * p.k * unit / (1.0 - p.k * unit);
    for (int threads = 2; threads <= 4; ++threads) {
      WorkPool pool(threads);
      std::vector<float> split = uniform(static_cast<int64_t>(p.m) * p.n, 4);
      std::vector<float> again = uniform(static_cast<int64_t>(p.m) * p.n, 5);
      gemm(p.transposeA, p.transposeB, p.m, p.n, p.k, 1.0f, a.data(), b.data(), 0.0f, split.data(), pool);
      gemm(p.transposeA, p.transposeB, p.m, p.n, p.k, 1.0f, a.data(), b.data(), 0.0f, again.data(), pool);
      const std::string shape = std::to_string(p.m) + "x" + std::to_string(p.n) + "x" +
                                std::to_string(p.k) + " (" + std::to_string(p.transposeA) +
                                std::to_string(p.transposeB) + ") in " + std::to_string(threads) +
                                " threads";
      EXPECT_EQ(std::memcmp(split.data(), again.data(), sizeof(float) * split.size()), 0) << shape;
      size_t outside = 0;
      for (size_t i = 0; i < whole.size(); ++i)
        if (std::fabs(static_cast<double>(split[i]) - whole[i]) > factor * bounds[i]) ++outside;
      EXPECT_EQ(outside, 0u) << shape << ": elements farther from one call's than rounding allows";
    }
  }
}

// A network whose products, optimizer step and gather are all large enough to be split.
struct SplitScenario {
  testkit::Dataset train, dev;
  NetworkSpec network;
  TrainingSpec training;
  SplitScenario() {
    const int features = 300;
    train.rows = 640;
    dev.rows = 100;
    for (testkit::Dataset* part : {&train, &dev}) {
      part->features = features;
      part->targets = 1;
      part->x = uniform(part->rows * features, part == &train ? 5 : 6);
      for (int64_t row = 0; row < part->rows; ++row)
        part->y.push_back(static_cast<float>((part->x[row * features] > 0) + 2 * (part->x[row * features + 1] > 0)));
    }
    network = testkit::network(features,
                               {layer(256, Activation::kRelu, false, 0.1f), layer(128, Activation::kRelu),
                                layer(4, Activation::kSoftmax)},
                               Loss::kCrossEntropy);
    training = testkit::training(OptimizerType::kAdam, 0.001, 128, 7);
  }
  std::unique_ptr<Trainer> makeTrainer() const {
    return std::make_unique<Trainer>(network, training, train.view(), dev.view());
  }
};

std::vector<float> parametersOf(const Trainer& trainer) {
  std::vector<float> values;
  for (const auto& entry : trainer.model().layers) {
    values.insert(values.end(), entry.weight.begin(), entry.weight.end());
    values.insert(values.end(), entry.bias.begin(), entry.bias.end());
  }
  return values;
}

TEST(SplitTraining, RepeatsBitForBitWithTheEnginesThreads) {
  if (enginePool().threads() < 2) GTEST_SKIP() << "the engine has 1 thread here";
  const SplitScenario scenario;
  const auto first = scenario.makeTrainer();
  const auto second = scenario.makeTrainer();
  std::vector<double> losses;
  for (int epoch = 0; epoch < 3; ++epoch) {
    const EpochMetrics one = first->runEpoch();
    losses.push_back(one.train.loss);
    const EpochMetrics other = second->runEpoch();
    EXPECT_EQ(one.train.loss, other.train.loss);
    EXPECT_EQ(one.dev->loss, other.dev->loss);
    for (size_t index = 0; index < one.layers.size(); ++index)
      EXPECT_EQ(one.layers[index].gradNorm, other.layers[index].gradNorm);
  }
  const std::vector<float> firstParameters = parametersOf(*first);
  const std::vector<float> secondParameters = parametersOf(*second);
  ASSERT_EQ(firstParameters.size(), secondParameters.size());
  EXPECT_EQ(std::memcmp(firstParameters.data(), secondParameters.data(),
                        sizeof(float) * firstParameters.size()),
            0);
  EXPECT_LT(losses.back(), losses.front()) << "it learns";

}

// Cancelled from another thread at a moment that varies, while parts are in flight: the
// epoch stops, the pool is left usable, and the trainer goes on as if it had not run.
TEST(SplitTraining, CancelMidEpochNeitherHangsNorLeavesATrace) {
  if (enginePool().threads() < 2) GTEST_SKIP() << "the engine has 1 thread here";
  const SplitScenario scenario;
  for (const int delayMicroseconds : {0, 300, 1000, 3000}) {
    const auto trainer = scenario.makeTrainer();
    std::atomic<bool> cancel{false};
    std::thread canceller([&] {
      std::this_thread::sleep_for(std::chrono::microseconds(delayMicroseconds));
      cancel = true;
    });
    int done = 0;
    std::string code;
    while (code.empty() && done < 50) {
      code = testkit::errorCode([&] { trainer->runEpoch(&cancel); });
      if (code.empty()) ++done;
    }
    canceller.join();
    EXPECT_EQ(code, codes::kCancelled);
    EXPECT_EQ(trainer->epochsDone(), done);
    const auto fresh = scenario.makeTrainer();
    for (int epoch = 0; epoch < done + 1; ++epoch) fresh->runEpoch();
    trainer->runEpoch();
    const std::vector<float> resumed = parametersOf(*trainer);
    const std::vector<float> straight = parametersOf(*fresh);
    EXPECT_EQ(std::memcmp(resumed.data(), straight.data(), sizeof(float) * resumed.size()), 0)
        << "cancelled after " << delayMicroseconds << " us";
  }
}

}  // namespace
}  // namespace caviar
