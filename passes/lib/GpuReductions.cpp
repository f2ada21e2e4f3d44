//===- GpuReductions.cpp - sums over the innermost axis, a warp each ------===//
//
// The plain loop lowering gives each output of a reduction one thread that
// walks the whole axis: a layer norm's mean over C = 2048 channels is one
// thread's 2048 dependent loads and adds, and at decode (T = 1) the kernel
// runs one thread in all. Here a warp takes each output: its lanes stride
// the axis (consecutive addresses across the warp) and sum with shuffles.
//
//===----------------------------------------------------------------------===//

#include "modrwkv/Passes/Passes.h"

#include "GpuBuilders.h"

#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/IR/IRMapping.h"

namespace modrwkv {
#define GEN_PASS_DEF_RWKVGPUREDUCTIONS
#include "modrwkv/Passes/Passes.h.inc"
} // namespace modrwkv

using namespace mlir;
using modrwkv::indexConstant;
using modrwkv::kWarp;

namespace {

/// y[p] = y[p] + sum_k g(inputs at (p, k)): the generic's body ends in
/// `yield addf(out, g)` (or `addf(g, out)`) and uses `out` nowhere else.
struct Reduction {
  linalg::GenericOp op;
  arith::AddFOp combine;
  Value partial; ///< g, computed in the body
};

std::optional<Reduction> matchReduction(linalg::GenericOp op) {
  if (!op.hasPureBufferSemantics() || op.getNumDpsInits() != 1)
    return std::nullopt;
  unsigned loops = op.getNumLoops();
  auto iterators = op.getIteratorTypesArray();
  if (loops < 2 || iterators.back() != utils::IteratorType::reduction ||
      llvm::count(iterators, utils::IteratorType::reduction) != 1)
    return std::nullopt;
  for (AffineMap map : op.getIndexingMapsArray())
    if (!map.isProjectedPermutation())
      return std::nullopt;
  // The output is indexed by the parallel dims, in order.
  AffineMap outMap = op.getMatchingIndexingMap(op.getDpsInitOperand(0));
  if (outMap.getNumResults() != loops - 1)
    return std::nullopt;
  for (unsigned i = 0; i + 1 < loops; ++i)
    if (outMap.getDimPosition(i) != i)
      return std::nullopt;
  Block *body = op.getBlock();
  Value out = body->getArguments().back();
  if (!out.getType().isF32() || !out.hasOneUse())
    return std::nullopt;
  auto yield = cast<linalg::YieldOp>(body->getTerminator());
  auto combine = yield.getValues()[0].getDefiningOp<arith::AddFOp>();
  if (!combine || !combine->hasOneUse())
    return std::nullopt;
  Value partial = combine.getLhs() == out   ? combine.getRhs()
                  : combine.getRhs() == out ? combine.getLhs()
                                            : Value();
  if (!partial)
    return std::nullopt;
  return Reduction{op, combine, partial};
}

/// The launch, in place of the generic: a warp per output.
void emit(OpBuilder &b, Reduction r, int64_t warps) {
  linalg::GenericOp op = r.op;
  Location loc = op.getLoc();
  OpOperand *init = op.getDpsInitOperand(0);
  std::optional<Value> initial = modrwkv::takeScalarInit(op, init->get());
  SmallVector<Value> sizes;
  for (Range range :
       cast<linalg::LinalgOp>(op.getOperation()).createLoopRanges(b, loc))
    sizes.push_back(getValueOrCreateConstantIndexOp(b, loc, range.size));
  Value outputs = sizes.front();
  for (Value size : ArrayRef(sizes).drop_front().drop_back())
    outputs = arith::MulIOp::create(b, loc, outputs, size);
  modrwkv::WarpLaunch w = modrwkv::createWarpLaunch(
      b, loc, outputs, indexConstant(b, loc, 1), warps);
  OpBuilder &gb = w.body;
  Value flat = w.item, lane = w.lane;
  unsigned parallel = sizes.size() - 1;
  SmallVector<Value> point(parallel + 1);
  for (unsigned i = parallel; i-- > 0;) {
    point[i] = arith::RemUIOp::create(gb, loc, flat, sizes[i]);
    flat = arith::DivUIOp::create(gb, loc, flat, sizes[i]);
  }
  Value zero = arith::ConstantOp::create(gb, loc, gb.getF32FloatAttr(0));
  auto loop = scf::ForOp::create(gb, loc, lane, sizes.back(),
                                 indexConstant(gb, loc, kWarp), zero);
  OpBuilder lb = OpBuilder::atBlockBegin(loop.getBody());
  point.back() = loop.getInductionVar();
  auto at = [&](AffineMap map) {
    SmallVector<Value> indices;
    for (unsigned i = 0; i < map.getNumResults(); ++i)
      indices.push_back(point[map.getDimPosition(i)]);
    return indices;
  };
  IRMapping mapping;
  for (OpOperand *input : op.getDpsInputOperands())
    mapping.map(op.getMatchingBlockArgument(input),
                memref::LoadOp::create(lb, loc, input->get(),
                                       at(op.getMatchingIndexingMap(input))));
  for (Operation &bodyOp : op.getBlock()->without_terminator()) {
    if (&bodyOp == r.combine.getOperation())
      continue;
    if (auto index = dyn_cast<linalg::IndexOp>(bodyOp)) {
      mapping.map(index.getResult(), point[index.getDim()]);
      continue;
    }
    lb.clone(bodyOp, mapping);
  }
  Value acc = arith::AddFOp::create(lb, loc, loop.getRegionIterArgs()[0],
                                    mapping.lookupOrDefault(r.partial));
  scf::YieldOp::create(lb, loc, acc);

  Value sum = modrwkv::warpSum(gb, loc, loop.getResult(0));
  Value first = arith::CmpIOp::create(gb, loc, arith::CmpIPredicate::eq, lane,
                                      indexConstant(gb, loc, 0));
  auto write = scf::IfOp::create(gb, loc, first, /*withElse=*/false);
  OpBuilder wb = OpBuilder::atBlockBegin(write.thenBlock());
  SmallVector<Value> outAt = at(op.getMatchingIndexingMap(init));
  Value old =
      initial ? *initial : memref::LoadOp::create(wb, loc, init->get(), outAt);
  bool outFirst = r.combine.getLhs() == op.getBlock()->getArguments().back();
  Value result =
      arith::AddFOp::create(wb, loc, outFirst ? old : sum, outFirst ? sum : old,
                            r.combine.getFastmathAttr());
  memref::StoreOp::create(wb, loc, result, init->get(), outAt);
}

struct RwkvGpuReductionsPass
    : public modrwkv::impl::RwkvGpuReductionsBase<RwkvGpuReductionsPass> {
  using Base::Base;

  void runOnOperation() override {
    if (warpsPerBlock < 1 || warpsPerBlock > 32) {
      getOperation().emitError(
          "rwkv-gpu-reductions: warps-per-block must be in [1, 32]");
      return signalPassFailure();
    }
    SmallVector<Reduction> reductions;
    getOperation().walk([&](linalg::GenericOp op) {
      if (op->getParentOfType<gpu::LaunchOp>())
        return;
      if (auto r = matchReduction(op))
        reductions.push_back(*r);
    });
    for (Reduction &r : reductions) {
      OpBuilder b(r.op);
      emit(b, r, warpsPerBlock);
      r.op.erase();
    }
  }
};

} // namespace
