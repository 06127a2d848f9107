// The loops for small products (small-gemm.h) against BLAS, for every transposition and for
// widths and depths on either side of the strip width, the partial sums' threshold and the
// vector widths; the bits of an element independent of the rest of the call; and the
// dense layer's choice between the two.
#include "small-gemm.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "blas.h"
#include "dense.h"
#include "rng.h"

namespace caviar {
namespace {

template <typename T>
std::vector<T> randomValues(int64_t count, uint64_t seed) {
  Rng rng(seed);
  std::vector<T> values(count);
  for (T& value : values) value = static_cast<T>(rng.normal());
  return values;
}

struct Shape {
  int m, n, k;
};

// Depths of 1 to 5 (B's rows held in registers), of fewer and more steps than the partial
// sums start at (16), and not a multiple of 4; widths of one strip (1 to 8), of a strip
// and a piece, of several.
const Shape kShapes[] = {{1, 1, 1},  {3, 2, 5},   {64, 5, 2},  {64, 2, 5},  {64, 1, 2},
                         {5, 2, 64}, {2, 5, 44},  {1, 2, 64},  {7, 3, 15},  {6, 4, 16},
                         {5, 7, 17}, {9, 8, 19},  {4, 9, 3},   {3, 13, 21}, {2, 17, 33},
                         {11, 6, 7}, {1, 24, 10}, {13, 16, 4}};

// The products a dense layer makes are op(A) op(B) with one of the two transposed or
// neither; the fourth (both) follows the same paths.
struct Transposition {
  bool a, b;
};
const Transposition kTranspositions[] = {{false, false}, {false, true}, {true, false}, {true, true}};

std::string describe(const Shape& shape, const Transposition& transposition) {
  return std::to_string(shape.m) + "x" + std::to_string(shape.n) + "x" + std::to_string(shape.k) +
         (transposition.a ? " A^T" : " A") + (transposition.b ? " B^T" : " B");
}

// Within `relative` of BLAS's product, relative to the sum of the magnitudes of the terms
// (a sum of rounded terms can be off by that much, whatever the order).
template <typename T>
void expectMatchesBlas(double relative) {
  uint64_t seed = 1;
  for (const Shape& shape : kShapes) {
    for (const Transposition& transposition : kTranspositions) {
      if (!isSmallGemm(transposition.b, shape.m, shape.n, shape.k)) continue;
      const auto a = randomValues<T>(static_cast<int64_t>(shape.m) * shape.k, seed++);
      const auto b = randomValues<T>(static_cast<int64_t>(shape.k) * shape.n, seed++);
      std::vector<T> expected(static_cast<size_t>(shape.m) * shape.n);
      gemm(transposition.a, transposition.b, shape.m, shape.n, shape.k, T(1), a.data(), b.data(),
           T(0), expected.data());
      // NaN where C goes: C is written, never read.
      std::vector<T> actual(expected.size(), std::numeric_limits<T>::quiet_NaN());
      smallGemm<T>(transposition.a, transposition.b, shape.m, shape.n, shape.k, a.data(),
                   b.data(), nullptr, actual.data());
      for (int i = 0; i < shape.m; ++i) {
        for (int j = 0; j < shape.n; ++j) {
          double magnitude = 0.0;
          for (int p = 0; p < shape.k; ++p) {
            const T left = transposition.a ? a[p * shape.m + i] : a[i * shape.k + p];
            const T right = transposition.b ? b[j * shape.k + p] : b[p * shape.n + j];
            magnitude += std::abs(static_cast<double>(left) * right);
          }
          const size_t index = static_cast<size_t>(i) * shape.n + j;
          EXPECT_NEAR(actual[index], expected[index], relative * magnitude)
              << describe(shape, transposition) << " at (" << i << ", " << j << ")";
        }
      }
    }
  }
}

TEST(SmallGemm, MatchesBlasInFloat) { expectMatchesBlas<float>(4e-7); }

TEST(SmallGemm, MatchesBlasInDouble) { expectMatchesBlas<double>(1e-15); }

// Each element's sum runs in an order fixed by k alone: computing one row or one column on
// its own, as a smaller call, gives the same bits as computing it with all the others.
TEST(SmallGemm, AnElementHasTheSameBitsWhateverElseTheCallComputes) {
  for (const Shape& shape : kShapes) {
    for (const Transposition& transposition : kTranspositions) {
      if (!isSmallGemm(transposition.b, shape.m, shape.n, shape.k)) continue;
      const auto a = randomValues<float>(static_cast<int64_t>(shape.m) * shape.k, 7);
      const auto b = randomValues<float>(static_cast<int64_t>(shape.k) * shape.n, 8);
      std::vector<float> whole(static_cast<size_t>(shape.m) * shape.n);
      smallGemm<float>(transposition.a, transposition.b, shape.m, shape.n, shape.k, a.data(),
                       b.data(), nullptr, whole.data());
      for (int i = 0; i < shape.m; ++i) {
        for (int j = 0; j < shape.n; ++j) {
          // Row i of op(A) and column j of op(B), as untransposed operands.
          std::vector<float> aRow(shape.k), bColumn(shape.k);
          for (int p = 0; p < shape.k; ++p) {
            aRow[p] = transposition.a ? a[p * shape.m + i] : a[i * shape.k + p];
            bColumn[p] = transposition.b ? b[j * shape.k + p] : b[p * shape.n + j];
          }
          float single = 0.0f;
          smallGemm<float>(false, false, 1, 1, shape.k, aRow.data(), bColumn.data(), nullptr,
                           &single);
          EXPECT_EQ(single, whole[static_cast<size_t>(i) * shape.n + j])
              << describe(shape, transposition) << " at (" << i << ", " << j << ")";
        }
      }
    }
  }
}

TEST(SmallGemm, BiasStartsEveryRow) {
  for (const Shape& shape : kShapes) {
    const auto a = randomValues<double>(static_cast<int64_t>(shape.m) * shape.k, 3);
    const auto b = randomValues<double>(static_cast<int64_t>(shape.n) * shape.k, 4);
    const auto bias = randomValues<double>(shape.n, 5);
    if (!isSmallGemm(true, shape.m, shape.n, shape.k)) continue;
    std::vector<double> product(static_cast<size_t>(shape.m) * shape.n);
    std::vector<double> biased(product.size());
    smallGemm<double>(false, true, shape.m, shape.n, shape.k, a.data(), b.data(), nullptr,
                      product.data());
    smallGemm<double>(false, true, shape.m, shape.n, shape.k, a.data(), b.data(), bias.data(),
                      biased.data());
    for (size_t index = 0; index < product.size(); ++index)
      EXPECT_NEAR(biased[index], product[index] + bias[index % shape.n], 1e-12)
          << shape.m << "x" << shape.n << "x" << shape.k << " at " << index;
  }
}

TEST(SmallGemm, ColumnSumsAddEveryRow) {
  for (const Shape& shape : kShapes) {
    const auto values = randomValues<float>(static_cast<int64_t>(shape.m) * shape.k, 6);
    std::vector<float> sums(shape.k, std::numeric_limits<float>::quiet_NaN());
    columnSums(shape.m, shape.k, values.data(), sums.data());
    for (int column = 0; column < shape.k; ++column) {
      double expected = 0.0, magnitude = 0.0;
      for (int row = 0; row < shape.m; ++row) {
        expected += values[row * shape.k + column];
        magnitude += std::abs(values[row * shape.k + column]);
      }
      EXPECT_NEAR(sums[column], expected, 4e-7 * magnitude)
          << shape.m << " rows of " << shape.k << ", column " << column;
    }
  }
}

TEST(SmallGemm, TakesTinyProductsAndLeavesTheRestToBlas) {
  // W2's products, a 64-row batch through 2-5-2-1, and a last batch of 44 rows.
  EXPECT_TRUE(isSmallGemm(true, 64, 5, 2));
  EXPECT_TRUE(isSmallGemm(false, 5, 2, 64));
  EXPECT_TRUE(isSmallGemm(false, 64, 5, 2));
  EXPECT_TRUE(isSmallGemm(true, 44, 2, 5));
  // A Fashion-MNIST layer's, and W^T too big for the transposition buffer.
  EXPECT_FALSE(isSmallGemm(true, 128, 256, 784));
  EXPECT_FALSE(isSmallGemm(false, 128, 10, 128));
  EXPECT_FALSE(isSmallGemm(true, 1, 2, 784));
  EXPECT_TRUE(isSmallGemm(false, 1, 2, 784));
}

// The dense layer gives the same results through either path, small enough or not.
TEST(SmallGemm, DenseLayerAgreesWithItsBlasPathAcrossTheLimit) {
  for (const int rows : {16, 512}) {  // 16 x 8 x 6 is small; 512 x 8 x 6 is not
    const int in = 6, units = 8;
    const auto inputs = randomValues<double>(static_cast<int64_t>(rows) * in, 11);
    const auto weight = randomValues<double>(static_cast<int64_t>(units) * in, 12);
    const auto bias = randomValues<double>(units, 13);
    const auto gradient = randomValues<double>(static_cast<int64_t>(rows) * units, 14);
    std::vector<double> outputs(static_cast<size_t>(rows) * units);
    denseForward(inputs.data(), weight.data(), bias.data(), outputs.data(), rows, in, units);
    std::vector<double> dWeight(static_cast<size_t>(units) * in), dBias(units),
        dInputs(static_cast<size_t>(rows) * in);
    denseBackward(inputs.data(), weight.data(), gradient.data(), dWeight.data(), dBias.data(),
                  dInputs.data(), rows, in, units);
    for (int row = 0; row < rows; ++row) {
      for (int unit = 0; unit < units; ++unit) {
        double z = bias[unit];
        for (int p = 0; p < in; ++p) z += inputs[row * in + p] * weight[unit * in + p];
        EXPECT_NEAR(outputs[row * units + unit], z, 1e-12) << rows << " rows";
      }
      for (int p = 0; p < in; ++p) {
        double dx = 0.0;
        for (int unit = 0; unit < units; ++unit) dx += gradient[row * units + unit] * weight[unit * in + p];
        EXPECT_NEAR(dInputs[row * in + p], dx, 1e-12) << rows << " rows";
      }
    }
    for (int unit = 0; unit < units; ++unit) {
      double db = 0.0;
      for (int row = 0; row < rows; ++row) db += gradient[row * units + unit];
      EXPECT_NEAR(dBias[unit], db, 1e-11) << rows << " rows";
      for (int p = 0; p < in; ++p) {
        double dw = 0.0;
        for (int row = 0; row < rows; ++row) dw += gradient[row * units + unit] * inputs[row * in + p];
        EXPECT_NEAR(dWeight[unit * in + p], dw, 1e-11) << rows << " rows";
      }
    }
  }
}

}  // namespace
}  // namespace caviar
