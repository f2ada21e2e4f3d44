//===- modrwkv-opt.cpp - mlir-opt with the modrwkv dialects and passes ----===//

#include "modrwkv/Dialect/Mm/MmDialect.h"
#include "modrwkv/Dialect/Rwkv/RwkvDialect.h"
#include "modrwkv/Passes/Passes.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Target/LLVMIR/Dialect/All.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"

int main(int argc, char **argv) {
  mlir::registerAllPasses();
  modrwkv::registerPasses();
  mlir::DialectRegistry registry;
  mlir::registerAllDialects(registry);
  mlir::registerAllExtensions(registry);
  // gpu-module-to-binary translates kernels to LLVM IR.
  mlir::registerAllToLLVMIRTranslations(registry);
  registry.insert<modrwkv::rwkv::RwkvDialect, modrwkv::mm::MmDialect,
                  modrwkv::rwkv_gpu::RwkvGpuDialect>();
  modrwkv::registerRwkvGpuToLLVMInterface(registry);
  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, "modrwkv optimizer driver\n", registry));
}
