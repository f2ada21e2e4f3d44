//===- FuseElementwise.cpp - producer-consumer fusion around products -----===//
//
// Upstream's linalg-fuse-elementwise-ops, but a matrix product is never a
// side of a fusion: folded into a product, a producer (an encoder's norm)
// is recomputed for every output column, and a reshape propagated through
// it (rows collapsed for the product) gives it loops of its own; either way
// the product no longer has the form the CPU kernels, the GPU kernels and
// cuBLAS take.
//
//===----------------------------------------------------------------------===//

#include "modrwkv/Passes/Passes.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Dialect/Tensor/Transforms/Transforms.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace modrwkv {
#define GEN_PASS_DEF_RWKVFUSEELEMENTWISE
#include "modrwkv/Passes/Passes.h.inc"
} // namespace modrwkv

using namespace mlir;

namespace {

bool isProduct(Operation *op) {
  auto linalgOp = dyn_cast_or_null<linalg::LinalgOp>(op);
  return linalgOp && linalg::isaContractionOpInterface(linalgOp);
}

struct RwkvFuseElementwisePass
    : public modrwkv::impl::RwkvFuseElementwiseBase<RwkvFuseElementwisePass> {
  void runOnOperation() override {
    MLIRContext *ctx = &getContext();
    // Upstream's rule (a producer with one use, or one cheap to recompute
    // in each), products apart.
    linalg::ControlFusionFn control = [](OpOperand *fused) {
      Operation *producer = fused->get().getDefiningOp();
      return producer &&
             (producer->hasOneUse() ||
              producer->hasAttr(modrwkv::kRecomputeAttrName)) &&
             !isProduct(producer) && !isProduct(fused->getOwner());
    };
    RewritePatternSet patterns(ctx);
    linalg::populateElementwiseOpsFusionPatterns(patterns, control);
    linalg::populateFoldReshapeOpsByExpansionPatterns(patterns, control);
    tensor::populateBubbleUpExpandShapePatterns(patterns);
    affine::AffineApplyOp::getCanonicalizationPatterns(patterns, ctx);
    linalg::GenericOp::getCanonicalizationPatterns(patterns, ctx);
    tensor::ExpandShapeOp::getCanonicalizationPatterns(patterns, ctx);
    tensor::CollapseShapeOp::getCanonicalizationPatterns(patterns, ctx);
    ctx->getLoadedDialect<linalg::LinalgDialect>()->getCanonicalizationPatterns(
        patterns);
    linalg::populateConstantFoldLinalgOperations(patterns, control);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace
