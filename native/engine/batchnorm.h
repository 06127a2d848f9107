// Batch normalization of a layer's pre-activation Z, per unit over the mini-batch
// (Ioffe and Szegedy, 2015; COURSE-NOTES.md). Running statistics follow PyTorch:
// running = (1 - momentum) running + momentum batch, with the unbiased batch variance.
#pragma once

#include <cmath>
#include <cstdint>

namespace caviar {

// values (m, units) in place: Z -> Z_norm. mean, inverseStd (units) receive the batch
// statistics for backward; sums (units doubles) is scratch. Variance in two passes, without
// bias correction, as the normalization uses it.
template <typename T>
void batchNormForwardTraining(T* values, T* mean, T* inverseStd, double* sums, int rows,
                              int units, double epsilon) {
  for (int j = 0; j < units; ++j) sums[j] = 0.0;
  for (int row = 0; row < rows; ++row) {
    const T* z = values + static_cast<int64_t>(row) * units;
    for (int j = 0; j < units; ++j) sums[j] += z[j];
  }
  for (int j = 0; j < units; ++j) {
    mean[j] = static_cast<T>(sums[j] / rows);
    sums[j] = 0.0;
  }
  for (int row = 0; row < rows; ++row) {
    const T* z = values + static_cast<int64_t>(row) * units;
    for (int j = 0; j < units; ++j) {
      const double deviation = z[j] - mean[j];
      sums[j] += deviation * deviation;
    }
  }
  for (int j = 0; j < units; ++j) {
    const double variance = sums[j] / rows;
    inverseStd[j] = static_cast<T>(1.0 / std::sqrt(variance + epsilon));
    sums[j] = variance;  // kept for the running average
  }
  for (int row = 0; row < rows; ++row) {
    T* z = values + static_cast<int64_t>(row) * units;
    for (int j = 0; j < units; ++j) z[j] = (z[j] - mean[j]) * inverseStd[j];
  }
}

// After batchNormForwardTraining: sums holds the biased batch variance.
template <typename T>
void batchNormUpdateRunning(const T* mean, const double* variance, T* runningMean,
                            T* runningVar, int rows, int units, double momentum) {
  const double unbiased = rows > 1 ? static_cast<double>(rows) / (rows - 1) : 1.0;
  for (int j = 0; j < units; ++j) {
    runningMean[j] = static_cast<T>((1.0 - momentum) * runningMean[j] + momentum * mean[j]);
    runningVar[j] =
        static_cast<T>((1.0 - momentum) * runningVar[j] + momentum * variance[j] * unbiased);
  }
}

// values (m, units) in place: Z -> Z_norm with the running statistics (inference).
// inverseStd (units) is scratch.
template <typename T>
void batchNormForwardInference(T* values, const T* runningMean, const T* runningVar,
                               T* inverseStd, int rows, int units, double epsilon) {
  for (int j = 0; j < units; ++j)
    inverseStd[j] = static_cast<T>(1.0 / std::sqrt(runningVar[j] + epsilon));
  for (int row = 0; row < rows; ++row) {
    T* z = values + static_cast<int64_t>(row) * units;
    for (int j = 0; j < units; ++j) z[j] = (z[j] - runningMean[j]) * inverseStd[j];
  }
}

// output (m, units) = gamma * normalized + beta.
template <typename T>
void batchNormScale(const T* normalized, const T* gamma, const T* beta, T* output, int rows,
                    int units) {
  for (int row = 0; row < rows; ++row) {
    const T* x = normalized + static_cast<int64_t>(row) * units;
    T* y = output + static_cast<int64_t>(row) * units;
    for (int j = 0; j < units; ++j) y[j] = gamma[j] * x[j] + beta[j];
  }
}

// gradient (m, units) in place: dJ/dZ_tilde -> dJ/dZ. With s1 = sum_i dZ_tilde and
// s2 = sum_i dZ_tilde * Z_norm per unit: dgamma = s2, dbeta = s1, and
// dZ = gamma * inverseStd / m * (m dZ_tilde - s1 - Z_norm s2).
template <typename T>
void batchNormBackward(const T* normalized, const T* gamma, const T* inverseStd, T* gradient,
                       T* dGamma, T* dBeta, double* sums, int rows, int units) {
  double* gradientSums = sums;
  double* projectedSums = sums + units;
  for (int j = 0; j < units; ++j) gradientSums[j] = projectedSums[j] = 0.0;
  for (int row = 0; row < rows; ++row) {
    const T* dy = gradient + static_cast<int64_t>(row) * units;
    const T* x = normalized + static_cast<int64_t>(row) * units;
    for (int j = 0; j < units; ++j) {
      gradientSums[j] += dy[j];
      projectedSums[j] += static_cast<double>(dy[j]) * x[j];
    }
  }
  for (int j = 0; j < units; ++j) {
    dGamma[j] = static_cast<T>(projectedSums[j]);
    dBeta[j] = static_cast<T>(gradientSums[j]);
    gradientSums[j] /= rows;
    projectedSums[j] /= rows;
  }
  for (int row = 0; row < rows; ++row) {
    T* dy = gradient + static_cast<int64_t>(row) * units;
    const T* x = normalized + static_cast<int64_t>(row) * units;
    for (int j = 0; j < units; ++j)
      dy[j] = static_cast<T>(gamma[j] * inverseStd[j] *
                             (dy[j] - gradientSums[j] - x[j] * projectedSums[j]));
  }
}

}  // namespace caviar
