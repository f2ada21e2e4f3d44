//===- LowerWkv7Gpu.cpp - the WKV-7 recurrence as one gpu.launch ----------===//
//
// One GPU thread owns one value row of one head's state, kept in registers
// (a vector<64xf32> loop-carried value) for the whole time loop:
//
//   block b, thread x:  head h = b * heads-per-block + x / 64, row i = x % 64
//   row = S[h, i, :]
//   for t in [0, T):                        (unrolled by `unroll`)
//     r, w, k, a, b = 64 floats of token t, head h   (shared by the block)
//     row = row * w + (sum(row * a)) * b + v[t, 64h + i] * k
//     y[t, 64h + i] = sum(row * r)
//   S_out[h, i, :] = row
//
// Rows never exchange data, so the kernel needs no barrier; the inputs of a
// token are read by the 64 threads of a head from the same cache lines.
// Batched form (state [T, H, 64, 64], one token per sequence): block y is
// sequence s, whose rows are S[s, h, i, :] and whose time loop is token s.
//
//===----------------------------------------------------------------------===//

#include "GpuBuilders.h"
#include "LinalgBuilders.h"
#include "modrwkv/Dialect/Rwkv/RwkvDialect.h"
#include "modrwkv/Passes/Passes.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/SCF/Utils/Utils.h"

namespace modrwkv {
#define GEN_PASS_DEF_RWKVLOWERWKV7GPU
#include "modrwkv/Passes/Passes.h.inc"
} // namespace modrwkv

using namespace mlir;
using namespace modrwkv;
using namespace modrwkv::rwkv;

