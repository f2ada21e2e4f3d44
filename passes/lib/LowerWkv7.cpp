//===- LowerWkv7.cpp - the WKV-7 recurrence to scf + vector ---------------===//
//
// forall h in [0, H):                       (independent heads: threads)
//   for t in [0, T):                        (sequential: the recurrence)
//     r, w, k, a, b = 64-lane vectors of token t, head h
//     for i in [0, 64):                     (value rows of the state)
//       row = S[h, i, :]
//       row = row * w + (sum(row * a)) * b + v[t, 64h + i] * k
//       y[t, 64h + i] = sum(row * r) ; S[h, i, :] = row
//
// Heads outermost: a head's 16 KiB state stays in L1 across the tokens,
// and heads can run on different threads. The batched form (one token per
// sequence, state [T, H, 64, 64]) runs forall (s, h) over sequences and
// heads, the time loop over token s alone.
//
//===----------------------------------------------------------------------===//

#include "LinalgBuilders.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "modrwkv/Dialect/Rwkv/RwkvDialect.h"
#include "modrwkv/Passes/Passes.h"

namespace modrwkv {
#define GEN_PASS_DEF_RWKVLOWERWKV7
#include "modrwkv/Passes/Passes.h.inc"
} // namespace modrwkv

using namespace mlir;
using namespace modrwkv;
using namespace modrwkv::rwkv;

