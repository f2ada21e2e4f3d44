//===- RwkvGpuOps.td - host-side GPU operations ------------*- tablegen -*-===//
//
// The `rwkv_gpu` dialect holds what the CUDA host code does besides
// launching generated kernels: calls into a GPU library, ordered on the
// stream of the surrounding gpu.async.token chain (gpu-async-region threads
// them like gpu.launch_func). gpu-to-llvm lowers them to calls of the
// runtime's modrwkv_gpu_* entry points (runtime/lib/Cuda.cpp).
//
//===----------------------------------------------------------------------===//

#ifndef MODRWKV_DIALECT_RWKV_GPU_OPS_TD
#define MODRWKV_DIALECT_RWKV_GPU_OPS_TD

include "mlir/Dialect/GPU/IR/GPUBase.td"
include "mlir/IR/OpBase.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

def RwkvGpu_Dialect : Dialect {
  let name = "rwkv_gpu";
  let cppNamespace = "::modrwkv::rwkv_gpu";
  let summary = "GPU library calls in the host code of CUDA artifacts";
  let description = [{
    Operations on device buffers that the runtime carries out with a vendor
    library (cuBLAS, loaded at run time) instead of a generated kernel.
  }];
  let dependentDialects = ["mlir::gpu::GPUDialect"];
}

class RwkvGpu_Op<string mnemonic, list<Trait> traits = []>
    : Op<RwkvGpu_Dialect, mnemonic, traits>;

def RwkvGpu_Matrix : MemRefRankOf<[F32, BF16], [2]>;

def RwkvGpu_GemmOp : RwkvGpu_Op<"gemm", [GPU_AsyncOpInterface]> {
  let summary = "y = x W^T, or y += x W^T, by the GPU's BLAS library";
  let description = [{
    For x `[T, K]`, W `[N, K]` and y `[T, N]` (row-major rows with unit
    innermost stride; any row stride):

      y[t, n] = (accumulate ? y[t, n] : 0) + sum_k x[t, k] * W[n, k]

    in f32 arithmetic. x and W have one element type, f32 or bf16 (bf16
    products are exact in f32; the sum is f32); y is f32. T = 0 does
    nothing. Like gpu.launch_func, the op runs on the stream of its async
    dependency and yields its token.

    ```mlir
    %t1 = rwkv_gpu.gemm async [%t0] %x, %w, %y accumulate
        : memref<?x512xbf16>, memref<2048x512xbf16>, memref<?x2048xf32>
    ```
  }];
  let arguments = (ins Variadic<GPU_AsyncToken>:$asyncDependencies,
                   Arg<RwkvGpu_Matrix, "x", [MemRead]>:$x,
                   Arg<RwkvGpu_Matrix, "W", [MemRead]>:$w,
                   Arg<MemRefRankOf<[F32], [2]>, "y", [MemRead, MemWrite]>:$y,
                   UnitAttr:$accumulate);
  let results = (outs Optional<GPU_AsyncToken>:$asyncToken);
  let assemblyFormat = [{
    custom<AsyncDependencies>(type($asyncToken), $asyncDependencies)
    $x `,` $w `,` $y (`accumulate` $accumulate^)? attr-dict
    `:` type($x) `,` type($w) `,` type($y)
  }];
  let hasVerifier = 1;
}

def RwkvGpu_BlasMinTokensOp : RwkvGpu_Op<"blas_min_tokens", [Pure]> {
  let summary = "The fewest rows for which the runtime's BLAS library runs";
  let description = [{
    The row count T from which products go to `rwkv_gpu.gemm` rather than a
    generated kernel: `compiled` (the compiler's choice) unless the runtime
    is told otherwise (MODRWKV_CUBLAS_MIN_TOKENS), and the largest index when
    the library cannot be loaded, so that generated kernels run everything.
    One value for the whole process.
  }];
  let arguments = (ins I64Attr:$compiled);
  let results = (outs Index:$tokens);
  let assemblyFormat = "$compiled attr-dict";
}

#endif // MODRWKV_DIALECT_RWKV_GPU_OPS_TD
