//===- SplitBatchedProducts.cpp - a product per batch element -------------===//
//
// An encoder's attention multiplies activations per (batch, head): the
// importer builds y[b.., t, n] += x[b.., t, k] * w[b.., n, k]. The kernel
// passes take two-dimensional products only; a loop over the batch
// elements gives them one each, on views.
//
//===----------------------------------------------------------------------===//

#include "modrwkv/Passes/Passes.h"

#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

namespace modrwkv {
#define GEN_PASS_DEF_RWKVSPLITBATCHEDPRODUCTS
#include "modrwkv/Passes/Passes.h.inc"
} // namespace modrwkv

using namespace mlir;

namespace {

/// The number of batch loops of y[b.., t, n] += x[b.., t, k] * w[b.., n, k]
/// on buffers of static batch sizes, or 0.
int64_t batchLoops(linalg::GenericOp op) {
  if (!op.hasPureBufferSemantics() || op.getNumDpsInputs() != 2 ||
      op.getNumDpsInits() != 1 || op.getNumLoops() < 4)
    return 0;
  int64_t nb = op.getNumLoops() - 3;
  MLIRContext *ctx = op.getContext();
  SmallVector<AffineExpr> x, w, y;
  for (int64_t d = 0; d < nb; ++d)
    for (auto *list : {&x, &w, &y})
      list->push_back(getAffineDimExpr(d, ctx));
  AffineExpr t = getAffineDimExpr(nb, ctx), n = getAffineDimExpr(nb + 1, ctx),
             k = getAffineDimExpr(nb + 2, ctx);
  x.append({t, k});
  w.append({n, k});
  y.append({t, n});
  if (op.getIndexingMapsArray() !=
      AffineMap::inferFromExprList(ArrayRef<ArrayRef<AffineExpr>>{x, w, y},
                                   ctx))
    return 0;
  auto iterators = op.getIteratorTypesArray();
  for (int64_t d = 0; d < nb + 3; ++d)
    if ((iterators[d] == utils::IteratorType::reduction) != (d == nb + 2))
      return 0;
  auto yType = cast<MemRefType>(op.getDpsInits()[0].getType());
  for (int64_t d = 0; d < nb; ++d)
    if (yType.isDynamicDim(d))
      return 0;
  return nb;
}

/// The [rows, cols] matrix of `buffer` at the batch position `at`.
Value matrixAt(OpBuilder &b, Location loc, Value buffer, ValueRange at) {
  auto type = cast<MemRefType>(buffer.getType());
  int64_t rank = type.getRank();
  SmallVector<OpFoldResult> offsets(at.begin(), at.end()),
      sizes(at.size(), b.getIndexAttr(1)), strides(rank, b.getIndexAttr(1));
  offsets.append({b.getIndexAttr(0), b.getIndexAttr(0)});
  for (int64_t d = rank - 2; d < rank; ++d)
    sizes.push_back(memref::getMixedSize(b, loc, buffer, d));
  auto resultType = memref::SubViewOp::inferRankReducedResultType(
      {type.getDimSize(rank - 2), type.getDimSize(rank - 1)}, type, offsets,
      sizes, strides);
  return memref::SubViewOp::create(b, loc, cast<MemRefType>(resultType), buffer,
                                   offsets, sizes, strides);
}

struct RwkvSplitBatchedProductsPass
    : public modrwkv::impl::RwkvSplitBatchedProductsBase<
          RwkvSplitBatchedProductsPass> {
  void runOnOperation() override {
    SmallVector<linalg::GenericOp> products;
    getOperation().walk([&](linalg::GenericOp op) {
      if (batchLoops(op))
        products.push_back(op);
    });
    for (linalg::GenericOp op : products) {
      int64_t nb = batchLoops(op);
      Location loc = op.getLoc();
      OpBuilder b(op);
      auto yType = cast<MemRefType>(op.getDpsInits()[0].getType());
      Value zero = arith::ConstantIndexOp::create(b, loc, 0),
            one = arith::ConstantIndexOp::create(b, loc, 1);
      SmallVector<Value> bounds, at;
      for (int64_t d = 0; d < nb; ++d)
        bounds.push_back(
            arith::ConstantIndexOp::create(b, loc, yType.getDimSize(d)));
      for (int64_t d = 0; d < nb; ++d) {
        auto loop = scf::ForOp::create(b, loc, zero, bounds[d], one);
        at.push_back(loop.getInductionVar());
        b.setInsertionPoint(loop.getBody()->getTerminator());
      }
      Value x = matrixAt(b, loc, op.getDpsInputs()[0], at),
            w = matrixAt(b, loc, op.getDpsInputs()[1], at),
            y = matrixAt(b, loc, op.getDpsInits()[0], at);
      MLIRContext *ctx = &getContext();
      AffineExpr t, n, k;
      bindDims(ctx, t, n, k);
      auto matrix = linalg::GenericOp::create(
          b, loc, TypeRange{}, ValueRange{x, w}, ValueRange{y},
          AffineMap::inferFromExprList(
              ArrayRef<ArrayRef<AffineExpr>>{{t, k}, {n, k}, {t, n}}, ctx),
          ArrayRef<utils::IteratorType>{utils::IteratorType::parallel,
                                        utils::IteratorType::parallel,
                                        utils::IteratorType::reduction});
      matrix.getRegion().takeBody(op.getRegion());
      op.erase();
    }
  }
};

} // namespace
