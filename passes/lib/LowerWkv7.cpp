//===- LowerWkv7.cpp - the WKV-7 recurrence to scf + vector ---------------===//
//
// for t in [0, T):                          (sequential: the recurrence)
//   for h in [0, H):                        (independent heads)
//     r, w, k, a, b = 64-lane vectors of token t, head h
//     for i in [0, 64):                     (value rows of the state)
//       row = S[h, i, :]
//       row = row * w + (sum(row * a)) * b + v[t, 64h + i] * k
//       y[t, 64h + i] = sum(row * r) ; S[h, i, :] = row
//
//===----------------------------------------------------------------------===//

#include "LinalgBuilders.h"
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
  Value heads = idx(cast<ShapedType>(op.getState().getType()).getDimSize(0));
  Value tokens = tensor::DimOp::create(b, loc, op.getR(), 0);
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

  auto timeLoop = scf::ForOp::create(
      b, loc, c0, tokens, c1, ValueRange{yInit, op.getState()},
      [&](OpBuilder &tb, Location tl, Value t, ValueRange tArgs) {
        auto headLoop = scf::ForOp::create(
            tb, tl, c0, heads, c1, tArgs,
            [&](OpBuilder &hb, Location hl, Value h, ValueRange hArgs) {
              Value base = arith::MulIOp::create(hb, hl, h, cN);
              auto lane = [&](Value src) {
                return read(hb, hl, src, {t, base});
              };
              Value r = lane(op.getR()), w = lane(op.getW()),
                    k = lane(op.getK()), a = lane(op.getA()),
                    bv = lane(op.getB());
              auto rowLoop = scf::ForOp::create(
                  hb, hl, c0, cN, c1, hArgs,
                  [&](OpBuilder &ib, Location il, Value i, ValueRange iArgs) {
                    Value y = iArgs[0], state = iArgs[1];
                    Value row = read(ib, il, state, {h, i, c0});
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
                    Value newState = vector::TransferWriteOp::create(
                                         ib, il, next, state, {h, i, c0},
                                         ArrayRef<bool>{true})
                                         .getResult();
                    Value newY =
                        tensor::InsertOp::create(ib, il, yi, y, {t, ch});
                    scf::YieldOp::create(ib, il, ValueRange{newY, newState});
                  });
              scf::YieldOp::create(hb, hl, rowLoop.getResults());
            });
        scf::YieldOp::create(tb, tl, headLoop.getResults());
      });

  replaceWithCasts(b, op, SmallVector<Value>(timeLoop.getResults()));
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
