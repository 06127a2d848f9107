// A fully-connected layer: Z = A_prev W^T + b (batch-first, W as PyTorch's Linear.weight).
// Products too small for BLAS to pay for itself go to small-gemm.h's loops instead.
#pragma once

#include <cstdint>

#include "blas.h"
#include "small-gemm.h"

namespace caviar {

// inputs (m, in), weight (units, in), bias (units) or null, outputs (m, units)
template <typename T>
void denseForward(const T* inputs, const T* weight, const T* bias, T* outputs, int rows,
                  int in, int units) {
  if (isSmallGemm(true, rows, units, in)) {
    smallGemm(false, true, rows, units, in, inputs, weight, bias, outputs);
    return;
  }
  gemm(false, true, rows, units, in, T(1), inputs, weight, T(0), outputs);
  if (bias == nullptr) return;
  for (int row = 0; row < rows; ++row) {
    T* z = outputs + static_cast<int64_t>(row) * units;
    for (int j = 0; j < units; ++j) z[j] += bias[j];
  }
}

// gradient (m, units) is dJ/dZ. Writes dWeight (units, in) = dZ^T A_prev, dBias (units) =
// column sums of dZ (when not null), and dInputs (m, in) = dZ W (when not null: the first
// layer has no use for it).
template <typename T>
void denseBackward(const T* inputs, const T* weight, const T* gradient, T* dWeight, T* dBias,
                   T* dInputs, int rows, int in, int units) {
  if (isSmallGemm(false, units, in, rows)) {
    smallGemm<T>(true, false, units, in, rows, gradient, inputs, nullptr, dWeight);
    if (dBias != nullptr) columnSums(rows, units, gradient, dBias);
  } else {
    gemm(true, false, units, in, rows, T(1), gradient, inputs, T(0), dWeight);
    if (dBias != nullptr) {
      for (int j = 0; j < units; ++j) dBias[j] = T(0);
      for (int row = 0; row < rows; ++row) {
        const T* dz = gradient + static_cast<int64_t>(row) * units;
        for (int j = 0; j < units; ++j) dBias[j] += dz[j];
      }
    }
  }
  if (dInputs == nullptr) return;
  if (isSmallGemm(false, rows, in, units))
    smallGemm<T>(false, false, rows, in, units, gradient, weight, nullptr, dInputs);
  else
    gemm(false, false, rows, in, units, T(1), gradient, weight, T(0), dInputs);
}

}  // namespace caviar
