//===- CopiesToLinalg.cpp - memref.copy into linalg.copy ------------------===//

#include "modrwkv/Passes/Passes.h"

namespace modrwkv {
#define GEN_PASS_DEF_RWKVCOPIESTOLINALG
#include "modrwkv/Passes/Passes.h.inc"
} // namespace modrwkv

using namespace mlir;

namespace {
struct RwkvCopiesToLinalgPass
    : public modrwkv::impl::RwkvCopiesToLinalgBase<RwkvCopiesToLinalgPass> {
  void runOnOperation() override {
    SmallVector<memref::CopyOp> copies;
    getOperation().walk([&](memref::CopyOp op) { copies.push_back(op); });
    for (memref::CopyOp op : copies) {
      OpBuilder b(op);
      linalg::CopyOp::create(b, op.getLoc(), op.getSource(), op.getTarget());
      op.erase();
    }
  }
};
} // namespace
