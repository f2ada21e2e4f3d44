//===- RwkvToLinalg.cpp - primitive rwkv ops to linalg/tensor -------------===//

#include "LinalgBuilders.h"
#include "modrwkv/Dialect/Rwkv/RwkvDialect.h"
#include "modrwkv/Passes/Passes.h"

namespace modrwkv {
#define GEN_PASS_DEF_RWKVTOLINALG
#include "modrwkv/Passes/Passes.h.inc"
} // namespace modrwkv

using namespace mlir;
using namespace modrwkv;
using namespace modrwkv::rwkv;

namespace {

/// Normalizes each of `groups` contiguous channel groups of x [T, C], then
/// applies the per-channel affine map; layer norm is the case groups == 1.
Value normalize(OpBuilder &b, Location loc, Value x, Value gamma, Value beta,
                int64_t groups, double eps) {
  int64_t width = cast<ShapedType>(x.getType()).getDimSize(1) / groups;
  Value x3 = splitChannels(b, loc, x, groups);
  Value invWidth = f32Const(b, loc, 1.0 / double(width));
  Value mean = reduceInner(
      b, loc, x3, {full(x3)}, [&](OpBuilder &nb, Location l, ValueRange a) {
        return arith::MulFOp::create(nb, l, a[0], invWidth).getResult();
      });
  Value var = reduceInner(
      b, loc, x3, {full(x3), outer(mean, 3)},
      [&](OpBuilder &nb, Location l, ValueRange a) {
        Value d = arith::SubFOp::create(nb, l, a[0], a[1]);
        Value d2 = arith::MulFOp::create(nb, l, d, d);
        return arith::MulFOp::create(nb, l, d2, invWidth).getResult();
      });
  Value epsilon = f32Const(b, loc, eps);
  Value y3 = elementwise(
      b, loc, x3,
      {full(x3), outer(mean, 3), outer(var, 3),
       inner(splitChannels(b, loc, gamma, groups), 3),
       inner(splitChannels(b, loc, beta, groups), 3)},
      [&](OpBuilder &nb, Location l, ValueRange a) {
        Value centered = arith::SubFOp::create(nb, l, a[0], a[1]);
        Value scale = math::RsqrtOp::create(
            nb, l, arith::AddFOp::create(nb, l, a[2], epsilon));
        Value n = arith::MulFOp::create(nb, l, centered, scale);
        return arith::AddFOp::create(
                   nb, l, arith::MulFOp::create(nb, l, n, a[3]), a[4])
            .getResult();
      });
  return mergeChannels(b, loc, y3);
}

Value lowerEmbedding(OpBuilder &b, EmbeddingOp op) {
  Location loc = op.getLoc();
  Value table = op.getTable();
  SmallVector<OpFoldResult> sizes = {
      tensor::getMixedSize(b, loc, op.getTokens(), 0),
      b.getIndexAttr(cast<ShapedType>(table.getType()).getDimSize(1))};
  Value shapeLike = tensor::EmptyOp::create(b, loc, sizes, b.getF32Type());
  return elementwise(
      b, loc, shapeLike, {outer(op.getTokens(), 2)},
      [&](OpBuilder &nb, Location l, ValueRange a) {
        Value row = arith::IndexCastOp::create(nb, l, nb.getIndexType(), a[0]);
        Value col = linalg::IndexOp::create(nb, l, 1);
        return toF32(
            nb, l,
            tensor::ExtractOp::create(nb, l, table, ValueRange{row, col}));
      });
}

/// shifted[t, c] = t == 0 ? prev[c] : x[max(t - 1, 0), c], both loads in
/// bounds.
Value indexedShift(OpBuilder &b, Location loc, Value x, Value prev) {
  Value shifted =
      elementwise(b, loc, x, {}, [&](OpBuilder &nb, Location l, ValueRange) {
        Value t = linalg::IndexOp::create(nb, l, 0);
        Value c = linalg::IndexOp::create(nb, l, 1);
        Value zero = arith::ConstantIndexOp::create(nb, l, 0);
        Value one = arith::ConstantIndexOp::create(nb, l, 1);
        Value first =
            arith::CmpIOp::create(nb, l, arith::CmpIPredicate::eq, t, zero);
        Value before = arith::SelectOp::create(
            nb, l, first, zero, arith::SubIOp::create(nb, l, t, one));
        Value fromX =
            tensor::ExtractOp::create(nb, l, x, ValueRange{before, c});
        Value fromPrev = tensor::ExtractOp::create(nb, l, prev, ValueRange{c});
        return arith::SelectOp::create(nb, l, first, fromPrev, fromX)
            .getResult();
      });
  shifted.getDefiningOp()->setAttr(modrwkv::kRecomputeAttrName,
                                   b.getUnitAttr());
  return shifted;
}

/// Returns {shifted, last}.
std::pair<Value, Value> lowerTokenShift(OpBuilder &b, TokenShiftOp op,
                                        bool byIndex) {
  Location loc = op.getLoc();
  Value x = op.getX();
  if (isBatched(op.getPrev())) // one token per sequence
    return {op.getPrev(), x};
  auto type = cast<RankedTensorType>(x.getType());
  int64_t c = type.getDimSize(1);
  OpFoldResult zero = b.getIndexAttr(0), one = b.getIndexAttr(1),
               width = b.getIndexAttr(c);
  Value t = tensor::DimOp::create(b, loc, x, 0);
  Value tMinus1 = arith::SubIOp::create(
      b, loc, t, arith::ConstantIndexOp::create(b, loc, 1));
  auto lastRow = [&] {
    return tensor::ExtractSliceOp::create(
        b, loc, cast<RankedTensorType>(op.getLast().getType()), x,
        {OpFoldResult(tMinus1), zero}, {one, width}, {one, one});
  };
  if (byIndex)
    return {indexedShift(b, loc, x, op.getPrev()), lastRow()};

  auto rowType = RankedTensorType::get({1, c}, b.getF32Type());
  Value prevRow = tensor::ExpandShapeOp::create(
      b, loc, rowType, op.getPrev(), SmallVector<ReassociationIndices>{{0, 1}});
  Value shifted = emptyLike(b, loc, x);
  shifted = tensor::InsertSliceOp::create(
      b, loc, prevRow, shifted, {zero, zero}, {one, width}, {one, one});
  auto headType =
      RankedTensorType::get({ShapedType::kDynamic, c}, b.getF32Type());
  Value head = tensor::ExtractSliceOp::create(b, loc, headType, x, {zero, zero},
                                              {OpFoldResult(tMinus1), width},
                                              {one, one});
  shifted =
      tensor::InsertSliceOp::create(b, loc, head, shifted, {one, zero},
                                    {OpFoldResult(tMinus1), width}, {one, one});
  return {shifted, lastRow()};
}

Value lowerLerp(OpBuilder &b, LerpOp op) {
  return elementwise(
      b, op.getLoc(), op.getX(),
      {full(op.getX()), full(op.getShifted()), inner(op.getMu(), 2)},
      [](OpBuilder &nb, Location l, ValueRange a) {
        Value d = arith::SubFOp::create(nb, l, a[1], a[0]);
        return arith::AddFOp::create(nb, l, a[0],
                                     arith::MulFOp::create(nb, l, d, a[2]))
            .getResult();
      });
}

/// Bone: x W^T + S D with S[t, k] = sum over shards b of x[t, b*r + k]
/// (a partial last shard reads as zero-padded).
Value boneLinear(OpBuilder &b, Location loc, Value x, Value w, Value d) {
  MLIRContext *ctx = b.getContext();
  int64_t r = cast<ShapedType>(d.getType()).getDimSize(0);
  Value base = matmulTransposed(b, loc, x, w);
  SmallVector<OpFoldResult> sizes = {tensor::getMixedSize(b, loc, x, 0),
                                     b.getIndexAttr(r)};
  Value empty = tensor::EmptyOp::create(b, loc, sizes, b.getF32Type());
  Value zero = f32Const(b, loc, 0.0);
  Value init = linalg::FillOp::create(b, loc, zero, empty).getResult(0);
  // Loops (t, k, i): S[t, k] += (i mod r == k) ? x[t, i] : 0.
  SmallVector<AffineMap> maps = {projection(ctx, 3, {0, 2}),
                                 projection(ctx, 3, {0, 1})};
  SmallVector<utils::IteratorType> iterators = {utils::IteratorType::parallel,
                                                utils::IteratorType::parallel,
                                                utils::IteratorType::reduction};
  Value shardSum =
      linalg::GenericOp::create(
          b, loc, init.getType(), ValueRange{x}, init, maps, iterators,
          [&](OpBuilder &nb, Location l, ValueRange args) {
            Value k = linalg::IndexOp::create(nb, l, 1);
            Value i = linalg::IndexOp::create(nb, l, 2);
            Value lane = arith::RemUIOp::create(
                nb, l, i, arith::ConstantIndexOp::create(nb, l, r));
            Value hit =
                arith::CmpIOp::create(nb, l, arith::CmpIPredicate::eq, lane, k);
            Value term = arith::SelectOp::create(nb, l, hit, args[0],
                                                 f32Const(nb, l, 0.0));
            Value sum = arith::AddFOp::create(nb, l, args[1], term);
            linalg::YieldOp::create(nb, l, sum);
          })
          .getResult(0);
  return contract(b, loc, shardSum, projection(ctx, 3, {0, 2}), d,
                  projection(ctx, 3, {2, 1}), base);
}

/// Bat: W'_ji = W_ji (I + B_s) + B_s on r x r blocks, s = i (bat_in) or
/// s = j (bat_out); then x W'^T.
Value batLinear(OpBuilder &b, Location loc, Value x, Value w, Value adapter,
                bool byInputBlock) {
  MLIRContext *ctx = b.getContext();
  int64_t r = cast<ShapedType>(adapter.getType()).getDimSize(1);
  AffineExpr n = getAffineDimExpr(0, ctx), k = getAffineDimExpr(1, ctx),
             c = getAffineDimExpr(2, ctx);
  AffineExpr block = byInputBlock ? k.floorDiv(r) : n.floorDiv(r);
  // W + B_s[n mod r, k mod r] over (n, k).
  auto map2 = [&](ArrayRef<AffineExpr> exprs) {
    return AffineMap::get(2, 0, exprs, ctx);
  };
  Value shifted = elementwise(
      b, loc, w, {full(w), {adapter, map2({block, n % r, k % r})}},
      [](OpBuilder &nb, Location l, ValueRange args) {
        return arith::AddFOp::create(nb, l, args[0], args[1]).getResult();
      });
  // + sum_c W[n, (k floordiv r) * r + c] * B_s[c, k mod r].
  auto map3 = [&](ArrayRef<AffineExpr> exprs) {
    return AffineMap::get(3, 0, exprs, ctx);
  };
  Value merged = contract(b, loc, w, map3({n, k.floorDiv(r) * r + c}), adapter,
                          map3({block, c, k % r}), shifted);
  return matmulTransposed(b, loc, x, merged);
}

Value lowerLinear(OpBuilder &b, LinearOp op) {
  Location loc = op.getLoc();
  if (!op.getAdapter())
    return matmulTransposed(b, loc, op.getX(), op.getWeight());
  StringRef variant = *op.getAdapterVariant();
  if (variant == "bone")
    return boneLinear(b, loc, op.getX(), op.getWeight(), op.getAdapter());
  return batLinear(b, loc, op.getX(), op.getWeight(), op.getAdapter(),
                   variant == "bat_in");
}

/// The int8 product, then each output column times its row's scale.
Value lowerQuantizedLinear(OpBuilder &b, QuantizedLinearOp op) {
  Location loc = op.getLoc();
  Value y = matmulTransposed(b, loc, op.getX(), op.getWeight());
  return elementwise(
      b, loc, y, {full(y), inner(op.getScale(), 2)},
      [](OpBuilder &nb, Location l, ValueRange args) {
        return arith::MulFOp::create(nb, l, args[0], args[1]).getResult();
      });
}

struct RwkvToLinalgPass
    : public modrwkv::impl::RwkvToLinalgBase<RwkvToLinalgPass> {
  using Base::Base;

  void runOnOperation() override {
    SmallVector<Operation *> ops;
    getOperation().walk([&](Operation *op) {
      if (isa<EmbeddingOp, LayerNormOp, GroupNormOp, TokenShiftOp, LerpOp,
              LinearOp, QuantizedLinearOp>(op))
        ops.push_back(op);
    });
    for (Operation *op : ops) {
      OpBuilder b(op);
      SmallVector<Value> results;
      if (auto emb = dyn_cast<EmbeddingOp>(op))
        results = {lowerEmbedding(b, emb)};
      else if (auto ln = dyn_cast<LayerNormOp>(op))
        results = {normalize(b, op->getLoc(), ln.getX(), ln.getGamma(),
                             ln.getBeta(), 1, ln.getEps().convertToDouble())};
      else if (auto gn = dyn_cast<GroupNormOp>(op))
        results = {normalize(b, op->getLoc(), gn.getX(), gn.getGamma(),
                             gn.getBeta(), gn.getGroups(),
                             gn.getEps().convertToDouble())};
      else if (auto shift = dyn_cast<TokenShiftOp>(op)) {
        auto [shifted, last] = lowerTokenShift(b, shift, shiftByIndex);
        results = {shifted, last};
      } else if (auto lerp = dyn_cast<LerpOp>(op))
        results = {lowerLerp(b, lerp)};
      else if (auto lin = dyn_cast<LinearOp>(op))
        results = {lowerLinear(b, lin)};
      else if (auto quantized = dyn_cast<QuantizedLinearOp>(op))
        results = {lowerQuantizedLinear(b, quantized)};
      replaceWithCasts(b, op, results);
    }
  }
};

} // namespace
