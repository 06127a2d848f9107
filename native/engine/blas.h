// The one place that calls CBLAS, overloaded on float (training) and double (gradient
// checking). Row-major throughout, as the network's batch-first layout is.
#pragma once

#if defined(__APPLE__)
#include <Accelerate/Accelerate.h>
#else
#include <cblas.h>
#endif

#include <string>

namespace caviar {

// C (m x n) = alpha * op(A) * op(B) + beta * C, op(X) = X or X^T; A, B, C row-major with
// leading dimensions equal to their stored widths.
void gemm(bool transposeA, bool transposeB, int m, int n, int k, float alpha, const float* a,
          const float* b, float beta, float* c);
void gemm(bool transposeA, bool transposeB, int m, int n, int k, double alpha, const double* a,
          const double* b, double beta, double* c);

// The BLAS library and its CPU core, for the start-up log.
std::string blasInfo();

}  // namespace caviar
