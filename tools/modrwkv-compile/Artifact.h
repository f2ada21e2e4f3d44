//===- Artifact.h - LLVM-dialect module to an artifact directory -*- C++
//-*-===//
//
// An artifact directory holds:
//   model.so       the compiled entry point (C interface, see runtime.h)
//   weights.bin    the weights, packed at the offsets the code was given
//   manifest.json  configuration, state shapes, weight table, entry symbol
//
//===----------------------------------------------------------------------===//

#ifndef MODRWKV_TOOLS_ARTIFACT_H
#define MODRWKV_TOOLS_ARTIFACT_H

#include "mlir/IR/BuiltinOps.h"

#include "llvm/IR/Module.h"

#include <memory>
#include <string>

namespace modrwkv {

/// Module attribute: the encoder preprocessing (JSON text, by modality)
/// that the manifest carries for the runtime.
constexpr llvm::StringLiteral kPreprocessAttrName = "mm.preprocess";

struct CodegenOptions {
  std::string cpu = "native"; ///< LLVM CPU name, or "native"
  unsigned optLevel = 3;
  bool vectorMath = true;     ///< libm calls in vector loops -> glibc's libmvec
  std::string adapterSource;  ///< for the manifest, "" if none
  std::string target = "cpu"; ///< or "cuda"
  std::string chip;           ///< GPU architecture of a cuda target
  bool hostKernels = false;   ///< cuda kernels for the CUDA emulator
};

/// Links each gpu.module (kernels lowered by rwkv-gpu-kernels-to-host)
/// into a shared library for the host and replaces it with a gpu.binary
/// holding the CUDA emulator's module image (modrwkv/cuda_emulator.h).
mlir::LogicalResult embedHostKernels(mlir::ModuleOp module,
                                     const CodegenOptions &options);

/// The PTX of the module's gpu.binary objects (empty if none): what a cuda
/// artifact's kernels.ptx holds.
std::string deviceAssembly(mlir::ModuleOp module);

/// Registers the passes and pipelines the compiler tools accept and fills
/// `registry` with every dialect, extension and LLVM translation they use.
void initCompiler(mlir::DialectRegistry &registry);

/// Runs a textual pass pipeline (with or without a builtin.module(...)
/// anchor) on `module`; reports errors on stderr.
mlir::LogicalResult runPipeline(mlir::ModuleOp module,
                                llvm::StringRef pipeline);

/// Translates a module in the LLVM dialect to optimized LLVM IR for the
/// host target. Returns null after reporting an error.
std::unique_ptr<llvm::Module> translateToLLVM(mlir::ModuleOp module,
                                              llvm::LLVMContext &llvmContext,
                                              const CodegenOptions &options);

/// Writes model.so, weights.bin and manifest.json into `dir` (created if
/// needed). `module` is the lowered module (for the weight table and
/// config); `source` names the checkpoint in the manifest.
mlir::LogicalResult writeArtifact(mlir::ModuleOp module, llvm::Module &llvmIR,
                                  llvm::StringRef dir, llvm::StringRef source,
                                  const CodegenOptions &options);

} // namespace modrwkv

#endif // MODRWKV_TOOLS_ARTIFACT_H
