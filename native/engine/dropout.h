// Inverted dropout (training only): D = (U < keep), A = A * D / keep, and the same mask
// scales dA in backprop, so inference needs no rescaling.
#pragma once

#include <cstdint>

#include "rng.h"

namespace caviar {

// activated, output, mask: (m, units). mask holds D / keep for backward.
template <typename T>
void dropoutForward(const T* activated, T* output, T* mask, int64_t count, double keep,
                    Rng& rng) {
  const T scale = static_cast<T>(1.0 / keep);
  const auto threshold = static_cast<float>(keep);
  for (int64_t i = 0; i < count; ++i) {
    mask[i] = rng.uniformFloat() < threshold ? scale : T(0);
    output[i] = activated[i] * mask[i];
  }
}

// gradient (m, units) in place: dOutput -> dActivated.
template <typename T>
void dropoutBackward(T* gradient, const T* mask, int64_t count) {
  for (int64_t i = 0; i < count; ++i) gradient[i] *= mask[i];
}

}  // namespace caviar
