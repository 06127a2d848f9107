#include "optimizer.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace caviar {

Optimizer::Optimizer(const OptimizerSpec& spec, int64_t parameterCount) : spec_(spec) {
  const bool keepsFirst = spec.type == OptimizerType::kMomentum ||
                          spec.type == OptimizerType::kAdam || spec.type == OptimizerType::kAdamW;
  const bool keepsSecond = spec.type == OptimizerType::kRmsprop ||
                           spec.type == OptimizerType::kAdam || spec.type == OptimizerType::kAdamW;
  if (keepsFirst) first_.assign(static_cast<size_t>(parameterCount), 0.0f);
  if (keepsSecond) second_.assign(static_cast<size_t>(parameterCount), 0.0f);
}

// Each rule is one fused pass over the block: the moments are updated and used while the
// gradient is in a register, rather than in separate element-wise sweeps. 1 - beta is
// computed in double and then rounded, as PyTorch does with its Python-float scalars:
// 1.0f - 0.999f is off by 1e-5, relative.
// Built twice, and chosen when the library loads: with AVX2 on the CPUs that have it (8
// floats a vector, twice SSE's 4), and for any x86-64. Element-wise only, without FMA
// contraction (ISO C++ mode), so both give the same bits. Not under ThreadSanitizer, which
// instruments the chooser, and the chooser runs before the sanitizer's runtime has started.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_THREAD__)
__attribute__((target_clones("avx2", "default")))
#endif
void Optimizer::update(float* parameters, const float* gradients,
                       const std::vector<ParameterSegment>& segments, double learningRate,
                       int64_t begin, int64_t end) {
  const auto rate = static_cast<float>(learningRate);
  float* first = first_.data();
  float* second = second_.data();
  for (const ParameterSegment& segment : segments) {
    const int64_t from = std::max(begin, segment.offset);
    const int64_t size = std::min(end, segment.offset + segment.size) - from;
    if (size <= 0) continue;
    float* w = parameters + from;
    const float* g = gradients + from;
    float* v = first + from;
    float* s = second + from;
    switch (spec_.type) {
      case OptimizerType::kSgd:
        for (int64_t i = 0; i < size; ++i) w[i] -= rate * g[i];
        break;
      case OptimizerType::kMomentum: {
        const auto beta = static_cast<float>(spec_.beta);
        const auto oneMinusBeta = static_cast<float>(1.0 - spec_.beta);
        for (int64_t i = 0; i < size; ++i) {
          v[i] = beta * v[i] + oneMinusBeta * g[i];
          w[i] -= rate * v[i];
        }
        break;
      }
      case OptimizerType::kRmsprop: {
        const auto beta = static_cast<float>(spec_.beta);
        const auto oneMinusBeta = static_cast<float>(1.0 - spec_.beta);
        const auto epsilon = static_cast<float>(spec_.epsilon);
        for (int64_t i = 0; i < size; ++i) {
          s[i] = beta * s[i] + oneMinusBeta * g[i] * g[i];
          w[i] -= rate * g[i] / (std::sqrt(s[i]) + epsilon);
        }
        break;
      }
      case OptimizerType::kAdam:
      case OptimizerType::kAdamW: {
        // Decoupled weight decay (Loshchilov and Hutter) before the Adam step, on weights
        // only, as PyTorch's AdamW does.
        if (spec_.type == OptimizerType::kAdamW && segment.isWeight) {
          const auto keep = static_cast<float>(1.0 - learningRate * spec_.weightDecay);
          for (int64_t i = 0; i < size; ++i) w[i] *= keep;
        }
        const auto beta1 = static_cast<float>(spec_.beta1);
        const auto beta2 = static_cast<float>(spec_.beta2);
        const auto oneMinusBeta1 = static_cast<float>(1.0 - spec_.beta1);
        const auto oneMinusBeta2 = static_cast<float>(1.0 - spec_.beta2);
        const double correction1 = 1.0 - std::pow(spec_.beta1, static_cast<double>(steps_));
        const double correction2 = 1.0 - std::pow(spec_.beta2, static_cast<double>(steps_));
        // W -= rate * (v / c1) / (sqrt(S / c2) + eps), written as PyTorch evaluates it.
        const auto stepSize = static_cast<float>(learningRate / correction1);
        const auto rootCorrection2 = static_cast<float>(std::sqrt(correction2));
        const auto epsilon = static_cast<float>(spec_.epsilon);
        for (int64_t i = 0; i < size; ++i) {
          v[i] = beta1 * v[i] + oneMinusBeta1 * g[i];
          s[i] = beta2 * s[i] + oneMinusBeta2 * g[i] * g[i];
          w[i] -= stepSize * v[i] / (std::sqrt(s[i]) / rootCorrection2 + epsilon);
        }
        break;
      }
    }
  }
}

void Optimizer::step(float* parameters, const float* gradients,
                     const std::vector<ParameterSegment>& segments, double learningRate) {
  beginStep();
  update(parameters, gradients, segments, learningRate, 0, std::numeric_limits<int64_t>::max());
}

}  // namespace caviar
