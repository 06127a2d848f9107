// Input normalization (COURSE-NOTES.md): statistics from the training part only, then
// x' = (x - shift) / scale for every part and every later prediction. They are part of
// the saved model.
#pragma once

#include <cstdint>
#include <vector>

#include "spec.h"

namespace caviar {

// "standard": shift = mean, scale = standard deviation; "minmax": shift = min,
// scale = max - min; "none": 0 and 1. A constant feature gets scale 1 (the guard for
// sigma = 0), which maps it to 0.
void computeNormalization(Normalization normalization, const float* x, int64_t rows,
                          int features, std::vector<float>& shift, std::vector<float>& scale);

// output (rows, features) = (x - shift) / scale; output may be x.
void applyNormalization(const float* x, int64_t rows, int features, const std::vector<float>& shift,
                        const std::vector<float>& scale, float* output);

}  // namespace caviar
