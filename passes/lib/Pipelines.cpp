//===- Pipelines.cpp - named pipelines and registration -------------------===//

#include "modrwkv/Passes/Passes.h"

#include "mlir/Conversion/Passes.h"
#include "mlir/Dialect/Arith/Transforms/Passes.h"
#include "mlir/Dialect/Bufferization/Pipelines/Passes.h"
#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Dialect/GPU/Pipelines/Passes.h"
#include "mlir/Dialect/GPU/Transforms/Passes.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Dialect/SCF/Transforms/Passes.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;

namespace modrwkv {

namespace {
#define GEN_PASS_REGISTRATION
#include "modrwkv/Passes/Passes.h.inc"
} // namespace

namespace {

/// arith-expand with bf16 conversions as integer code: no libgcc or
/// compiler-rt helpers (__truncsfbf2) to link.
std::unique_ptr<Pass> createExpandArithWithBf16() {
  arith::ArithExpandOpsPassOptions options;
  options.includeBf16 = true;
  return arith::createArithExpandOpsPass(options);
}

/// The target-independent half: multimodal fusion, the rwkv ops to linalg
/// (the WKV-7 and, on GPUs, the norms through `lowerTargetOps`, the
/// target's own lowering), weights out of the IR, and bufferization. With
/// `shareLayers`, the layers call one function per block shape; with `gpu`,
/// the token shift is read in place by the lerps (no copy kernels) and
/// every tensor constant goes to the weight buffer (device memory).
template <typename Options>
void buildModelToBuffers(OpPassManager &pm, const Options &options,
                         function_ref<void(OpPassManager &)> lowerTargetOps,
                         bool shareLayers, bool gpu = false) {
  // Multimodal side: fuse, lower, and inline the encoder towers into their
  // entry points.
  MmFuseAdapterCompressionOptions fusionOptions;
  fusionOptions.mode = options.adapterFusion;
  pm.addNestedPass<func::FuncOp>(createMmFuseAdapterCompression(fusionOptions));
  pm.addNestedPass<func::FuncOp>(createMmLower());
  pm.addPass(createInlinerPass());
  pm.addPass(createSymbolDCEPass());

  // Model level -> linalg/tensor/arith/math.
  if (options.mergeBone)
    pm.addPass(createRwkvMergeBone());
  if (shareLayers)
    pm.addPass(createRwkvOutlineBlocks());
  pm.addNestedPass<func::FuncOp>(createRwkvExpandBlocks());
  if (options.weightDtype != "f32") {
    RwkvWeightDtypeOptions dtypeOptions;
    dtypeOptions.dtype = options.weightDtype;
    dtypeOptions.i8MinSize = options.i8MinSize;
    pm.addPass(createRwkvWeightDtype(dtypeOptions));
  }
  lowerTargetOps(pm.nest<func::FuncOp>());
  RwkvToLinalgOptions linalgOptions;
  linalgOptions.shiftByIndex = gpu;
  pm.addNestedPass<func::FuncOp>(createRwkvToLinalg(linalgOptions));
  pm.addNestedPass<func::FuncOp>(createConvertElementwiseToLinalgPass());
  pm.addPass(createRwkvFuseElementwise());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());

  // Weights leave the IR for weights.bin.
  RwkvExternalizeWeightsOptions weightOptions;
  weightOptions.alignment = options.weightAlignment;
  weightOptions.inlineConstants = gpu; // kernels cannot read host globals
  pm.addPass(createRwkvExternalizeWeights(weightOptions));

