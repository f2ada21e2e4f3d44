//===- Products.cpp - the x W^T products on buffers -----------------------===//

#include "Products.h"

using namespace mlir;
using modrwkv::Product;

namespace {

Value stripExtension(Value v) {
  if (auto ext = v.getDefiningOp<arith::ExtFOp>())
    return ext.getIn();
  if (auto convert = v.getDefiningOp<arith::SIToFPOp>())
    return convert.getIn();
  return v;
}

} // namespace

std::optional<Product> modrwkv::matchProduct(linalg::GenericOp op) {
  if (!op.hasPureBufferSemantics() || op.getNumDpsInputs() != 2 ||
      op.getNumDpsInits() != 1)
    return std::nullopt;
  MLIRContext *ctx = op.getContext();
  AffineExpr t, n, k;
  bindDims(ctx, t, n, k);
  if (op.getIndexingMapsArray() !=
      AffineMap::inferFromExprList(
          ArrayRef<ArrayRef<AffineExpr>>{{t, k}, {n, k}, {t, n}}, ctx))
    return std::nullopt;
  auto iterators = op.getIteratorTypesArray();
  if (iterators[0] != utils::IteratorType::parallel ||
      iterators[1] != utils::IteratorType::parallel ||
      iterators[2] != utils::IteratorType::reduction)
    return std::nullopt;

  Block &body = *op.getBlock();
  if (body.getOperations().size() > 5) // ext, ext, mul, add, yield
    return std::nullopt;
  auto yield = cast<linalg::YieldOp>(body.getTerminator());
  auto add = yield.getOperand(0).getDefiningOp<arith::AddFOp>();
  if (!add)
    return std::nullopt;
  Value acc = body.getArgument(2);
  Value product = add.getLhs() == acc   ? add.getRhs()
                  : add.getRhs() == acc ? add.getLhs()
                                        : Value();
  auto mul = product ? product.getDefiningOp<arith::MulFOp>() : nullptr;
  if (!mul)
    return std::nullopt;
  Value a = stripExtension(mul.getLhs()), b = stripExtension(mul.getRhs());
  if (!((a == body.getArgument(0) && b == body.getArgument(1)) ||
        (a == body.getArgument(1) && b == body.getArgument(0))))
    return std::nullopt;

  Product p{op.getDpsInputs()[0], op.getDpsInputs()[1], op.getDpsInits()[0]};
  auto x = cast<MemRefType>(p.x.getType());
  auto w = cast<MemRefType>(p.w.getType());
  auto y = cast<MemRefType>(p.y.getType());
  Type wElem = w.getElementType();
  if (!x.getElementType().isF32() || !y.getElementType().isF32() ||
      !(wElem.isF32() || wElem.isBF16() || wElem.isF16() ||
        wElem.isSignlessInteger(8)) ||
      !w.hasStaticShape() || !x.isLastDimUnitStride() ||
      !w.isLastDimUnitStride())
    return std::nullopt;
  p.rows = w.getDimSize(0);
  p.depth = w.getDimSize(1);
  return p;
}
