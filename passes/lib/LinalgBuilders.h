//===- LinalgBuilders.h - small builders of linalg ops ----------*- C++ -*-===//
//
// The lowerings of the rwkv dialect are mostly element-wise chains and
// reductions over the innermost axis; these helpers build them as
// linalg.generic ops on tensors with dynamic leading dimensions.
//
//===----------------------------------------------------------------------===//

#ifndef MODRWKV_PASSES_LIB_LINALGBUILDERS_H
#define MODRWKV_PASSES_LIB_LINALGBUILDERS_H

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/IR/Builders.h"

namespace modrwkv {

/// An input of a generic op with how its indices map to the loop dims.
struct MappedInput {
  mlir::Value value;
  mlir::AffineMap map;
};

using ScalarBody = llvm::function_ref<mlir::Value(
    mlir::OpBuilder &, mlir::Location, mlir::ValueRange)>;

/// Maps a loop nest of `rank` dims to the listed dims (a projection).
mlir::AffineMap projection(mlir::MLIRContext *ctx, unsigned rank,
                           llvm::ArrayRef<unsigned> dims);

/// Input used at every point of a loop nest shaped like itself.
MappedInput full(mlir::Value value);
/// A vector indexed by the innermost of `rank` loop dims.
MappedInput inner(mlir::Value value, unsigned rank);
/// A tensor indexed by the outermost dims of a deeper loop nest.
MappedInput outer(mlir::Value value, unsigned rank);

/// An empty f32 tensor with the shape of `like`, dropping its last
/// `dropInner` dims.
mlir::Value emptyLike(mlir::OpBuilder &b, mlir::Location loc, mlir::Value like,
                      unsigned dropInner = 0);

/// result[p] = body(inputs[map(p)]...) over the shape of `shapeLike`.
mlir::Value elementwise(mlir::OpBuilder &b, mlir::Location loc,
                        mlir::Value shapeLike,
                        llvm::ArrayRef<MappedInput> inputs, ScalarBody body);

/// result[p'] = sum over the last dim of body(inputs[map(p)]...), where the
/// loop nest has the shape of `shapeLike` and p' drops its last index.
mlir::Value reduceInner(mlir::OpBuilder &b, mlir::Location loc,
                        mlir::Value shapeLike,
                        llvm::ArrayRef<MappedInput> inputs, ScalarBody body);

/// init[i, j] + sum_r lhs[lhsMap(i, j, r)] * rhs[rhsMap(i, j, r)]: a
/// contraction over the innermost of three loops, reassociable.
mlir::Value contract(mlir::OpBuilder &b, mlir::Location loc, mlir::Value lhs,
                     mlir::AffineMap lhsMap, mlir::Value rhs,
                     mlir::AffineMap rhsMap, mlir::Value init);

/// x [T, C] @ w[N, C]^T -> [T, N].
mlir::Value matmulTransposed(mlir::OpBuilder &b, mlir::Location loc,
                             mlir::Value x, mlir::Value w);

/// [T, C] -> [T, G, C/G] and back; [C] -> [G, C/G].
mlir::Value splitChannels(mlir::OpBuilder &b, mlir::Location loc, mlir::Value x,
                          int64_t groups);
mlir::Value mergeChannels(mlir::OpBuilder &b, mlir::Location loc,
                          mlir::Value x);

/// Replaces `op` by `values` (tensor.cast where a built type is less static
/// than the op's result type) and erases it.
void replaceWithCasts(mlir::OpBuilder &b, mlir::Operation *op,
                      llvm::ArrayRef<mlir::Value> values);

/// `v` (a scalar or vector of stored weights: f32, bf16, f16 or i8) as
/// `type` (f32 or a vector of f32): extended, or converted from integers.
mlir::Value widen(mlir::OpBuilder &b, mlir::Location loc, mlir::Type type,
                  mlir::Value v);

/// Scalar helpers for generic bodies. toF32 widens stored weights.
mlir::Value toF32(mlir::OpBuilder &b, mlir::Location loc, mlir::Value v);
mlir::Value f32Const(mlir::OpBuilder &b, mlir::Location loc, double value);
mlir::Value sigmoid(mlir::OpBuilder &b, mlir::Location loc, mlir::Value x);

} // namespace modrwkv

#endif // MODRWKV_PASSES_LIB_LINALGBUILDERS_H
