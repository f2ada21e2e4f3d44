//===- LinalgBuilders.cpp - small builders of linalg ops ------------------===//

#include "LinalgBuilders.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

using namespace mlir;

namespace modrwkv {

AffineMap projection(MLIRContext *ctx, unsigned rank, ArrayRef<unsigned> dims) {
  SmallVector<AffineExpr> exprs;
  for (unsigned d : dims)
    exprs.push_back(getAffineDimExpr(d, ctx));
  return AffineMap::get(rank, 0, exprs, ctx);
}

MappedInput full(Value value) {
  unsigned rank = cast<ShapedType>(value.getType()).getRank();
  return {value, AffineMap::getMultiDimIdentityMap(rank, value.getContext())};
}

MappedInput inner(Value value, unsigned rank) {
  unsigned own = cast<ShapedType>(value.getType()).getRank();
  SmallVector<unsigned> dims;
  for (unsigned d = rank - own; d < rank; ++d)
    dims.push_back(d);
  return {value, projection(value.getContext(), rank, dims)};
}

MappedInput outer(Value value, unsigned rank) {
  unsigned own = cast<ShapedType>(value.getType()).getRank();
  SmallVector<unsigned> dims;
  for (unsigned d = 0; d < own; ++d)
    dims.push_back(d);
  return {value, projection(value.getContext(), rank, dims)};
}

Value emptyLike(OpBuilder &b, Location loc, Value like, unsigned dropInner) {
  SmallVector<OpFoldResult> sizes = tensor::getMixedSizes(b, loc, like);
  sizes.resize(sizes.size() - dropInner);
  return tensor::EmptyOp::create(b, loc, sizes, b.getF32Type());
}

/// Reductions may be reordered (and multiply-adds fused) so that LLVM can
/// vectorize them; fp32 sums in another order stay well inside the
/// tolerances the reference tests state.
static arith::FastMathFlagsAttr reassoc(OpBuilder &b) {
  return arith::FastMathFlagsAttr::get(b.getContext(),
                                       arith::FastMathFlags::reassoc |
                                           arith::FastMathFlags::contract);
}

static SmallVector<Value> values(ArrayRef<MappedInput> inputs) {
  return llvm::map_to_vector(inputs,
                             [](const MappedInput &i) { return i.value; });
}

Value elementwise(OpBuilder &b, Location loc, Value shapeLike,
                  ArrayRef<MappedInput> inputs, ScalarBody body) {
  unsigned rank = cast<ShapedType>(shapeLike.getType()).getRank();
  Value init = emptyLike(b, loc, shapeLike);
  SmallVector<AffineMap> maps;
  for (const MappedInput &input : inputs)
    maps.push_back(input.map);
  maps.push_back(b.getMultiDimIdentityMap(rank));
  SmallVector<utils::IteratorType> iterators(rank,
                                             utils::IteratorType::parallel);
  auto op = linalg::GenericOp::create(
      b, loc, init.getType(), values(inputs), init, maps, iterators,
      [&](OpBuilder &nb, Location nloc, ValueRange args) {
        Value v = body(nb, nloc, args.drop_back());
        linalg::YieldOp::create(nb, nloc, v);
      });
  return op.getResult(0);
}

Value reduceInner(OpBuilder &b, Location loc, Value shapeLike,
                  ArrayRef<MappedInput> inputs, ScalarBody body) {
  unsigned rank = cast<ShapedType>(shapeLike.getType()).getRank();
  Value empty = emptyLike(b, loc, shapeLike, /*dropInner=*/1);
  Value init =
      linalg::FillOp::create(b, loc, f32Const(b, loc, 0.0), empty).getResult(0);
  SmallVector<AffineMap> maps;
  for (const MappedInput &input : inputs)
    maps.push_back(input.map);
  SmallVector<unsigned> outDims;
  for (unsigned d = 0; d + 1 < rank; ++d)
    outDims.push_back(d);
  maps.push_back(projection(b.getContext(), rank, outDims));
  SmallVector<utils::IteratorType> iterators(rank,
                                             utils::IteratorType::parallel);
  iterators.back() = utils::IteratorType::reduction;
  auto op = linalg::GenericOp::create(
      b, loc, init.getType(), values(inputs), init, maps, iterators,
      [&](OpBuilder &nb, Location nloc, ValueRange args) {
        Value term = body(nb, nloc, args.drop_back());
        Value sum =
            arith::AddFOp::create(nb, nloc, args.back(), term, reassoc(nb));
        linalg::YieldOp::create(nb, nloc, sum);
      });
  return op.getResult(0);
}

Value contract(OpBuilder &b, Location loc, Value lhs, AffineMap lhsMap,
               Value rhs, AffineMap rhsMap, Value init) {
  SmallVector<AffineMap> maps = {lhsMap, rhsMap,
                                 projection(b.getContext(), 3, {0, 1})};
  SmallVector<utils::IteratorType> iterators = {utils::IteratorType::parallel,
                                                utils::IteratorType::parallel,
                                                utils::IteratorType::reduction};
  auto op = linalg::GenericOp::create(
      b, loc, init.getType(), ValueRange{lhs, rhs}, init, maps, iterators,
      [](OpBuilder &nb, Location nloc, ValueRange args) {
        Value prod =
            arith::MulFOp::create(nb, nloc, toF32(nb, nloc, args[0]),
                                  toF32(nb, nloc, args[1]), reassoc(nb));
        Value sum = arith::AddFOp::create(nb, nloc, args[2], prod, reassoc(nb));
        linalg::YieldOp::create(nb, nloc, sum);
      });
  return op.getResult(0);
}

Value matmulTransposed(OpBuilder &b, Location loc, Value x, Value w) {
  MLIRContext *ctx = b.getContext();
  auto wType = cast<ShapedType>(w.getType());
  SmallVector<OpFoldResult> sizes = {tensor::getMixedSize(b, loc, x, 0),
                                     b.getIndexAttr(wType.getDimSize(0))};
  Value empty = tensor::EmptyOp::create(b, loc, sizes, b.getF32Type());
  Value init =
      linalg::FillOp::create(b, loc, f32Const(b, loc, 0.0), empty).getResult(0);
  return contract(b, loc, x, projection(ctx, 3, {0, 2}), w,
                  projection(ctx, 3, {1, 2}), init);
}

Value splitChannels(OpBuilder &b, Location loc, Value x, int64_t groups) {
  auto type = cast<RankedTensorType>(x.getType());
  SmallVector<int64_t> shape(type.getShape());
  int64_t c = shape.back();
  shape.back() = groups;
  shape.push_back(c / groups);
  SmallVector<ReassociationIndices> reassoc;
  for (int64_t d = 0; d + 1 < type.getRank(); ++d)
    reassoc.push_back({d});
  reassoc.push_back({type.getRank() - 1, type.getRank()});
  SmallVector<OpFoldResult> sizes = tensor::getMixedSizes(b, loc, x);
  sizes.back() = b.getIndexAttr(groups);
  sizes.push_back(b.getIndexAttr(c / groups));
  return tensor::ExpandShapeOp::create(
      b, loc, RankedTensorType::get(shape, type.getElementType()), x, reassoc,
      sizes);
}

Value mergeChannels(OpBuilder &b, Location loc, Value x) {
  int64_t rank = cast<RankedTensorType>(x.getType()).getRank();
  SmallVector<ReassociationIndices> reassoc;
  for (int64_t d = 0; d + 2 < rank; ++d)
    reassoc.push_back({d});
  reassoc.push_back({rank - 2, rank - 1});
  return tensor::CollapseShapeOp::create(b, loc, x, reassoc);
}

void replaceWithCasts(OpBuilder &b, Operation *op, ArrayRef<Value> values) {
  SmallVector<Value> results(values);
  for (auto [result, value] : llvm::zip(op->getResults(), results))
    if (result.getType() != value.getType())
      value = tensor::CastOp::create(b, op->getLoc(), result.getType(), value);
  op->replaceAllUsesWith(results);
  op->erase();
}

Value widen(OpBuilder &b, Location loc, Type type, Value v) {
  if (v.getType() == type)
    return v;
  if (isa<IntegerType>(getElementTypeOrSelf(v.getType())))
    return arith::SIToFPOp::create(b, loc, type, v);
  return arith::ExtFOp::create(b, loc, type, v);
}

Value toF32(OpBuilder &b, Location loc, Value v) {
  return widen(b, loc, b.getF32Type(), v);
}

Value f32Const(OpBuilder &b, Location loc, double value) {
  return arith::ConstantOp::create(b, loc, b.getF32FloatAttr(value));
}

Value sigmoid(OpBuilder &b, Location loc, Value x) {
  Value one = f32Const(b, loc, 1.0);
  Value e = math::ExpOp::create(b, loc, arith::NegFOp::create(b, loc, x));
  return arith::DivFOp::create(b, loc, one,
                               arith::AddFOp::create(b, loc, one, e));
}

} // namespace modrwkv
