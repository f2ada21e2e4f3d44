//===- ParallelLoopsToGpu.cpp - host scf.parallel nests to gpu.launch -----===//
//
// Every outermost scf.parallel outside a kernel becomes one gpu.launch with
// one thread per iteration: the N = prod(extents) iterations are numbered
// row-major, thread g = block_id * block-size + thread_id runs iteration g
// when g < N. Loops nested inside (reductions of linalg ops) stay
// sequential in the thread. Dynamic bounds are fine: the grid is computed on
// the host from them. What else reads or writes memory on the host (a loop
// nest that only reduces, a rank-0 result) runs as a one-thread kernel.
//
//===----------------------------------------------------------------------===//

#include "modrwkv/Passes/Passes.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

namespace modrwkv {
#define GEN_PASS_DEF_RWKVPARALLELLOOPSTOGPU
#include "modrwkv/Passes/Passes.h.inc"
} // namespace modrwkv

using namespace mlir;

namespace {

LogicalResult toLaunch(scf::ParallelOp loop, int64_t blockSize) {
  if (!loop.getInitVals().empty())
    return loop.emitError("parallel loops with reductions are not mapped to "
                          "the GPU");
  OpBuilder b(loop);
  Location loc = loop.getLoc();
  Value c1 = arith::ConstantIndexOp::create(b, loc, 1);
  // extent_d = ceil((ub - lb) / step); N = prod extent_d.
  SmallVector<Value> extents;
  Value total = c1;
  for (auto [lb, ub, step] :
       llvm::zip(loop.getLowerBound(), loop.getUpperBound(), loop.getStep())) {
    Value span = arith::SubIOp::create(b, loc, ub, lb);
    Value extent = arith::CeilDivUIOp::create(b, loc, span, step);
    extents.push_back(extent);
    total = arith::MulIOp::create(b, loc, total, extent);
  }
  Value block = arith::ConstantIndexOp::create(b, loc, blockSize);
  // An empty iteration space has no blocks: the runtime skips the launch
  // (the path of a product that cuBLAS computes this call).
  Value grid = arith::CeilDivUIOp::create(b, loc, total, block);
  auto launch = gpu::LaunchOp::create(b, loc, grid, c1, c1, block, c1, c1);

  OpBuilder kb = OpBuilder::atBlockBegin(&launch.getBody().front());
  Value g = arith::AddIOp::create(
      kb, loc, arith::MulIOp::create(kb, loc, launch.getBlockIds().x, block),
      launch.getThreadIds().x);
  Value inRange =
      arith::CmpIOp::create(kb, loc, arith::CmpIPredicate::ult, g, total);
  auto guard = scf::IfOp::create(kb, loc, inRange, /*withElse=*/false);
  gpu::TerminatorOp::create(kb, loc);

  kb.setInsertionPointToStart(guard.thenBlock());
  IRMapping mapping;
  Value rest = g;
  for (int64_t d = extents.size() - 1; d >= 0; --d) {
    Value i =
        d == 0 ? rest
               : arith::RemUIOp::create(kb, loc, rest, extents[d]).getResult();
    if (d != 0)
      rest = arith::DivUIOp::create(kb, loc, rest, extents[d]);
    Value iv = arith::AddIOp::create(
        kb, loc, loop.getLowerBound()[d],
        arith::MulIOp::create(kb, loc, i, loop.getStep()[d]));
    mapping.map(loop.getInductionVars()[d], iv);
  }
  for (Operation &op : loop.getBody()->without_terminator())
    kb.clone(op, mapping);
  loop.erase();
  return success();
}

/// Whether host op `op` reads or writes memory through loads and stores
/// (itself or inside its loops), which only a kernel may do there, and
/// launches no kernel itself.
bool loadsOrStores(Operation *op) {
  bool access = false, launches = false;
  op->walk<WalkOrder::PreOrder>([&](Operation *inner) {
    if (isa<gpu::LaunchOp>(inner)) {
      launches = true;
      return WalkResult::interrupt();
    }
    access |=
        isa<memref::LoadOp, memref::StoreOp, vector::LoadOp, vector::StoreOp,
            vector::TransferReadOp, vector::TransferWriteOp>(inner);
    return WalkResult::advance();
  });
  return access && !launches;
}

/// What is left on the host after the parallel loops (a nest of reduction
/// loops, a rank-0 computation: loads, arithmetic, stores) runs as a
/// one-thread kernel: each run of such ops and the pure ops among them,
/// up to the first op whose value the host uses after the run.
void serialKernels(Block &block) {
  SmallVector<SmallVector<Operation *>> runs;
  SmallVector<Operation *> run;
  auto flush = [&] {
    while (!run.empty() && !loadsOrStores(run.back()))
      run.pop_back();
    if (!run.empty())
      runs.push_back(run);
    run.clear();
  };
  for (Operation &op : block) {
    if (loadsOrStores(&op) && !op.hasTrait<OpTrait::IsTerminator>())
      run.push_back(&op);
    else if (!run.empty() && isPure(&op) && op.getNumRegions() == 0)
      run.push_back(&op);
    else
      flush();
  }
  flush();
  for (SmallVector<Operation *> &ops : runs) {
    // Without the ops at its end whose values the host uses after it.
    auto escapes = [&] {
      llvm::SmallPtrSet<Operation *, 16> inRun(ops.begin(), ops.end());
      return llvm::any_of(ops, [&](Operation *op) {
        return llvm::any_of(op->getUsers(), [&](Operation *user) {
          return !inRun.contains(block.findAncestorOpInBlock(*user));
        });
      });
    };
    while (!ops.empty() && escapes()) {
      ops.pop_back();
      while (!ops.empty() && !loadsOrStores(ops.back()))
        ops.pop_back();
    }
    if (ops.empty())
      continue; // rwkv-gpu-host-buffers reports what stays on the host
    OpBuilder b(ops.front());
    Location loc = ops.front()->getLoc();
    Value one = arith::ConstantIndexOp::create(b, loc, 1);
    auto launch = gpu::LaunchOp::create(b, loc, one, one, one, one, one, one);
    Block &body = launch.getBody().front();
    OpBuilder kb = OpBuilder::atBlockEnd(&body);
    Operation *end = gpu::TerminatorOp::create(kb, loc);
    for (Operation *op : ops)
      op->moveBefore(end);
  }
}

struct RwkvParallelLoopsToGpuPass
    : public modrwkv::impl::RwkvParallelLoopsToGpuBase<
          RwkvParallelLoopsToGpuPass> {
  using Base::Base;

  void runOnOperation() override {
    if (blockSize < 1 || blockSize > 1024) {
      getOperation().emitError("block-size must be in [1, 1024], got ")
          << static_cast<int64_t>(blockSize);
      return signalPassFailure();
    }
    SmallVector<scf::ParallelOp> loops;
    getOperation().walk([&](scf::ParallelOp loop) {
      if (!loop->getParentOfType<scf::ParallelOp>() &&
          !loop->getParentOfType<gpu::LaunchOp>())
        loops.push_back(loop);
    });
    for (scf::ParallelOp loop : loops)
      if (failed(toLaunch(loop, blockSize)))
        return signalPassFailure();
    for (Block &block : getOperation().getBody())
      serialKernels(block);
  }
};

} // namespace
