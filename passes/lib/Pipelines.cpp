//===- Pipelines.cpp - named pipelines and registration -------------------===//

#include "modrwkv/Passes/Passes.h"

#include "mlir/Conversion/Passes.h"
#include "mlir/Dialect/Arith/Transforms/Passes.h"
#include "mlir/Dialect/Bufferization/Pipelines/Passes.h"
#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;

namespace modrwkv {

namespace {
#define GEN_PASS_REGISTRATION
#include "modrwkv/Passes/Passes.h.inc"
} // namespace

void buildCpuPipeline(OpPassManager &pm, const CpuPipelineOptions &options) {
  // Multimodal side: fuse, lower, and inline the encoder towers into their
  // entry points.
  MmFuseAdapterCompressionOptions fusionOptions;
  fusionOptions.mode = options.adapterFusion;
  pm.addNestedPass<func::FuncOp>(createMmFuseAdapterCompression(fusionOptions));
  pm.addNestedPass<func::FuncOp>(createMmLower());
  pm.addPass(createInlinerPass());
  pm.addPass(createSymbolDCEPass());

  // Model level -> linalg/tensor/arith/math (+ scf/vector for the WKV).
  if (options.mergeBone)
    pm.addNestedPass<func::FuncOp>(createRwkvMergeBone());
  pm.addNestedPass<func::FuncOp>(createRwkvExpandBlocks());
  if (options.weightDtype != "f32") {
    RwkvWeightDtypeOptions dtypeOptions;
    dtypeOptions.dtype = options.weightDtype;
    pm.addNestedPass<func::FuncOp>(createRwkvWeightDtype(dtypeOptions));
  }
  pm.addNestedPass<func::FuncOp>(createRwkvLowerWkv7());
  pm.addNestedPass<func::FuncOp>(createRwkvToLinalg());
  pm.addNestedPass<func::FuncOp>(createConvertElementwiseToLinalgPass());
  pm.addPass(createLinalgElementwiseOpFusionPass());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());

  // Weights leave the IR for weights.bin.
  RwkvExternalizeWeightsOptions weightOptions;
  weightOptions.alignment = options.weightAlignment;
  pm.addPass(createRwkvExternalizeWeights(weightOptions));

  // Tensors -> buffers; state and logits are written into the caller's
  // buffers (materialize_in_destination) in place.
  pm.addPass(bufferization::createEmptyTensorEliminationPass());
  bufferization::OneShotBufferizePassOptions bufferizeOptions;
  bufferizeOptions.bufferizeFunctionBoundaries = true;
  bufferizeOptions.functionBoundaryTypeConversion =
      bufferization::LayoutMapOption::IdentityLayoutMap;
  pm.addPass(bufferization::createOneShotBufferizePass(bufferizeOptions));
  pm.addPass(createCanonicalizerPass());
  bufferization::BufferDeallocationPipelineOptions deallocOptions;
  bufferization::buildBufferDeallocationPipeline(pm, deallocOptions);

  // Buffers -> loops -> LLVM; the products first, as vector kernels.
  if (options.matmulKernels) {
    RwkvMatmulKernelsOptions kernelOptions;
    kernelOptions.tileTokens = options.tileTokens;
    kernelOptions.tileRows = options.tileRows;
    kernelOptions.tokenBlock = options.tokenBlock;
    kernelOptions.parallel = options.parallel;
    pm.addPass(createRwkvMatmulKernels(kernelOptions));
  }
  pm.addNestedPass<func::FuncOp>(createRwkvCopiesToLinalg());
  pm.addNestedPass<func::FuncOp>(createConvertLinalgToLoopsPass());
  if (options.parallel)
    pm.addPass(createConvertSCFToOpenMPPass());
  pm.addPass(createConvertVectorToSCFPass());
  pm.addPass(createLowerAffinePass());
  pm.addPass(createSCFToControlFlowPass());
  pm.addPass(memref::createExpandStridedMetadataPass());
  pm.addPass(createLowerAffinePass());
  // bf16 conversions as integer code: no libgcc/compiler-rt helpers needed.
  arith::ArithExpandOpsPassOptions expandOptions;
  expandOptions.includeBf16 = true;
  pm.addPass(arith::createArithExpandOpsPass(expandOptions));
  pm.addPass(createConvertVectorToLLVMPass());
  pm.addPass(createConvertMathToLLVMPass());
  pm.addPass(createConvertMathToLibmPass());
  pm.addPass(createConvertToLLVMPass());
  pm.addPass(createReconcileUnrealizedCastsPass());
  pm.addPass(createCanonicalizerPass());
}

void registerPasses() {
  registerModRwkvPasses();
  PassPipelineRegistration<CpuPipelineOptions>(
      "modrwkv-cpu-pipeline",
      "Lower an rwkv module to the LLVM dialect for CPUs", buildCpuPipeline);
}

} // namespace modrwkv
