//===- GpuHostBuffers.cpp - host-side buffers live in device memory -------===//
//
// Once every loop nest runs in a gpu.launch, the host code only sequences
// kernels: its buffers (activations, scratch) must be device memory, like
// the function's arguments, which the CUDA runtime passes as device
// pointers. memref.alloc / memref.dealloc outside kernels become gpu.alloc /
// gpu.dealloc. A load or store left on the host that touches such a buffer
// would dereference a device pointer on the CPU, and a kernel reading a
// host global (a memref.get_global) a host pointer on the GPU: both are
// reported, not compiled.
//
//===----------------------------------------------------------------------===//

#include "modrwkv/Passes/Passes.h"

#include "Buffers.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Transforms/RegionUtils.h"

namespace modrwkv {
#define GEN_PASS_DEF_RWKVGPUHOSTBUFFERS
#include "modrwkv/Passes/Passes.h.inc"
} // namespace modrwkv

using namespace mlir;
using modrwkv::rootBuffer;

namespace {

bool onDevice(Value memref) {
  Value root = rootBuffer(memref);
  return isa<BlockArgument>(root) || root.getDefiningOp<gpu::AllocOp>();
}

struct RwkvGpuHostBuffersPass
    : public modrwkv::impl::RwkvGpuHostBuffersBase<RwkvGpuHostBuffersPass> {
  void runOnOperation() override {
    func::FuncOp func = getOperation();
    auto onHost = [](Operation *op) {
      return !op->getParentOfType<gpu::LaunchOp>();
    };
    SmallVector<Operation *> toConvert;
    func.walk([&](Operation *op) {
      if (isa<memref::AllocOp, memref::DeallocOp>(op) && onHost(op))
        toConvert.push_back(op);
    });
    for (Operation *op : toConvert) {
      OpBuilder b(op);
      if (auto alloc = dyn_cast<memref::AllocOp>(op)) {
        auto device = gpu::AllocOp::create(
            b, op->getLoc(), alloc.getType(), /*asyncToken=*/Type(),
            ValueRange{}, alloc.getDynamicSizes(), alloc.getSymbolOperands());
        alloc.replaceAllUsesWith(device.getMemref());
      } else {
        gpu::DeallocOp::create(b, op->getLoc(), /*asyncToken=*/Type(),
                               ValueRange{},
                               cast<memref::DeallocOp>(op).getMemref());
      }
      op->erase();
    }

    bool failed = false;
    // A constant left in the IR becomes a host global (the CUDA pipeline
    // moves tensor constants to the weight buffer instead).
    func.walk([&](gpu::LaunchOp launch) {
      llvm::SetVector<Value> captured;
      getUsedValuesDefinedAbove(launch.getBody(), captured);
      for (Value v : captured)
        if (auto global =
                isa<MemRefType>(v.getType())
                    ? rootBuffer(v).getDefiningOp<memref::GetGlobalOp>()
                    : nullptr) {
          launch.emitError("a kernel reads the host global @")
              << global.getName() << ", which a GPU cannot";
          failed = true;
        }
    });
    func.walk([&](Operation *op) {
      if (!onHost(op))
        return;
      SmallVector<Value, 2> accessed;
      if (auto load = dyn_cast<memref::LoadOp>(op))
        accessed = {load.getMemref()};
      else if (auto store = dyn_cast<memref::StoreOp>(op))
        accessed = {store.getMemref()};
      else if (auto copy = dyn_cast<memref::CopyOp>(op))
        accessed = {copy.getSource(), copy.getTarget()};
      if (llvm::any_of(accessed, onDevice)) {
        op->emitError("host code accesses a device buffer; every loop nest "
                      "must run in a gpu.launch");
        failed = true;
      }
    });
    if (failed)
      signalPassFailure();
  }
};

} // namespace
