//===- MmLower.cpp - mm ops to rwkv, linalg, tensor, scf and func ---------===//
//
// The adapter's dense layers and norm become rwkv ops so that they share the
// rwkv lowering (and its weight storage options); the window products
// (compression convs, folded first layers) are built here as linalg
// contractions over a zero-padded sequence.
//
//===----------------------------------------------------------------------===//

#include "LinalgBuilders.h"

#include "modrwkv/Passes/Passes.h"

namespace modrwkv {
#define GEN_PASS_DEF_MMLOWER
#include "modrwkv/Passes/Passes.h.inc"
} // namespace modrwkv

using namespace mlir;
using namespace modrwkv;
using namespace modrwkv::mm;

namespace {

/// x [n, d] with `padding` zero rows before and after.
Value padRows(OpBuilder &b, Location loc, Value x, int64_t padding) {
  if (padding == 0)
    return x;
  auto type = cast<RankedTensorType>(x.getType());
  SmallVector<int64_t> shape(type.getShape());
  shape[0] += 2 * padding;
  SmallVector<OpFoldResult> low = {b.getIndexAttr(padding), b.getIndexAttr(0)};
  return tensor::PadOp::create(b, loc, type.clone(shape), x, low, low,
                               f32Const(b, loc, 0.0));
}

/// out[t, o] = sum_{c, j} w[o, c, j] * xp[t * stride + j, c] for `rows`
/// output tokens, where xp is x already padded.
Value windowProduct(OpBuilder &b, Location loc, Value xp, Value w, int64_t rows,
                    int64_t stride) {
  MLIRContext *ctx = b.getContext();
  int64_t out = cast<ShapedType>(w.getType()).getDimSize(0);
  Value empty = tensor::EmptyOp::create(b, loc, ArrayRef<int64_t>{rows, out},
                                        b.getF32Type());
  Value init =
      linalg::FillOp::create(b, loc, f32Const(b, loc, 0.0), empty).getResult(0);
  AffineExpr t = getAffineDimExpr(0, ctx), o = getAffineDimExpr(1, ctx),
             c = getAffineDimExpr(2, ctx), j = getAffineDimExpr(3, ctx);
  SmallVector<AffineMap> maps = {AffineMap::get(4, 0, {t * stride + j, c}, ctx),
                                 AffineMap::get(4, 0, {o, c, j}, ctx),
                                 AffineMap::get(4, 0, {t, o}, ctx)};
  using utils::IteratorType;
  SmallVector<IteratorType> iterators = {
      IteratorType::parallel, IteratorType::parallel, IteratorType::reduction,
      IteratorType::reduction};
  auto fm = arith::FastMathFlagsAttr::get(
      ctx, arith::FastMathFlags::reassoc | arith::FastMathFlags::contract);
  auto op = linalg::GenericOp::create(
      b, loc, init.getType(), ValueRange{xp, w}, init, maps, iterators,
      [&](OpBuilder &nb, Location nloc, ValueRange args) {
        Value prod = arith::MulFOp::create(nb, nloc, args[0],
                                           toF32(nb, nloc, args[1]), fm);
        Value sum = arith::AddFOp::create(nb, nloc, args[2], prod, fm);
        linalg::YieldOp::create(nb, nloc, sum);
      });
  return op.getResult(0);
}

Value lowerCompress(OpBuilder &b, CompressOp op) {
  Location loc = op.getLoc();
  auto resultType = cast<RankedTensorType>(op.getType());
  int64_t rows = resultType.getDimSize(0);
  if (Value w = op.getWeight())
    return windowProduct(b, loc, padRows(b, loc, op.getX(), op.getPadding()), w,
                         rows, op.getStride());
  // Stacking: keep rows * k frames, view them as [rows, k, d], transpose
  // to [rows, d, k] and flatten to [rows, d * k].
  int64_t k = op.getKernel();
  int64_t d = cast<ShapedType>(op.getX().getType()).getDimSize(1);
  Value kept = tensor::ExtractSliceOp::create(
      b, loc, RankedTensorType::get({rows * k, d}, b.getF32Type()), op.getX(),
      ValueRange{}, ValueRange{}, ValueRange{}, ArrayRef<int64_t>{0, 0},
      ArrayRef<int64_t>{rows * k, d}, ArrayRef<int64_t>{1, 1});
  Value frames = tensor::ExpandShapeOp::create(
      b, loc, RankedTensorType::get({rows, k, d}, b.getF32Type()), kept,
      SmallVector<ReassociationIndices>{{0, 1}, {2}});
  Value empty = tensor::EmptyOp::create(b, loc, ArrayRef<int64_t>{rows, d, k},
                                        b.getF32Type());
  Value transposed = linalg::TransposeOp::create(b, loc, frames, empty,
                                                 ArrayRef<int64_t>{0, 2, 1})
                         .getResult()[0];
  return tensor::CollapseShapeOp::create(
      b, loc, resultType, transposed,
      SmallVector<ReassociationIndices>{{0}, {1, 2}});
}

/// The conv of a loop-fused adapter, one output token at a time, each row
/// multiplied by W1 at once: h[t] = conv(x)[t] W1^T.
Value convThenLinear(OpBuilder &b, Location loc, AdapterOp op, int64_t rows) {
  Value xp = padRows(b, loc, op.getX(), op.getPadding());
  Value conv = op.getConv();
  auto convType = cast<ShapedType>(conv.getType());
  int64_t d = convType.getDimSize(1), k = convType.getDimSize(2);
  int64_t hidden = cast<ShapedType>(op.getW1().getType()).getDimSize(0);
  Value init = tensor::EmptyOp::create(b, loc, ArrayRef<int64_t>{rows, hidden},
                                       b.getF32Type());
  Value zero = arith::ConstantIndexOp::create(b, loc, 0);
  Value one = arith::ConstantIndexOp::create(b, loc, 1);
  Value end = arith::ConstantIndexOp::create(b, loc, rows);
  auto loop = scf::ForOp::create(
      b, loc, zero, end, one, ValueRange{init},
      [&](OpBuilder &nb, Location nloc, Value t, ValueRange acc) {
        Value start = arith::MulIOp::create(
            nb, nloc, t,
            arith::ConstantIndexOp::create(nb, nloc, op.getStride()));
        Value window = tensor::ExtractSliceOp::create(
            nb, nloc, RankedTensorType::get({k, d}, nb.getF32Type()), xp,
            ValueRange{start}, ValueRange{}, ValueRange{},
            ArrayRef<int64_t>{ShapedType::kDynamic, 0}, ArrayRef<int64_t>{k, d},
            ArrayRef<int64_t>{1, 1});
        Value convRow = windowProduct(nb, nloc, window, conv, 1, 1);
        Value row = matmulTransposed(nb, nloc, convRow, op.getW1());
        Value next = tensor::InsertSliceOp::create(
            nb, nloc, row, acc[0], ValueRange{t}, ValueRange{}, ValueRange{},
            ArrayRef<int64_t>{ShapedType::kDynamic, 0},
            ArrayRef<int64_t>{1, hidden}, ArrayRef<int64_t>{1, 1});
        scf::YieldOp::create(nb, nloc, next);
      });
  return loop.getResult(0);
}

/// x + bias (broadcast over rows), then relu when `relu`.
Value addBias(OpBuilder &b, Location loc, Value x, Value bias, bool relu) {
  return elementwise(
      b, loc, x, {full(x), inner(bias, 2)},
      [&](OpBuilder &nb, Location nloc, ValueRange args) -> Value {
        Value v = arith::AddFOp::create(nb, nloc, args[0], args[1]);
        if (!relu)
          return v;
        return arith::MaximumFOp::create(nb, nloc, v, f32Const(nb, nloc, 0.0));
      });
}

RankedTensorType rowsOf(Value x, int64_t width) {
  return RankedTensorType::get(
      {cast<ShapedType>(x.getType()).getDimSize(0), width},
      Float32Type::get(x.getContext()));
}

Value lowerAdapter(OpBuilder &b, AdapterOp op) {
  Location loc = op.getLoc();
  auto w1Type = cast<ShapedType>(op.getW1().getType());
  int64_t rows = cast<ShapedType>(op.getType()).getDimSize(0);
  int64_t hidden = w1Type.getDimSize(0);
  Value h;
  if (op.getConv())
    h = convThenLinear(b, loc, op, rows);
  else if (w1Type.getRank() == 3)
    h = windowProduct(b, loc, padRows(b, loc, op.getX(), op.getPadding()),
                      op.getW1(), rows, op.getStride());
  else
    h = rwkv::LinearOp::create(b, loc, rowsOf(op.getX(), hidden), op.getX(),
                               op.getW1(), Value(), StringAttr());
  h = addBias(b, loc, h, op.getB1(), /*relu=*/true);
  int64_t width = cast<ShapedType>(op.getW2().getType()).getDimSize(0);
  Value y = rwkv::LinearOp::create(b, loc, rowsOf(h, width), h, op.getW2(),
                                   Value(), StringAttr());
  y = addBias(b, loc, y, op.getB2(), /*relu=*/false);
  if (!op.getNormWeight())
    return y;
  Value normed =
      rwkv::LayerNormOp::create(b, loc, y.getType(), y, op.getNormWeight(),
                                op.getNormBias(), APFloat(1e-5f));
  return arith::AddFOp::create(b, loc, y, normed);
}

/// Data parallel, so that it maps onto GPU threads as it is: token t's
/// feature row is the number of placeholders before it (a masked count over
/// s < t, quadratic in the prefill chunk but a few thousand compares), and
/// each output element takes that row or the embedding.
Value lowerSplice(OpBuilder &b, SpliceOp op) {
  Location loc = op.getLoc();
  MLIRContext *ctx = b.getContext();
  Value tokens = op.getTokens(), features = op.getFeatures();
  Type i32 = b.getI32Type();
  Value placeholder =
      arith::ConstantIntOp::create(b, loc, i32, op.getPlaceholder());
  auto isPlaceholder = [&](OpBuilder &nb, Location nloc, Value token) {
    return arith::CmpIOp::create(nb, nloc, arith::CmpIPredicate::eq, token,
                                 placeholder)
        .getResult();
  };
  OpFoldResult count = tensor::getMixedSize(b, loc, tokens, 0);
  Value zero = arith::ConstantIntOp::create(b, loc, i32, 0);
  using utils::IteratorType;
  AffineExpr d0 = getAffineDimExpr(0, ctx), d1 = getAffineDimExpr(1, ctx);
  auto identity = AffineMap::getMultiDimIdentityMap(1, ctx);

  // Placeholders read row 0 of the table; their rows are replaced below.
  Value empty = tensor::EmptyOp::create(b, loc, {count}, i32);
  Value safe =
      linalg::GenericOp::create(
          b, loc, empty.getType(), tokens, empty,
          ArrayRef<AffineMap>{identity, identity},
          ArrayRef<IteratorType>{IteratorType::parallel},
          [&](OpBuilder &nb, Location nloc, ValueRange args) {
            linalg::YieldOp::create(
                nb, nloc,
                arith::SelectOp::create(
                    nb, nloc, isPlaceholder(nb, nloc, args[0]), zero, args[0])
                    .getResult());
          })
          .getResult(0);
  auto type = cast<RankedTensorType>(op.getType());
  Value embedded = rwkv::EmbeddingOp::create(b, loc, type, safe, op.getTable());

  // row[t] = #{s < t : tokens[s] == placeholder}
  Value rowInit = linalg::FillOp::create(b, loc, zero, empty).getResult(0);
  Value row =
      linalg::GenericOp::create(
          b, loc, rowInit.getType(), tokens, rowInit,
          ArrayRef<AffineMap>{AffineMap::get(2, 0, {d1}, ctx),
                              AffineMap::get(2, 0, {d0}, ctx)},
          ArrayRef<IteratorType>{IteratorType::parallel,
                                 IteratorType::reduction},
          [&](OpBuilder &nb, Location nloc, ValueRange args) {
            Value before =
                arith::CmpIOp::create(nb, nloc, arith::CmpIPredicate::ult,
                                      linalg::IndexOp::create(nb, nloc, 1),
                                      linalg::IndexOp::create(nb, nloc, 0));
            Value counted = arith::AndIOp::create(
                nb, nloc, before, isPlaceholder(nb, nloc, args[0]));
            Value one = arith::ExtUIOp::create(nb, nloc, i32, counted);
            linalg::YieldOp::create(
                nb, nloc,
                arith::AddIOp::create(nb, nloc, args[1], one).getResult());
          })
          .getResult(0);

  // More placeholders than rows is refused by the runtime; never read past
  // the features here either.
  Value available = tensor::DimOp::create(b, loc, features, 0);
  auto tokenMap = AffineMap::get(2, 0, {d0}, ctx);
  auto elementMap = AffineMap::getMultiDimIdentityMap(2, ctx);
  return linalg::GenericOp::create(
             b, loc, type, ValueRange{tokens, row}, embedded,
             ArrayRef<AffineMap>{tokenMap, tokenMap, elementMap},
             ArrayRef<IteratorType>{IteratorType::parallel,
                                    IteratorType::parallel},
             [&](OpBuilder &nb, Location nloc, ValueRange args) {
               Value r = arith::IndexCastUIOp::create(
                   nb, nloc, nb.getIndexType(), args[1]);
               Value inRange = arith::CmpIOp::create(
                   nb, nloc, arith::CmpIPredicate::ult, r, available);
               Value take = arith::AndIOp::create(
                   nb, nloc, isPlaceholder(nb, nloc, args[0]), inRange);
               Value c = linalg::IndexOp::create(nb, nloc, 1);
               auto branch = scf::IfOp::create(
                   nb, nloc, take,
                   [&](OpBuilder &tb, Location tloc) {
                     scf::YieldOp::create(
                         tb, tloc,
                         tensor::ExtractOp::create(tb, tloc, features,
                                                   ValueRange{r, c})
                             .getResult());
                   },
                   [&](OpBuilder &eb, Location eloc) {
                     scf::YieldOp::create(eb, eloc, args[2]);
                   });
               linalg::YieldOp::create(nb, nloc, branch.getResult(0));
             })
      .getResult(0);
}

struct MmLowerPass : public modrwkv::impl::MmLowerBase<MmLowerPass> {
  void runOnOperation() override {
    SmallVector<Operation *> ops;
    getOperation().walk([&](Operation *op) {
      if (isa<MmDialect>(op->getDialect()))
        ops.push_back(op);
    });
    for (Operation *op : ops) {
      OpBuilder b(op);
      if (auto call = dyn_cast<EncoderCallOp>(op)) {
        auto lowered =
            func::CallOp::create(b, op->getLoc(), call.getCalleeAttr(),
                                 call.getResultTypes(), call.getInputs());
        op->replaceAllUsesWith(lowered.getResults());
        op->erase();
        continue;
      }
      Value result;
      if (auto compress = dyn_cast<CompressOp>(op))
        result = lowerCompress(b, compress);
      else if (auto adapter = dyn_cast<AdapterOp>(op))
        result = lowerAdapter(b, adapter);
      else
        result = lowerSplice(b, cast<SpliceOp>(op));
      replaceWithCasts(b, op, {result});
    }
  }
};

} // namespace
