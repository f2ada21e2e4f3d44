//===- MergeGpuModules.cpp - all kernels in one gpu.module ----------------===//
//
// gpu-kernel-outlining gives each kernel its own gpu.module, hence its own
// binary and module load at run time. This pass moves every kernel into one
// gpu.module (named by `name`): the artifact then carries one PTX / cubin
// with the whole kernel table, loaded once. A kernel is renamed after the
// module it came from (those names are unique) and its launches follow.
//
//===----------------------------------------------------------------------===//

#include "modrwkv/Passes/Passes.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"

namespace modrwkv {
#define GEN_PASS_DEF_RWKVMERGEGPUMODULES
#include "modrwkv/Passes/Passes.h.inc"
} // namespace modrwkv

using namespace mlir;

namespace {

struct RwkvMergeGpuModulesPass
    : public modrwkv::impl::RwkvMergeGpuModulesBase<RwkvMergeGpuModulesPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<gpu::GPUModuleOp> sources(module.getOps<gpu::GPUModuleOp>());
    if (sources.empty())
      return;
    if (SymbolTable::lookupSymbolIn(module, name)) {
      module.emitError("a symbol named '") << name << "' already exists";
      return signalPassFailure();
    }
    OpBuilder b(sources.front());
    auto merged = gpu::GPUModuleOp::create(b, sources.front().getLoc(),
                                           b.getStringAttr(name));
    Block &body = merged.getBodyRegion().front();

    // Old @module::@kernel -> new @name::@module.
    llvm::DenseMap<Attribute, SymbolRefAttr> renamed;
    for (gpu::GPUModuleOp source : sources) {
      for (Operation &op :
           llvm::make_early_inc_range(source.getBody()->without_terminator())) {
        auto symbol = dyn_cast<SymbolOpInterface>(op);
        if (auto callee = dyn_cast<func::FuncOp>(op);
            callee && callee.isExternal()) {
          // Outlining copies what a kernel calls: a host runtime helper.
          op.emitError("a kernel calls the host function @")
              << callee.getName()
              << " (string data lives on the host), which a GPU cannot run";
          return signalPassFailure();
        }
        if (!symbol || !isa<gpu::GPUFuncOp>(op)) {
          op.emitError("only kernels can be merged into one gpu.module");
          return signalPassFailure();
        }
        auto old =
            SymbolRefAttr::get(source.getNameAttr(),
                               {FlatSymbolRefAttr::get(symbol.getNameAttr())});
        symbol.setName(source.getName());
        renamed[old] =
            SymbolRefAttr::get(b.getStringAttr(name),
                               {FlatSymbolRefAttr::get(source.getNameAttr())});
        op.moveBefore(&body, body.end());
      }
      source.erase();
    }
    module.walk([&](gpu::LaunchFuncOp launch) {
      launch.setKernelAttr(renamed.lookup(launch.getKernel()));
    });
  }
};

} // namespace
