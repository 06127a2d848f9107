#include "blas.h"

#include <algorithm>
#include <cstdint>

namespace caviar {
namespace {

// A product is split only into parts of at least this many flops: below it the hand-off and
// the smaller blocks' lower kernel efficiency cost more than a second thread gains. On a
// 2-core AVX-512 machine, 128x64x64 (1 Mflop) took 57% of one call's time in two parts,
// 128x32x64 (0.5 Mflop) 9% more.
constexpr double kMinFlopsPerPart = 5e5;
// Block edges fall on multiples of this, the register tiles of the BLAS kernels: a block
// then runs the same kernels as the whole product.
constexpr int kBlockAlignment = 16;

CBLAS_TRANSPOSE transpose(bool flag) { return flag ? CblasTrans : CblasNoTrans; }

template <typename T>
void splitGemm(bool transposeA, bool transposeB, int m, int n, int k, T alpha, const T* a,
               const T* b, T beta, T* c, WorkPool& pool) {
  const int lda = transposeA ? m : k;
  const int ldb = transposeB ? k : n;
  const int ldc = n;
  // Along n when B is transposed: a forward product's weight matrix (units, in), whose rows
  // each part then reads alone. Along m otherwise: dW's units, dX's rows.
  const bool alongColumns = transposeB;
  const int extent = alongColumns ? n : m;
  const double flops = 2.0 * m * n * k;
  const int tiles = (extent + kBlockAlignment - 1) / kBlockAlignment;
  const int parts = static_cast<int>(std::min(
      {static_cast<double>(pool.threads()), flops / kMinFlopsPerPart, static_cast<double>(tiles)}));
  if (parts < 2) {
    gemmBlock(transposeA, transposeB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    return;
  }
  const auto edge = [&](int part) {
    const auto tile = static_cast<int>(static_cast<int64_t>(tiles) * part / parts);
    return std::min(extent, tile * kBlockAlignment);
  };
  pool.run(parts, [&](int part) {
    const int begin = edge(part);
    const int size = edge(part + 1) - begin;
    if (alongColumns) {
      gemmBlock(transposeA, transposeB, m, size, k, alpha, a, lda,
                b + static_cast<int64_t>(begin) * ldb, ldb, beta, c + begin, ldc);
    } else {
      const T* rowsOfA = transposeA ? a + begin : a + static_cast<int64_t>(begin) * lda;
      gemmBlock(transposeA, transposeB, size, n, k, alpha, rowsOfA, lda, b, ldb, beta,
                c + static_cast<int64_t>(begin) * ldc, ldc);
    }
  });
}

// The thread count the library was given; from here on it runs one thread per call.
int takeBlasThreads() {
#ifdef OPENBLAS_VERSION
  const int threads = openblas_get_num_threads();
  if (threads > 1) openblas_set_num_threads(1);
  return threads;
#else
  return 1;
#endif
}

}  // namespace

void gemmBlock(bool transposeA, bool transposeB, int m, int n, int k, float alpha, const float* a,
               int lda, const float* b, int ldb, float beta, float* c, int ldc) {
  cblas_sgemm(CblasRowMajor, transpose(transposeA), transpose(transposeB), m, n, k, alpha, a, lda,
              b, ldb, beta, c, ldc);
}

void gemmBlock(bool transposeA, bool transposeB, int m, int n, int k, double alpha,
               const double* a, int lda, const double* b, int ldb, double beta, double* c, int ldc) {
  cblas_dgemm(CblasRowMajor, transpose(transposeA), transpose(transposeB), m, n, k, alpha, a, lda,
              b, ldb, beta, c, ldc);
}

void gemm(bool transposeA, bool transposeB, int m, int n, int k, float alpha, const float* a,
          const float* b, float beta, float* c, WorkPool& pool) {
  splitGemm(transposeA, transposeB, m, n, k, alpha, a, b, beta, c, pool);
}

void gemm(bool transposeA, bool transposeB, int m, int n, int k, double alpha, const double* a,
          const double* b, double beta, double* c, WorkPool& pool) {
  splitGemm(transposeA, transposeB, m, n, k, alpha, a, b, beta, c, pool);
}

WorkPool& enginePool() {
  // Never destroyed: a training thread may still be using it while the process exits.
  static WorkPool* const pool = new WorkPool(takeBlasThreads());
  return *pool;
}

#ifdef OPENBLAS_VERSION
std::string blasInfo() {
  std::string version(OPENBLAS_VERSION);  // padded with spaces by OpenBLAS
  version = version.substr(version.find_first_not_of(' '));
  version = version.substr(0, version.find_last_not_of(' ') + 1);
  const int threads = enginePool().threads();
  const std::string training =
      threads == 1 ? "1 thread"
                   : std::to_string(threads) + " threads: the engine's, each calling it single-threaded";
  return version + " (" + openblas_get_corename() + " kernels, " + training + ")";
}
#else
std::string blasInfo() { return "CBLAS"; }
#endif

}  // namespace caviar
