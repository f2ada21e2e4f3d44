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
        return tensor::ExtractOp::create(nb, l, table, ValueRange{row, col})
            .getResult();
      });
}

/// Returns {shifted, last}.
std::pair<Value, Value> lowerTokenShift(OpBuilder &b, TokenShiftOp op) {
  Location loc = op.getLoc();
  Value x = op.getX();
  auto type = cast<RankedTensorType>(x.getType());
  int64_t c = type.getDimSize(1);
  OpFoldResult zero = b.getIndexAttr(0), one = b.getIndexAttr(1),
               width = b.getIndexAttr(c);
  Value t = tensor::DimOp::create(b, loc, x, 0);
  Value tMinus1 = arith::SubIOp::create(
      b, loc, t, arith::ConstantIndexOp::create(b, loc, 1));

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
  Value last = tensor::ExtractSliceOp::create(
      b, loc, cast<RankedTensorType>(op.getLast().getType()), x,
      {OpFoldResult(tMinus1), zero}, {one, width}, {one, one});
  return {shifted, last};
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

struct RwkvToLinalgPass
    : public modrwkv::impl::RwkvToLinalgBase<RwkvToLinalgPass> {
  void runOnOperation() override {
    SmallVector<Operation *> ops;
    getOperation().walk([&](Operation *op) {
      if (isa<EmbeddingOp, LayerNormOp, GroupNormOp, TokenShiftOp, LerpOp,
              LinearOp>(op))
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
        auto [shifted, last] = lowerTokenShift(b, shift);
        results = {shifted, last};
      } else if (auto lerp = dyn_cast<LerpOp>(op))
        results = {lowerLerp(b, lerp)};
      else if (auto lin = dyn_cast<LinearOp>(op))
        results = {
            matmulTransposed(b, op->getLoc(), lin.getX(), lin.getWeight())};
      replaceWithCasts(b, op, results);
    }
  }
};

} // namespace
