//===- LowerNormsGpu.cpp - each layer or group norm as one gpu.launch -----===//
//
// The generic lowering gives a norm three kernels: the mean, the variance
// (each a warp-per-row reduction), then the normalization. Here one warp
// owns one row of a layer norm, or one (row, group) of a group norm, and
// makes all three passes over its W = C / groups channels; the sums are
// shuffle trees, the row stays in the cache between passes:
//
//   item = t * groups + g; lanes stride c in [g W, (g + 1) W)
//   mean = warp_sum(x[t, c]) / W
//   var  = warp_sum((x[t, c] - mean)^2) / W
//   y[t, c] = (x[t, c] - mean) * rsqrt(var + eps) * gamma[c] + beta[c]
//
//===----------------------------------------------------------------------===//

#include "GpuBuilders.h"
#include "LinalgBuilders.h"
#include "modrwkv/Dialect/Rwkv/RwkvDialect.h"
#include "modrwkv/Passes/Passes.h"

namespace modrwkv {
#define GEN_PASS_DEF_RWKVLOWERNORMSGPU
#include "modrwkv/Passes/Passes.h.inc"
} // namespace modrwkv

using namespace mlir;
using namespace modrwkv;

namespace {

void lowerNorm(OpBuilder &b, Operation *op, Value xTensor, Value gammaTensor,
               Value betaTensor, int64_t groups, double eps, int64_t warps) {
  Location loc = op->getLoc();
  auto type = cast<RankedTensorType>(xTensor.getType());
  int64_t width = type.getDimSize(1) / groups;
  Value x = toBuffer(b, loc, xTensor), gamma = toBuffer(b, loc, gammaTensor),
        beta = toBuffer(b, loc, betaTensor);
  Value tokens = tensor::DimOp::create(b, loc, xTensor, 0);
  // The language model's rows are dynamic (tokens); an encoder's are not.
  SmallVector<Value> dynamicRows;
  if (type.isDynamicDim(0))
    dynamicRows.push_back(tokens);
  Value y = memref::AllocOp::create(
      b, loc, MemRefType::get(type.getShape(), b.getF32Type()), dynamicRows);
  Value items =
      arith::MulIOp::create(b, loc, tokens, indexConstant(b, loc, groups));
  WarpLaunch w =
      createWarpLaunch(b, loc, items, indexConstant(b, loc, 1), warps);
  OpBuilder &kb = w.body;
  Value g = indexConstant(kb, loc, groups);
  Value t = arith::DivUIOp::create(kb, loc, w.item, g);
  Value base =
      arith::MulIOp::create(kb, loc, arith::RemUIOp::create(kb, loc, w.item, g),
                            indexConstant(kb, loc, width));
  Value zero = f32Const(kb, loc, 0.0);
  Value invWidth = f32Const(kb, loc, 1.0 / double(width));

  // for c = lane; c < W; c += 32: body(channel) accumulated, or stored.
  auto overChannels = [&](function_ref<Value(OpBuilder &, Value, Value)> body) {
    auto loop =
        scf::ForOp::create(kb, loc, w.lane, indexConstant(kb, loc, width),
                           indexConstant(kb, loc, kWarp), zero);
    OpBuilder lb = OpBuilder::atBlockBegin(loop.getBody());
    Value c = arith::AddIOp::create(lb, loc, base, loop.getInductionVar());
    Value xc = memref::LoadOp::create(lb, loc, x, ValueRange{t, c});
    scf::YieldOp::create(lb, loc, body(lb, c, xc));
    return loop.getResult(0);
  };
  auto add = [&](OpBuilder &lb, Value acc, Value v) {
    return arith::AddFOp::create(lb, loc, acc, v).getResult();
  };
  Value mean = arith::MulFOp::create(
      kb, loc,
      warpSum(kb, loc, overChannels([&](OpBuilder &lb, Value, Value xc) {
                return add(lb, lb.getBlock()->getArgument(1), xc);
              })),
      invWidth);
  Value var = arith::MulFOp::create(
      kb, loc,
      warpSum(kb, loc, overChannels([&](OpBuilder &lb, Value, Value xc) {
                Value d = arith::SubFOp::create(lb, loc, xc, mean);
                return add(lb, lb.getBlock()->getArgument(1),
                           arith::MulFOp::create(lb, loc, d, d));
              })),
      invWidth);
  Value scale = math::RsqrtOp::create(
      kb, loc, arith::AddFOp::create(kb, loc, var, f32Const(kb, loc, eps)));
  overChannels([&](OpBuilder &lb, Value c, Value xc) {
    Value n = arith::MulFOp::create(
        lb, loc, arith::SubFOp::create(lb, loc, xc, mean), scale);
    Value gc = memref::LoadOp::create(lb, loc, gamma, ValueRange{c});
    Value bc = memref::LoadOp::create(lb, loc, beta, ValueRange{c});
    memref::StoreOp::create(
        lb, loc,
        arith::AddFOp::create(lb, loc, arith::MulFOp::create(lb, loc, n, gc),
                              bc),
        y, ValueRange{t, c});
    return lb.getBlock()->getArgument(1);
  });

  b.setInsertionPointAfter(w.launch);
  Value result = bufferization::ToTensorOp::create(
      b, loc, RankedTensorType::get(type.getShape(), b.getF32Type()), y,
      /*restrict=*/true, /*writable=*/true);
  replaceWithCasts(b, op, {result});
}

struct RwkvLowerNormsGpuPass
    : public modrwkv::impl::RwkvLowerNormsGpuBase<RwkvLowerNormsGpuPass> {
  using Base::Base;

  void runOnOperation() override {
    if (warpsPerBlock < 1 || warpsPerBlock > 32) {
      getOperation().emitError("rwkv-lower-norms-gpu: warps-per-block must "
                               "be in [1, 32]");
      return signalPassFailure();
    }
    SmallVector<Operation *> norms;
    getOperation().walk([&](Operation *op) {
      if (isa<rwkv::LayerNormOp, rwkv::GroupNormOp>(op))
        norms.push_back(op);
    });
    for (Operation *op : norms) {
      OpBuilder b(op);
      if (auto ln = dyn_cast<rwkv::LayerNormOp>(op))
        lowerNorm(b, op, ln.getX(), ln.getGamma(), ln.getBeta(), 1,
                  ln.getEps().convertToDouble(), warpsPerBlock);
      else if (auto gn = dyn_cast<rwkv::GroupNormOp>(op))
        lowerNorm(b, op, gn.getX(), gn.getGamma(), gn.getBeta(), gn.getGroups(),
                  gn.getEps().convertToDouble(), warpsPerBlock);
    }
  }
};

} // namespace