namespace {

void lowerWkv7(OpBuilder &b, Wkv7Op op) {
  Location loc = op.getLoc();
  Type f32 = b.getF32Type();
  auto lanes = VectorType::get({kHeadSize}, f32);
  auto idx = [&](int64_t v) {
    return arith::ConstantIndexOp::create(b, loc, v);
  };
  Value c0 = idx(0), c1 = idx(1), cN = idx(kHeadSize);
  bool batched = isBatched(op.getState());
  auto stateType = cast<ShapedType>(op.getState().getType());
  int64_t heads = stateType.getDimSize(batched ? 1 : 0);
  Value tokens = tensor::DimOp::create(b, loc, op.getR(), 0);
  // Tokens each (sequence, head) task runs: all of them, or its own one.
  OpFoldResult span = batched ? OpFoldResult(b.getIndexAttr(1)) : tokens;
  Value pad = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0.0f));
  auto fast = arith::FastMathFlagsAttr::get(b.getContext(),
                                            arith::FastMathFlags::reassoc |
                                                arith::FastMathFlags::contract);

  SmallVector<OpFoldResult> ySizes = {
      OpFoldResult(tokens),
      b.getIndexAttr(cast<ShapedType>(op.getR().getType()).getDimSize(1))};
  Value yInit = tensor::EmptyOp::create(b, loc, ySizes, f32);

  auto read = [&](OpBuilder &nb, Location l, Value src, ValueRange indices) {
    return vector::TransferReadOp::create(nb, l, lanes, src, indices, pad,
                                          ArrayRef<bool>{true})
        .getResult();
  };
  auto sum = [&](OpBuilder &nb, Location l, Value x, Value y) {
    Value prod = arith::MulFOp::create(nb, l, x, y);
    return vector::ReductionOp::create(nb, l, vector::CombiningKind::ADD, prod,
                                       Value(), fast.getValue())
        .getResult();
  };

  // Offsets, sizes and strides of head h's columns of y and of its state
  // (rank-reduced to 64 x 64).
  struct Slice {
    SmallVector<OpFoldResult> offsets, sizes, strides;
  };
  auto ySlice = [&](OpBuilder &sb, OpFoldResult first, Value base) {
    return Slice{{first, base},
                 {span, sb.getIndexAttr(kHeadSize)},
                 SmallVector<OpFoldResult>(2, sb.getIndexAttr(1))};
  };
  auto stateSlice = [&](OpBuilder &sb, Value s, Value h) {
    OpFoldResult zero = sb.getIndexAttr(0), one = sb.getIndexAttr(1),
                 size = sb.getIndexAttr(kHeadSize);
    if (batched)
      return Slice{
          {s, h, zero, zero}, {one, one, size, size}, {one, one, one, one}};
    return Slice{{h, zero, zero}, {one, size, size}, {one, one, one}};
  };
  auto headStateType = RankedTensorType::get({kHeadSize, kHeadSize}, f32);

  SmallVector<OpFoldResult> tasks = {b.getIndexAttr(heads)};
  if (batched)
    tasks.insert(tasks.begin(), tokens);
  auto headLoop = scf::ForallOp::create(
      b, loc, tasks, ValueRange{yInit, op.getState()}, std::nullopt,
      [&](OpBuilder &hb, Location hl, ValueRange args) {
        Value s = batched ? args[0] : c0;
        ValueRange rest = args.drop_front(batched ? 1 : 0);
        Value h = rest[0], yAll = rest[1], stateAll = rest[2];
        Value base = arith::MulIOp::create(hb, hl, h, cN);
        OpFoldResult firstRow = batched ? OpFoldResult(s) : hb.getIndexAttr(0);
        Slice yPart = ySlice(hb, firstRow, base),
              statePart = stateSlice(hb, s, h);
        Value yHead = tensor::ExtractSliceOp::create(
            hb, hl, yAll, yPart.offsets, yPart.sizes, yPart.strides);
        Value stateHead = tensor::ExtractSliceOp::create(
            hb, hl, headStateType, stateAll, statePart.offsets, statePart.sizes,
            statePart.strides);
        // u: the token's row in yHead; t = s + u its row in the inputs.
        Value count = getValueOrCreateConstantIndexOp(hb, hl, span);
        auto timeLoop = scf::ForOp::create(
            hb, hl, c0, count, c1, ValueRange{yHead, stateHead},
            [&](OpBuilder &tb, Location tl, Value u, ValueRange tArgs) {
              Value t = batched ? arith::AddIOp::create(tb, tl, s, u) : u;
              auto lane = [&](Value src) {
                return read(tb, tl, src, {t, base});
              };
              Value r = lane(op.getR()), w = lane(op.getW()),
                    k = lane(op.getK()), a = lane(op.getA()),
                    bv = lane(op.getB());
              auto rowLoop = scf::ForOp::create(
                  tb, tl, c0, cN, c1, tArgs,
                  [&](OpBuilder &ib, Location il, Value i, ValueRange iArgs) {
                    Value y = iArgs[0], state = iArgs[1];
                    Value row = read(ib, il, state, {i, c0});
                    Value sa = sum(ib, il, row, a);
                    Value ch = arith::AddIOp::create(ib, il, base, i);
                    Value vi =
                        tensor::ExtractOp::create(ib, il, op.getV(), {t, ch});
                    Value saB = vector::BroadcastOp::create(ib, il, lanes, sa);
                    Value viB = vector::BroadcastOp::create(ib, il, lanes, vi);
                    Value next = arith::MulFOp::create(ib, il, row, w);
                    next = vector::FMAOp::create(ib, il, saB, bv, next);
                    next = vector::FMAOp::create(ib, il, viB, k, next);
                    Value yi = sum(ib, il, next, r);
                    Value newState =
                        vector::TransferWriteOp::create(
                            ib, il, next, state, {i, c0}, ArrayRef<bool>{true})
                            .getResult();
                    Value newY =
                        tensor::InsertOp::create(ib, il, yi, y, {u, i});
                    scf::YieldOp::create(ib, il, ValueRange{newY, newState});
                  });
              scf::YieldOp::create(tb, tl, rowLoop.getResults());
            });
        auto parallel = scf::InParallelOp::create(hb, hl);
        OpBuilder::InsertionGuard guard(hb);
        hb.setInsertionPointToStart(parallel.getBody());
        tensor::ParallelInsertSliceOp::create(hb, hl, timeLoop.getResult(0),
                                              yAll, yPart.offsets, yPart.sizes,
                                              yPart.strides);
        tensor::ParallelInsertSliceOp::create(
            hb, hl, timeLoop.getResult(1), stateAll, statePart.offsets,
            statePart.sizes, statePart.strides);
      });

  replaceWithCasts(b, op, SmallVector<Value>(headLoop.getResults()));
}

struct RwkvLowerWkv7Pass
    : public modrwkv::impl::RwkvLowerWkv7Base<RwkvLowerWkv7Pass> {
  void runOnOperation() override {
    SmallVector<Wkv7Op> ops;
    getOperation().walk([&](Wkv7Op op) { ops.push_back(op); });
    for (Wkv7Op op : ops) {
      OpBuilder b(op);
      lowerWkv7(b, op);
    }
  }
};

} // namespace
