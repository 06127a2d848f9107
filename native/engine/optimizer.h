// The update rules of COURSE-NOTES.md over one contiguous block of parameters:
// sgd, momentum, rmsprop, adam and adamw, with epsilon outside the square root (PyTorch).
#pragma once

#include <cstdint>
#include <vector>

#include "spec.h"

namespace caviar {

// A run of the parameter block. Weight matrices decay (L2 and AdamW); biases and
// batch-norm gamma/beta do not.
struct ParameterSegment {
  int64_t offset = 0;
  int64_t size = 0;
  bool isWeight = false;
};

class Optimizer {
 public:
  Optimizer(const OptimizerSpec& spec, int64_t parameterCount);

  // One update of `parameters` from `gradients` at `learningRate`; counts a step (t).
  void step(float* parameters, const float* gradients,
            const std::vector<ParameterSegment>& segments, double learningRate);
  // The same step in parts that may run concurrently: beginStep counts it, then update
  // covers the elements [begin, end) of the block; updates of disjoint ranges that
  // together cover the block make the same bits as step.
  void beginStep() { ++steps_; }
  void update(float* parameters, const float* gradients,
              const std::vector<ParameterSegment>& segments, double learningRate, int64_t begin,
              int64_t end);

  int64_t steps() const { return steps_; }
  // The moments (v: first, S: second; empty when the rule keeps none) and the step
  // counter, for checkpoints.
  std::vector<float>& firstMoments() { return first_; }
  std::vector<float>& secondMoments() { return second_; }
  const std::vector<float>& firstMoments() const { return first_; }
  const std::vector<float>& secondMoments() const { return second_; }
  void setSteps(int64_t steps) { steps_ = steps; }

 private:
  OptimizerSpec spec_;
  std::vector<float> first_;
  std::vector<float> second_;
  int64_t steps_ = 0;
};

}  // namespace caviar