  // Tensors -> buffers; state and logits are written into the caller's
  // buffers (materialize_in_destination) in place.
  pm.addPass(bufferization::createEmptyTensorEliminationPass());
  bufferization::OneShotBufferizePassOptions bufferizeOptions;
  bufferizeOptions.bufferizeFunctionBoundaries = true;
  // Public entries take memrefs already; the shared layer functions' tensor
  // arguments carry their layouts (rwkv-outline-blocks), and their results
  // keep the layout of what they return (a state slice updated in place).
  bufferizeOptions.functionBoundaryTypeConversion =
      bufferization::LayoutMapOption::InferLayoutMap;
  pm.addPass(bufferization::createOneShotBufferizePass(bufferizeOptions));
  // A shared layer function updates the state slices in place: the callers
  // use their own buffers instead of results equal to an argument.
  pm.addPass(bufferization::createDropEquivalentBufferResultsPass());
  pm.addPass(createCanonicalizerPass());
  bufferization::BufferDeallocationPipelineOptions deallocOptions;
  bufferization::buildBufferDeallocationPipeline(pm, deallocOptions);
  // A layer function that returns a view of its argument (the last token
  // row: the next token-shift state) hands the caller an owned clone.
  pm.addPass(createConvertBufferizationToMemRefPass());
  pm.addNestedPass<func::FuncOp>(createRwkvCopiesToLinalg());
}

/// The end of the CUDA pipeline for the emulator: the host half of
/// gpu-lower-to-nvvm-pipeline, with the kernels lowered to host code
/// instead of NVVM and no gpu-module-to-binary.
void buildHostKernelsPipeline(OpPassManager &pm) {
  pm.addPass(createConvertVectorToSCFPass());
  pm.addPass(createSCFToControlFlowPass());
  pm.addPass(memref::createExpandStridedMetadataPass());
  pm.addPass(createLowerAffinePass());
  pm.addNestedPass<gpu::GPUModuleOp>(createExpandArithWithBf16());
  pm.addNestedPass<gpu::GPUModuleOp>(createRwkvGpuKernelsToHost());
  pm.addPass(createConvertFuncToLLVMPass());
  pm.addPass(createArithToLLVMConversionPass());
  pm.addPass(createConvertIndexToLLVMPass());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
  pm.addPass(createGpuToLLVMConversionPass());
  pm.addPass(createConvertMathToLLVMPass());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
  pm.addPass(createReconcileUnrealizedCastsPass());
}

} // namespace

void buildCpuPipeline(OpPassManager &pm, const CpuPipelineOptions &options) {
  buildModelToBuffers(
      pm, options,
      [](OpPassManager &fpm) { fpm.addPass(createRwkvLowerWkv7()); },
      options.shareLayers);
  // The recurrence's loop over heads: threads take heads, or one runs all.
  if (options.parallel)
    pm.addPass(createForallToParallelLoopPass());
  else
    pm.addPass(createForallToForLoopPass());

  // Buffers -> loops -> LLVM; the products first, as vector kernels.
  pm.addNestedPass<func::FuncOp>(createRwkvSplitBatchedProducts());
  if (options.matmulKernels) {
    RwkvMatmulKernelsOptions kernelOptions;
    kernelOptions.tileTokens = options.tileTokens;
    kernelOptions.tileRows = options.tileRows;
    kernelOptions.tokenBlock = options.tokenBlock;
    kernelOptions.parallel = options.parallel;
    kernelOptions.prefetch = options.matmulPrefetch;
    pm.addPass(createRwkvMatmulKernels(kernelOptions));
  }
  if (options.parallel)
    pm.addNestedPass<func::FuncOp>(createRwkvParallelTokens());
  pm.addNestedPass<func::FuncOp>(createConvertLinalgToLoopsPass());
  if (options.parallel) {
    pm.addPass(createConvertSCFToOpenMPPass());
    // Each parallel body is wrapped in a single-block memref.alloca_scope,
    // which cannot hold the loops once they become blocks: the
    // canonicalizer inlines the scopes (no stack allocations inside).
    pm.addPass(createCanonicalizerPass());
  }
  pm.addPass(createConvertVectorToSCFPass());
  pm.addPass(createLowerAffinePass());
  pm.addPass(createSCFToControlFlowPass());
  pm.addPass(memref::createExpandStridedMetadataPass());
  pm.addPass(createLowerAffinePass());
  pm.addPass(createExpandArithWithBf16());
  pm.addPass(createConvertVectorToLLVMPass());
  pm.addPass(createConvertMathToLLVMPass());
  pm.addPass(createConvertMathToLibmPass());
  // Heap buffers through MLIR's generic allocation functions: the runtime
  // exports them and caches large blocks across calls.
  FinalizeMemRefToLLVMConversionPassOptions memrefOptions;
  memrefOptions.useGenericFunctions = true;
  pm.addPass(createFinalizeMemRefToLLVMConversionPass(memrefOptions));
  pm.addPass(createConvertToLLVMPass());
  pm.addPass(createReconcileUnrealizedCastsPass());
  pm.addPass(createCanonicalizerPass());
}

