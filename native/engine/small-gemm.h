// Matrix products too small for a BLAS call to pay for itself, as plain loops. Each call
// to sgemm has a fixed cost (argument checks, the choice of kernel, packing the operands
// into its panels) that a tiny network's products do not amortize: a 64 x 2 x 5 product is
// 640 multiply-adds, and in the training loop of a 2-5-2-1 network the eight products of a
// mini-batch, with their bias passes, took about 1.2 us more through OpenBLAS than here.
//
// Each row of C is built in registers as a sum of B's rows scaled by op(A)'s entries
// (C_i = sum_p op(A)_ip op(B)_p), a strip of at most 8 columns at a time, the width a
// template argument so that the strip stays in registers; for depths k up to 5, B's k rows
// of the strip stay in registers too. A sum over k >= 16 steps runs in four interleaved
// partial sums (p mod 4, each in ascending p), added as (0 + 1) + (2 + 3): one running sum
// would make every step wait for the previous one; a shorter one runs in ascending p. The
// loops vectorize across the columns of C only, so the order of every sum, and so the bits
// of C, depend on k alone: not on the rest of the call, nor on the vector width the
// compiler picks.
#pragma once

#include <algorithm>
#include <cstdint>

namespace caviar {

// Multiply-adds (m n k) up to which smallGemm is faster than OpenBLAS (0.3.21, one thread)
// inside training, measured on networks of two hidden layers in 64-row batches: with 8 x 8
// units (products of up to 4096) the loops won, with 12 x 12 (up to 9216) BLAS did.
constexpr int64_t kSmallGemmLimit = 4096;
// op(B) = B^T is copied, transposed, into a buffer on the stack of this many elements.
constexpr int64_t kSmallGemmTransposedLimit = 1024;

// Whether smallGemm takes this product.
inline bool isSmallGemm(bool transposeB, int m, int n, int k) {
  return static_cast<int64_t>(m) * n * k <= kSmallGemmLimit &&
         (!transposeB || static_cast<int64_t>(n) * k <= kSmallGemmTransposedLimit);
}

namespace detail {

constexpr int kWidestStrip = 8;
constexpr int kPartialSums = 4;
// Sums over fewer steps than this run as one: the partial sums' setup and final additions
// would cost more than the waiting they save.
constexpr int64_t kPartialSumsFrom = 16;

template <int Width, typename T>
void addScaledRow(T (&sum)[Width], T factor, const T* __restrict row) {
  for (int j = 0; j < Width; ++j) sum[j] += factor * row[j];
}

// strip (below) for a depth known at compile time: B's Depth x Width entries stay in
// registers across all the rows.
template <int Width, int Depth, typename T>
void shallowStrip(int64_t m, const T* a, int64_t aRow, int64_t aColumn, const T* b,
                  int64_t ldb, const T (&initial)[Width], T* c, int64_t ldc) {
  T bRows[Depth][Width];
  for (int p = 0; p < Depth; ++p)
    for (int j = 0; j < Width; ++j) bRows[p][j] = b[p * ldb + j];
  for (int64_t i = 0; i < m; ++i) {
    const T* factors = a + i * aRow;
    T sum[Width];
    for (int j = 0; j < Width; ++j) sum[j] = initial[j];
    for (int p = 0; p < Depth; ++p) addScaledRow(sum, factors[p * aColumn], bRows[p]);
    T* __restrict row = c + i * ldc;
    for (int j = 0; j < Width; ++j) row[j] = sum[j];
  }
}

// Columns [0, Width) of C (m rows, ldc apart) from op(A) (entry ip at a[i aRow + p aColumn])
// and B's rows (k of them, ldb apart), each row of C starting from `start` (Width of them)
// when it is not null.
template <int Width, typename T>
void strip(int64_t m, int64_t k, const T* a, int64_t aRow, int64_t aColumn, const T* b,
           int64_t ldb, const T* start, T* c, int64_t ldc) {
  T initial[Width] = {};
  if (start != nullptr)
    for (int j = 0; j < Width; ++j) initial[j] = start[j];
  switch (k) {
    case 1: return shallowStrip<Width, 1>(m, a, aRow, aColumn, b, ldb, initial, c, ldc);
    case 2: return shallowStrip<Width, 2>(m, a, aRow, aColumn, b, ldb, initial, c, ldc);
    case 3: return shallowStrip<Width, 3>(m, a, aRow, aColumn, b, ldb, initial, c, ldc);
    case 4: return shallowStrip<Width, 4>(m, a, aRow, aColumn, b, ldb, initial, c, ldc);
    case 5: return shallowStrip<Width, 5>(m, a, aRow, aColumn, b, ldb, initial, c, ldc);
    default: break;
  }
  for (int64_t i = 0; i < m; ++i) {
    const T* factors = a + i * aRow;
    T* __restrict row = c + i * ldc;
    if (k < kPartialSumsFrom) {
      T sum[Width];
      for (int j = 0; j < Width; ++j) sum[j] = initial[j];
      for (int64_t p = 0; p < k; ++p) addScaledRow(sum, factors[p * aColumn], b + p * ldb);
      for (int j = 0; j < Width; ++j) row[j] = sum[j];
      continue;
    }
    T sums[kPartialSums][Width] = {};
    for (int j = 0; j < Width; ++j) sums[0][j] = initial[j];
    int64_t p = 0;
    for (; p + kPartialSums <= k; p += kPartialSums) {
      addScaledRow(sums[0], factors[p * aColumn], b + p * ldb);
      addScaledRow(sums[1], factors[(p + 1) * aColumn], b + (p + 1) * ldb);
      addScaledRow(sums[2], factors[(p + 2) * aColumn], b + (p + 2) * ldb);
      addScaledRow(sums[3], factors[(p + 3) * aColumn], b + (p + 3) * ldb);
    }
    if (p < k) addScaledRow(sums[0], factors[p * aColumn], b + p * ldb);
    if (p + 1 < k) addScaledRow(sums[1], factors[(p + 1) * aColumn], b + (p + 1) * ldb);
    if (p + 2 < k) addScaledRow(sums[2], factors[(p + 2) * aColumn], b + (p + 2) * ldb);
    for (int j = 0; j < Width; ++j) row[j] = (sums[0][j] + sums[1][j]) + (sums[2][j] + sums[3][j]);
  }
}

// C (m x n) from op(A) and op(B) whose rows are contiguous, in strips of at most
// kWidestStrip columns.
template <typename T>
void strips(int64_t m, int64_t n, int64_t k, const T* a, int64_t aRow, int64_t aColumn,
            const T* b, const T* start, T* c) {
  for (int64_t first = 0; first < n; first += kWidestStrip) {
    const int width = static_cast<int>(std::min<int64_t>(kWidestStrip, n - first));
    const T* bColumns = b + first;
    const T* startColumns = start == nullptr ? nullptr : start + first;
    T* cColumns = c + first;
    switch (width) {
      case 1: strip<1>(m, k, a, aRow, aColumn, bColumns, n, startColumns, cColumns, n); break;
      case 2: strip<2>(m, k, a, aRow, aColumn, bColumns, n, startColumns, cColumns, n); break;
      case 3: strip<3>(m, k, a, aRow, aColumn, bColumns, n, startColumns, cColumns, n); break;
      case 4: strip<4>(m, k, a, aRow, aColumn, bColumns, n, startColumns, cColumns, n); break;
      case 5: strip<5>(m, k, a, aRow, aColumn, bColumns, n, startColumns, cColumns, n); break;
      case 6: strip<6>(m, k, a, aRow, aColumn, bColumns, n, startColumns, cColumns, n); break;
      case 7: strip<7>(m, k, a, aRow, aColumn, bColumns, n, startColumns, cColumns, n); break;
      default:
        strip<kWidestStrip>(m, k, a, aRow, aColumn, bColumns, n, startColumns, cColumns, n);
    }
  }
}

}  // namespace detail

// gemm() of blas.h with alpha 1 and beta 0, for the products isSmallGemm accepts: C (m x n)
// = op(A) op(B), row-major, op(X) = X or X^T, leading dimensions equal to the stored
// widths; with `bias` (n) not null, every row of C starts from it instead of 0 (a dense
// layer's bias, added without a second pass over C). C must not overlap A or B.
template <typename T>
void smallGemm(bool transposeA, bool transposeB, int m, int n, int k, const T* a, const T* b,
               const T* bias, T* c) {
  const int64_t rows = m, columns = n, depth = k;
  // op(A)_ip: A is (m, k), or (k, m) when transposed.
  const int64_t aRow = transposeA ? 1 : depth;
  const int64_t aColumn = transposeA ? rows : 1;
  // op(B)'s rows must be contiguous: B^T is copied out of B (n, k) first.
  T transposed[kSmallGemmTransposedLimit];
  if (transposeB) {
    for (int64_t j = 0; j < columns; ++j)
      for (int64_t p = 0; p < depth; ++p) transposed[p * columns + j] = b[j * depth + p];
    b = transposed;
  }
  detail::strips(rows, columns, depth, a, aRow, aColumn, b, bias, c);
}

// sums (columns) = the column sums of values (rows, columns), summed as smallGemm sums: a
// product with a row of ones, whose multiplications are exact.
template <typename T>
void columnSums(int rows, int columns, const T* values, T* sums) {
  const T one(1);
  detail::strips<T>(1, columns, rows, &one, 0, 0, values, nullptr, sums);
}

}  // namespace caviar
