#include "blas.h"

namespace caviar {
namespace {

CBLAS_TRANSPOSE transpose(bool flag) { return flag ? CblasTrans : CblasNoTrans; }

}  // namespace

void gemm(bool transposeA, bool transposeB, int m, int n, int k, float alpha, const float* a,
          const float* b, float beta, float* c) {
  cblas_sgemm(CblasRowMajor, transpose(transposeA), transpose(transposeB), m, n, k, alpha, a,
              transposeA ? m : k, b, transposeB ? k : n, beta, c, n);
}

void gemm(bool transposeA, bool transposeB, int m, int n, int k, double alpha, const double* a,
          const double* b, double beta, double* c) {
  cblas_dgemm(CblasRowMajor, transpose(transposeA), transpose(transposeB), m, n, k, alpha, a,
              transposeA ? m : k, b, transposeB ? k : n, beta, c, n);
}

#ifdef OPENBLAS_VERSION
std::string blasInfo() {
  std::string version(OPENBLAS_VERSION);  // padded with spaces by OpenBLAS
  version = version.substr(version.find_first_not_of(' '));
  version = version.substr(0, version.find_last_not_of(' ') + 1);
  return version + " (" + openblas_get_corename() + " kernels, " +
         std::to_string(openblas_get_num_threads()) + " threads)";
}
#else
std::string blasInfo() { return "CBLAS"; }
#endif

}  // namespace caviar