void buildCudaPipeline(OpPassManager &pm, const CudaPipelineOptions &options) {
  RwkvLowerWkv7GpuOptions wkvOptions;
  wkvOptions.headsPerBlock = options.wkvHeadsPerBlock;
  wkvOptions.unroll = options.wkvUnroll;
  // One host function: the layers' kernels are launched from `forward`
  // (sharing layer bodies has not been run on a GPU).
  buildModelToBuffers(
      pm, options,
      [&](OpPassManager &fpm) {
        fpm.addPass(createRwkvLowerWkv7Gpu(wkvOptions));
        fpm.addPass(createRwkvLowerNormsGpu());
      },
      /*shareLayers=*/false, /*gpu=*/true);

  // Products and sums over the innermost axis get warp-per-output kernels
  // (shuffle reductions); every remaining loop nest becomes a
  // kernel; the host code keeps only launches, views and device
  // allocations, ordered on one stream.
  pm.addNestedPass<func::FuncOp>(createRwkvSplitBatchedProducts());
  RwkvGpuMatmulOptions matmulOptions;
  matmulOptions.warpsPerBlock = options.matmulWarps;
  matmulOptions.tileTokens = options.matmulTileTokens;
  matmulOptions.blas = options.blas;
  matmulOptions.blasMinTokens = options.blasMinTokens;
  pm.addNestedPass<func::FuncOp>(createRwkvGpuMatmul(matmulOptions));
  RwkvGpuReductionsOptions reductionOptions;
  reductionOptions.warpsPerBlock = options.reductionWarps;
  pm.addNestedPass<func::FuncOp>(createRwkvGpuReductions(reductionOptions));
  pm.addNestedPass<func::FuncOp>(createRwkvGpuStoreEpilogues());
  pm.addNestedPass<func::FuncOp>(createRwkvFuseSiblings());
  pm.addNestedPass<func::FuncOp>(createConvertLinalgToParallelLoopsPass());
  RwkvParallelLoopsToGpuOptions mapOptions;
  mapOptions.blockSize = options.blockSize;
  pm.addNestedPass<func::FuncOp>(createRwkvParallelLoopsToGpu(mapOptions));
  pm.addNestedPass<func::FuncOp>(createRwkvGpuHostBuffers());
  if (options.mergeLaunches)
    pm.addNestedPass<func::FuncOp>(createRwkvGpuMergeLaunches());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createGpuKernelOutliningPass());
  pm.addPass(createRwkvMergeGpuModules());
  pm.addNestedPass<func::FuncOp>(createGpuAsyncRegionPass());

  if (options.hostKernels)
    return buildHostKernelsPipeline(pm);
  // Device code -> NVVM -> PTX (or cubin); host code -> LLVM dialect.
  gpu::GPUToNVVMPipelineOptions nvvmOptions;
  nvvmOptions.cubinChip = options.chip;
  nvvmOptions.cubinFeatures = options.features;
  nvvmOptions.cubinFormat = options.format;
  nvvmOptions.optLevel = 3;
  gpu::buildLowerToNVVMPassPipeline(pm, nvvmOptions);
}

void registerPasses() {
  registerModRwkvPasses();
  PassPipelineRegistration<CpuPipelineOptions>(
      "modrwkv-cpu-pipeline",
      "Lower an rwkv module to the LLVM dialect for CPUs", buildCpuPipeline);
  PassPipelineRegistration<CudaPipelineOptions>(
      "modrwkv-cuda-pipeline",
      "Lower an rwkv module to NVVM kernels and LLVM host code for CUDA",
      buildCudaPipeline);
}

} // namespace modrwkv
