//===- ParallelTokens.cpp - token rows of loop nests across threads -------===//
//
// After rwkv-matmul-kernels, what is left of a layer on the CPU is loop
// nests over [tokens, channels] (token shift, lerps, norms, gating, relu^2)
// that one thread runs while the others wait for the next product. Tiling
// their token loop into an scf.parallel lets convert-scf-to-openmp give each
// thread a block of rows. Calls of one block (decode) keep the plain loops:
// an OpenMP region per loop nest would cost more than it saves there.
//
//===----------------------------------------------------------------------===//

#include "modrwkv/Passes/Passes.h"

#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/IR/PatternMatch.h"

namespace modrwkv {
#define GEN_PASS_DEF_RWKVPARALLELTOKENS
#include "modrwkv/Passes/Passes.h.inc"
} // namespace modrwkv

using namespace mlir;

namespace {

/// A loop nest on buffers whose first loop runs over a dynamic number of
/// rows that no two iterations write in common: every output is indexed by
/// that loop.
bool splittable(linalg::LinalgOp op) {
  if (!op.hasPureBufferSemantics() || op.getNumLoops() < 1 ||
      op.getIteratorTypesArray()[0] != utils::IteratorType::parallel ||
      !ShapedType::isDynamic(op.getStaticLoopRanges()[0]))
    return false;
  return llvm::all_of(op.getDpsInitsMutable(), [&](OpOperand &init) {
    return op.getMatchingIndexingMap(&init).isFunctionOfDim(0);
  });
}

struct RwkvParallelTokensPass
    : public modrwkv::impl::RwkvParallelTokensBase<RwkvParallelTokensPass> {
  using Base::Base;
  void runOnOperation() override {
    if (rows < 1) {
      getOperation().emitError("rwkv-parallel-tokens: rows must be >= 1");
      return signalPassFailure();
    }
    SmallVector<linalg::LinalgOp> ops;
    getOperation().walk([&](linalg::LinalgOp op) {
      if (splittable(op))
        ops.push_back(op);
    });
    linalg::LinalgTilingOptions options;
    options.setTileSizes({rows}).setLoopType(
        linalg::LinalgTilingLoopType::ParallelLoops);
    IRRewriter rewriter(&getContext());
    for (linalg::LinalgOp op : ops) {
      Location loc = op.getLoc();
      rewriter.setInsertionPoint(op);
      Value tokens = getValueOrCreateConstantIndexOp(
          rewriter, loc, op.createLoopRanges(rewriter, loc)[0].size);
      Value several = arith::CmpIOp::create(
          rewriter, loc, arith::CmpIPredicate::sgt, tokens,
          arith::ConstantIndexOp::create(rewriter, loc, rows));
      auto split = scf::IfOp::create(rewriter, loc, several,
                                     /*withElseRegion=*/true);
      rewriter.setInsertionPoint(split.elseBlock()->getTerminator());
      rewriter.clone(*op);
      op->moveBefore(split.thenBlock()->getTerminator());
      rewriter.setInsertionPoint(op);
      if (failed(linalg::tileLinalgOp(rewriter, op, options))) {
        op.emitError("rwkv-parallel-tokens: cannot tile the token loop");
        return signalPassFailure();
      }
      rewriter.eraseOp(op);
    }
  }
};

} // namespace