namespace {

LogicalResult lowerWkv7(OpBuilder &b, Wkv7Op op, int64_t headsPerBlock,
                        int64_t unroll) {
  Location loc = op.getLoc();
  bool batched = isBatched(op.getState());
  Type f32 = b.getF32Type();
  auto lanes = VectorType::get({kHeadSize}, f32);
  auto idx = [&](int64_t v) {
    return arith::ConstantIndexOp::create(b, loc, v);
  };
  auto stateType = cast<RankedTensorType>(op.getState().getType());
  int64_t heads = stateType.getDimSize(batched ? 1 : 0);
  Value c0 = idx(0), c1 = idx(1), cN = idx(kHeadSize);
  Value tokens = tensor::DimOp::create(b, loc, op.getR(), 0);

  Value r = toBuffer(b, loc, op.getR()), w = toBuffer(b, loc, op.getW()),
        k = toBuffer(b, loc, op.getK()), v = toBuffer(b, loc, op.getV()),
        a = toBuffer(b, loc, op.getA()), bv = toBuffer(b, loc, op.getB()),
        state = toBuffer(b, loc, op.getState());
  auto yType = cast<RankedTensorType>(op.getY().getType());
  Value y = memref::AllocOp::create(
      b, loc, MemRefType::get(yType.getShape(), f32), ValueRange{tokens});
  Value stateOut = memref::AllocOp::create(
      b, loc, MemRefType::get(stateType.getShape(), f32),
      batched ? ValueRange{tokens} : ValueRange{});

  Value grid = idx(llvm::divideCeil(heads, headsPerBlock));
  Value block = idx(headsPerBlock * kHeadSize);
  Value cHeadsPerBlock = idx(headsPerBlock), cHeads = idx(heads);
  auto launch = gpu::LaunchOp::create(b, loc, grid, batched ? tokens : c1, c1,
                                      block, c1, c1);
  launch->setAttr(kSpreadBlocksAttrName, b.getUnitAttr());
  OpBuilder kb = OpBuilder::atBlockBegin(&launch.getBody().front());
  gpu::KernelDim3 blockId = launch.getBlockIds();
  gpu::KernelDim3 threadId = launch.getThreadIds();
  Value head = arith::AddIOp::create(
      kb, loc, arith::MulIOp::create(kb, loc, blockId.x, cHeadsPerBlock),
      arith::DivUIOp::create(kb, loc, threadId.x, cN));
  Value row = arith::RemUIOp::create(kb, loc, threadId.x, cN);
  Value inRange =
      arith::CmpIOp::create(kb, loc, arith::CmpIPredicate::ult, head, cHeads);
  auto guard = scf::IfOp::create(kb, loc, inRange, /*withElse=*/false);
  gpu::TerminatorOp::create(kb, loc);

  kb.setInsertionPointToStart(guard.thenBlock());
  Value base = arith::MulIOp::create(kb, loc, head, cN);
  Value channel = arith::AddIOp::create(kb, loc, base, row);
  auto fast = arith::FastMathFlags::reassoc | arith::FastMathFlags::contract;
  auto sum = [&](OpBuilder &nb, Value x, Value z) {
    Value prod = arith::MulFOp::create(nb, loc, x, z);
    return vector::ReductionOp::create(nb, loc, vector::CombiningKind::ADD,
                                       prod, Value(), fast)
        .getResult();
  };
  // This thread's state row, and the tokens it runs: all of them, or its
  // sequence's one.
  SmallVector<Value> at = {head, row, c0};
  Value first = c0, last = tokens;
  if (batched) {
    at.insert(at.begin(), blockId.y);
    first = blockId.y;
    last = arith::AddIOp::create(kb, loc, blockId.y, c1);
  }
  Value init = vector::LoadOp::create(kb, loc, lanes, state, at);
  auto timeLoop = scf::ForOp::create(
      kb, loc, first, last, c1, ValueRange{init},
      [&](OpBuilder &tb, Location, Value t, ValueRange args) {
        auto lane = [&](Value src) {
          return vector::LoadOp::create(tb, loc, lanes, src,
                                        ValueRange{t, base})
              .getResult();
        };
        Value rt = lane(r), wt = lane(w), kt = lane(k), at = lane(a),
              bt = lane(bv);
        Value vi = memref::LoadOp::create(tb, loc, v, ValueRange{t, channel});
        Value sa = sum(tb, args[0], at);
        Value saB = vector::BroadcastOp::create(tb, loc, lanes, sa);
        Value viB = vector::BroadcastOp::create(tb, loc, lanes, vi);
        Value next = arith::MulFOp::create(tb, loc, args[0], wt);
        next = vector::FMAOp::create(tb, loc, saB, bt, next);
        next = vector::FMAOp::create(tb, loc, viB, kt, next);
        memref::StoreOp::create(tb, loc, sum(tb, next, rt), y,
                                ValueRange{t, channel});
        scf::YieldOp::create(tb, loc, next);
      });
  vector::StoreOp::create(kb, loc, timeLoop.getResult(0), stateOut, at);
  if (unroll > 1 && !batched && failed(loopUnrollByFactor(timeLoop, unroll)))
    return op.emitError("cannot unroll the WKV-7 time loop by ") << unroll;

  b.setInsertionPointAfter(launch);
  Value yTensor = bufferization::ToTensorOp::create(
      b, loc, yType, y, /*restrict=*/true, /*writable=*/true);
  Value stateTensor = bufferization::ToTensorOp::create(
      b, loc, stateType, stateOut, /*restrict=*/true, /*writable=*/true);
  replaceWithCasts(b, op, {yTensor, stateTensor});
  return success();
}

struct RwkvLowerWkv7GpuPass
    : public modrwkv::impl::RwkvLowerWkv7GpuBase<RwkvLowerWkv7GpuPass> {
  using Base::Base;

  void runOnOperation() override {
    if (headsPerBlock < 1 || unroll < 1) {
      getOperation().emitError("heads-per-block and unroll must be >= 1");
      return signalPassFailure();
    }
    SmallVector<Wkv7Op> ops;
    getOperation().walk([&](Wkv7Op op) { ops.push_back(op); });
    for (Wkv7Op op : ops) {
      OpBuilder b(op);
      if (failed(lowerWkv7(b, op, headsPerBlock, unroll)))
        return signalPassFailure();
    }
  }
};

} // namespace
