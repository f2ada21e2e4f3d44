// RUN: modrwkv-opt %S/cpu-pipeline.mlir --modrwkv-cuda-pipeline | FileCheck %s --check-prefixes=CHECK,BLAS
// RUN: modrwkv-opt %S/cpu-pipeline.mlir --modrwkv-cuda-pipeline="blas=0" | FileCheck %s --check-prefix=NOBLAS
// RUN: modrwkv-opt %S/cpu-pipeline.mlir --modrwkv-cuda-pipeline="chip=sm_80 wkv-heads-per-block=1 merge-launches=0" | FileCheck %s --check-prefix=SM80
// RUN: modrwkv-opt %S/cpu-pipeline.mlir --modrwkv-cuda-pipeline="host-kernels=1" | FileCheck %s --check-prefix=HOST

// The model-level function of cpu-pipeline.mlir, for CUDA: the host side reaches
// the LLVM dialect as kernel launches on one stream, device allocations and
// the C interface; the device side is one gpu.binary holding PTX for sm_90
// with every kernel; no loop is left on the host.
// CHECK: module attributes {gpu.container_module, rwkv.weights = [{name = "emb"
// CHECK: llvm.func @forward(
// CHECK-NOT: scf.
// CHECK: %[[S:.*]] = llvm.call @mgpuStreamCreate()
// CHECK: gpu.launch_func <%[[S]] : !llvm.ptr> @kernels::@forward_kernel blocks
// The products' cuBLAS path: runtime calls on the launches' stream.
// BLAS: llvm.call @modrwkv_gpu_blas_min_tokens(
// BLAS: llvm.call @modrwkv_gpu_gemm(%[[S]],
// CHECK: llvm.call @mgpuStreamSynchronize(%[[S]])
// CHECK: llvm.func @_mlir_ciface_forward(%arg0: !llvm.ptr {rwkv.weights_buffer = array<i64: 0, {{[0-9]+}}>}, %arg1: !llvm.ptr, %arg2: !llvm.ptr, %arg3: !llvm.ptr, %arg4: !llvm.ptr, %arg5: !llvm.ptr)
// CHECK: gpu.binary @kernels [#gpu.object<#nvvm.target<O = 3, chip = "sm_90", features = "+ptx80">, {{.*}}assembly = "{{.*}}.target sm_90{{.*}}.visible .entry forward_kernel(
// CHECK-NOT: gpu.binary

// blas=0: no cuBLAS path for the products.
// NOBLAS-NOT: modrwkv_gpu
// sm_80, each kernel launched alone (merge-launches=0): the WKV kernel's
// block is one head's 64 rows.
// SM80: chip = "sm_80"
// SM80: .maxntid 64, 1, 1

// host-kernels=1 (the CUDA emulator): the same host code and launches, but
// the kernels stay in a gpu.module as host LLVM functions with their launch
// wrappers, for modrwkv-compile to link; no NVVM.
// HOST: llvm.func @forward(
// HOST: gpu.launch_func <%{{.*}} : !llvm.ptr> @kernels::@forward_kernel blocks
// HOST: gpu.module @kernels
// HOST-NOT: nvvm.
// HOST: llvm.func @forward_kernel(
// HOST-SAME: gpu.kernel
// HOST: llvm.func @modrwkv_emu_launch_forward_kernel(
// HOST-NOT: gpu.binary
