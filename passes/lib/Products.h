//===- Products.h - the x W^T products on buffers ---------------*- C++ -*-===//
//
// rwkv-to-linalg and mm-lower build every matrix product as a linalg.generic
// y[t, n] += sum_k x[t, k] * W[n, k]; the CPU and GPU kernel passes both
// recognize them here.
//
//===----------------------------------------------------------------------===//

#ifndef MODRWKV_PASSES_LIB_PRODUCTS_H
#define MODRWKV_PASSES_LIB_PRODUCTS_H

#include "mlir/Dialect/Linalg/IR/Linalg.h"

#include <optional>

namespace modrwkv {

/// y[t, n] += sum_k x[t, k] * w[n, k] on buffers.
struct Product {
  mlir::Value x, w, y;
  int64_t rows = 0, depth = 0; ///< N and K
};

/// Matches a product (maps (t, k), (n, k) -> (t, n); body acc + ext(a) *
/// ext(b)) with f32 x and y, f32, bf16, f16 or i8 W (widened by extf or
/// sitofp) of static shape, and unit innermost strides.
std::optional<Product> matchProduct(mlir::linalg::GenericOp op);

} // namespace modrwkv

#endif // MODRWKV_PASSES_LIB_PRODUCTS_H
