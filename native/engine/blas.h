// The one place that calls CBLAS, overloaded on float (training) and double (gradient
// checking). Row-major throughout, as the network's batch-first layout is.
#pragma once

#if defined(__APPLE__)
#include <Accelerate/Accelerate.h>
#else
#include <cblas.h>
#endif

#include <string>

#include "pool.h"

namespace caviar {

// C (m x n) = alpha * op(A) * op(B) + beta * C, op(X) = X or X^T; A, B, C row-major with
// leading dimensions equal to their stored widths. A product large enough to gain from it
// is split across `pool` into blocks of C that each thread computes whole (every element
// sums over all of k, as one call would: no reduction between threads).
void gemm(bool transposeA, bool transposeB, int m, int n, int k, float alpha, const float* a,
          const float* b, float beta, float* c, WorkPool& pool);
void gemm(bool transposeA, bool transposeB, int m, int n, int k, double alpha, const double* a,
          const double* b, double beta, double* c, WorkPool& pool);
// The same across the engine's pool.
template <typename T>
void gemm(bool transposeA, bool transposeB, int m, int n, int k, T alpha, const T* a, const T* b,
          T beta, T* c);

// One call on the calling thread, with explicit leading dimensions (row-major: the
// distance between the starts of two rows), for a block of larger matrices.
void gemmBlock(bool transposeA, bool transposeB, int m, int n, int k, float alpha, const float* a,
               int lda, const float* b, int ldb, float beta, float* c, int ldc);
void gemmBlock(bool transposeA, bool transposeB, int m, int n, int k, double alpha,
               const double* a, int lda, const double* b, int ldb, double beta, double* c, int ldc);

// The engine's threads: as many as the BLAS library was given when it loaded
// (OPENBLAS_NUM_THREADS, or the cores), after which the library runs one thread inside each
// of them. Made on first use and kept for the life of the process.
WorkPool& enginePool();

// The BLAS library, its CPU core and the threads that train, for the start-up log.
std::string blasInfo();

template <typename T>
void gemm(bool transposeA, bool transposeB, int m, int n, int k, T alpha, const T* a, const T* b,
          T beta, T* c) {
  gemm(transposeA, transposeB, m, n, k, alpha, a, b, beta, c, enginePool());
}

}  // namespace caviar
