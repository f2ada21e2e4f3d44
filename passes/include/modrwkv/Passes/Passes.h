//===- Passes.h - modrwkv passes and pipelines ------------------*- C++ -*-===//
//
// Model-level transforms and the CPU lowering of the `rwkv` dialect. The
// named pipeline `modrwkv-cpu-pipeline` takes a module produced by the
// checkpoint frontend (and the mm ops of a multimodal model) down to the
// LLVM dialect.
//
//===----------------------------------------------------------------------===//

#ifndef MODRWKV_PASSES_PASSES_H
#define MODRWKV_PASSES_PASSES_H

#include "modrwkv/Dialect/Mm/MmDialect.h"
#include "modrwkv/Dialect/Rwkv/RwkvDialect.h"
#include "modrwkv/Dialect/RwkvGpu/RwkvGpuDialect.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassOptions.h"

namespace modrwkv {

#define GEN_PASS_DECL
#include "modrwkv/Passes/Passes.h.inc"

/// Module attribute holding the weight-buffer layout (see
/// rwkv-externalize-weights).
constexpr llvm::StringLiteral kWeightsAttrName = "rwkv.weights";
/// On a function's weight-buffer argument: [first, last) bytes it reads.
constexpr llvm::StringLiteral kWeightsBufferAttrName = "rwkv.weights_buffer";
/// On a linalg.generic: cheap enough to recompute in each reader, so
/// rwkv-fuse-elementwise fuses it into all of them (not only a sole one).
constexpr llvm::StringLiteral kRecomputeAttrName = "rwkv.recompute";
/// On a gpu.launch whose blocks each run a long sequential loop (the WKV-7
/// time loop): rwkv-gpu-merge-launches keeps one of its blocks per merged
/// block (threads beyond its own idle) instead of packing several, so that
/// they stay spread over the multiprocessors.
constexpr llvm::StringLiteral kSpreadBlocksAttrName = "rwkv.spread_blocks";

/// Options of both named pipelines (the model-level half).
template <typename Derived>
struct CommonPipelineOptions : public mlir::PassPipelineOptions<Derived> {
  using Base = mlir::PassPipelineOptions<Derived>;
  template <typename T> using Option = typename Base::template Option<T>;
  Option<int64_t> weightAlignment{
      *this, "weight-alignment",
      llvm::cl::desc("Byte alignment of weights in weights.bin"),
      llvm::cl::init(64)};
  Option<std::string> weightDtype{
      *this, "weight-dtype",
      llvm::cl::desc("Storage type of matrix weights: f32, bf16, f16 or "
                     "i8 (rwkv-weight-dtype)"),
      llvm::cl::init("f32")};
  Option<int64_t> i8MinSize{
      *this, "i8-min-size",
      llvm::cl::desc("weight-dtype=i8: the smallest rows and columns of a "
                     "linear weight stored as int8 (rwkv-weight-dtype)"),
      llvm::cl::init(512)};
  Option<bool> mergeBone{
      *this, "merge-bone",
      llvm::cl::desc("Fold Bone adapters into their weights (rwkv-merge-bone) "
                     "instead of applying them at run time"),
      llvm::cl::init(false)};
  Option<std::string> adapterFusion{
      *this, "adapter-fusion",
      llvm::cl::desc("How a conv compression is fused into the multimodal "
                     "adapter: auto, fold or loops "
                     "(mm-fuse-adapter-compression)"),
      llvm::cl::init("auto")};
};

struct CpuPipelineOptions : public CommonPipelineOptions<CpuPipelineOptions> {
  Option<bool> shareLayers{
      *this, "share-layers",
      llvm::cl::desc("Layers of the same shape call one function per block "
                     "(rwkv-outline-blocks): compile time and code size "
                     "independent of the depth"),
      llvm::cl::init(true)};
  Option<bool> matmulKernels{
      *this, "matmul-kernels",
      llvm::cl::desc("Register-blocked vector kernels for the x W^T "
                     "products (rwkv-matmul-kernels); off: plain loops"),
      llvm::cl::init(true)};
  Option<int64_t> tileTokens{
      *this, "tile-tokens",
      llvm::cl::desc("rwkv-matmul-kernels: tokens per register tile"),
      llvm::cl::init(4)};
  Option<int64_t> tileRows{
      *this, "tile-rows",
      llvm::cl::desc("rwkv-matmul-kernels: weight rows per register tile"),
      llvm::cl::init(6)};
  Option<int64_t> tokenBlock{
      *this, "token-block",
      llvm::cl::desc("rwkv-matmul-kernels: tokens per cache block"),
      llvm::cl::init(64)};
  Option<bool> matmulPrefetch{
      *this, "matmul-prefetch",
      llvm::cl::desc("rwkv-matmul-kernels: one-token tiles prefetch the "
                     "next tile's weight rows"),
      llvm::cl::init(true)};
  Option<bool> parallel{
      *this, "parallel",
      llvm::cl::desc("Threads (OpenMP) split the products' weight rows, the "
                     "recurrence's heads and the token rows of the other "
                     "loop nests (rwkv-parallel-tokens): scf.parallel -> "
                     "omp; model.so must link libomp"),
      llvm::cl::init(false)};
};

struct CudaPipelineOptions : public CommonPipelineOptions<CudaPipelineOptions> {
  Option<std::string> chip{*this, "chip",
                           llvm::cl::desc("GPU architecture (nvvm target)"),
                           llvm::cl::init("sm_90")};
  Option<std::string> features{
      *this, "features",
      llvm::cl::desc("PTX features (sm_90 needs +ptx80 or later)"),
      llvm::cl::init("+ptx80")};
  Option<std::string> format{
      *this, "format",
      llvm::cl::desc("Device binary: isa (PTX, JIT-compiled by the driver) "
                     "or bin (cubin through ptxas)"),
      llvm::cl::init("isa")};
  Option<int64_t> blockSize{
      *this, "block-size",
      llvm::cl::desc("rwkv-parallel-loops-to-gpu: threads per block"),
      llvm::cl::init(256)};
  Option<int64_t> wkvHeadsPerBlock{
      *this, "wkv-heads-per-block",
      llvm::cl::desc("rwkv-lower-wkv7-gpu: heads per block"),
      llvm::cl::init(1)};
  Option<int64_t> wkvUnroll{
      *this, "wkv-unroll",
      llvm::cl::desc("rwkv-lower-wkv7-gpu: time-loop unroll factor"),
      llvm::cl::init(1)};
  Option<int64_t> matmulWarps{
      *this, "matmul-warps",
      llvm::cl::desc("rwkv-gpu-matmul: warps (W rows) per block"),
      llvm::cl::init(8)};
  Option<int64_t> matmulTileTokens{
      *this, "matmul-tile-tokens",
      llvm::cl::desc("rwkv-gpu-matmul: tokens per warp"), llvm::cl::init(8)};
  Option<bool> blas{*this, "blas",
                    llvm::cl::desc("rwkv-gpu-matmul: products of many rows "
                                   "may call cuBLAS (rwkv_gpu.gemm)"),
                    llvm::cl::init(true)};
  Option<int64_t> blasMinTokens{
      *this, "blas-min-tokens",
      llvm::cl::desc("rwkv-gpu-matmul: the fewest rows that call cuBLAS, "
                     "unless the runtime is told otherwise"),
      llvm::cl::init(16)};
  Option<int64_t> reductionWarps{
      *this, "reduction-warps",
      llvm::cl::desc("rwkv-gpu-reductions: warps (outputs) per block"),
      llvm::cl::init(4)};
  Option<bool> mergeLaunches{
      *this, "merge-launches",
      llvm::cl::desc("rwkv-gpu-merge-launches: independent kernels share "
                     "one launch"),
      llvm::cl::init(true)};
  Option<bool> hostKernels{
      *this, "host-kernels",
      llvm::cl::desc("Kernels as host code for the CUDA emulator "
                     "(rwkv-gpu-kernels-to-host) instead of NVVM; the "
                     "gpu.module stays for the compiler to link"),
      llvm::cl::init(false)};
};

/// rwkv (tensors) -> linalg/tensor/arith -> bufferization -> scf/vector ->
/// LLVM dialect.
void buildCpuPipeline(mlir::OpPassManager &pm,
                      const CpuPipelineOptions &options);
/// rwkv (tensors) -> linalg -> bufferization -> one gpu.launch per loop
/// nest (the WKV-7 and each matrix product as their own kernels) -> nvvm ->
/// a gpu.binary with every kernel, and host code (LLVM dialect) that
/// launches them through the mgpu* entry points the runtime provides.
void buildCudaPipeline(mlir::OpPassManager &pm,
                       const CudaPipelineOptions &options);

/// Registers every modrwkv pass and the named pipelines.
void registerPasses();

/// Lets gpu-to-llvm (and convert-to-llvm) lower `rwkv_gpu` ops to calls of
/// the runtime's modrwkv_gpu_* entry points.
void registerRwkvGpuToLLVMInterface(mlir::DialectRegistry &registry);

} // namespace modrwkv

#endif // MODRWKV_PASSES_PASSES_H
