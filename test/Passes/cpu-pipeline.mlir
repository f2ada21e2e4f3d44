// RUN: modrwkv-opt %s --modrwkv-cpu-pipeline | FileCheck %s
// RUN: modrwkv-opt %s --modrwkv-cpu-pipeline=weight-alignment=4096 | FileCheck %s --check-prefix=ALIGN
// RUN: modrwkv-opt %s --modrwkv-cpu-pipeline=parallel=1 | FileCheck %s --check-prefix=OMP
// RUN: modrwkv-opt %s --modrwkv-cpu-pipeline=share-layers=0 | FileCheck %s --check-prefix=INLINE

// The whole model-level function (in the frontend's ABI: memref arguments,
// results materialized into them) reaches the LLVM dialect with no rwkv,
// tensor, linalg or memref op left, only the runtime's allocation functions
// and libm as externals, and a C interface taking the six buffers and
// returning nothing.
// CHECK: module attributes {rwkv.weights = [{name = "emb"
// CHECK-NOT: rwkv.
// CHECK-NOT: memrefCopy
// CHECK-NOT: @malloc
// CHECK: llvm.func @_mlir_memref_to_llvm_free(!llvm.ptr)
// CHECK: llvm.func @_mlir_memref_to_llvm_alloc(i64) -> !llvm.ptr
// CHECK: llvm.func @forward(
// CHECK: llvm.func @_mlir_ciface_forward(%arg0: !llvm.ptr {rwkv.weights_buffer = array<i64: 0, {{[0-9]+}}>}, %arg1: !llvm.ptr, %arg2: !llvm.ptr, %arg3: !llvm.ptr, %arg4: !llvm.ptr, %arg5: !llvm.ptr) attributes
// CHECK-NOT: linalg.
// CHECK-NOT: tensor.
// CHECK-NOT: memref.
// ALIGN: {name = "vec", offset = 4096 : i64
// The time-mix and channel-mix bodies are functions of their own (shared by
// the layers of a deeper model); with share-layers=0 they are expanded in
// `forward`. With threads, the recurrence's heads and the token rows of the
// other loop nests run in OpenMP regions too, not only the products.
// OMP: llvm.func @forward(
// OMP-COUNT-4: omp.parallel
// OMP: llvm.call @rwkv_time_mix(
// OMP: llvm.call @rwkv_channel_mix(
// OMP: llvm.func @_mlir_ciface_forward(
// OMP: llvm.func @rwkv_time_mix(
// OMP-COUNT-8: omp.parallel
// OMP: llvm.func @rwkv_channel_mix(
// INLINE-NOT: llvm.call @rwkv_time_mix
// INLINE-NOT: llvm.func @rwkv_time_mix
// INLINE-NOT: llvm.func @rwkv_channel_mix
func.func @forward(%tokens: memref<?xi32>, %att: memref<1x64xf32>,
                   %ffn: memref<1x64xf32>, %wkv: memref<1x1x64x64xf32>,
                   %logits: memref<?x10xf32>) attributes {llvm.emit_c_interface} {
  %emb = arith.constant dense_resource<emb> : tensor<10x64xf32>
  %v = arith.constant dense_resource<vec> : tensor<64xf32>
  %m = arith.constant dense_resource<mat> : tensor<64x64xf32>
  %d = arith.constant dense_resource<down> : tensor<4x64xf32>
  %u = arith.constant dense_resource<up> : tensor<64x4xf32>
  %fk = arith.constant dense_resource<fk> : tensor<256x64xf32>
  %fv = arith.constant dense_resource<fv> : tensor<64x256xf32>
  %head = arith.constant dense_resource<head> : tensor<10x64xf32>
  %t = bufferization.to_tensor %tokens restrict writable : memref<?xi32> to tensor<?xi32>
  %a = bufferization.to_tensor %att restrict writable : memref<1x64xf32> to tensor<1x64xf32>
  %f = bufferization.to_tensor %ffn restrict writable : memref<1x64xf32> to tensor<1x64xf32>
  %s = bufferization.to_tensor %wkv restrict writable : memref<1x1x64x64xf32> to tensor<1x1x64x64xf32>
  %x0 = rwkv.embedding %t, %emb : tensor<?xi32>, tensor<10x64xf32> -> tensor<?x64xf32>
  %x = rwkv.layer_norm %x0, %v, %v eps = 1.0e-5 : tensor<?x64xf32>, tensor<64xf32>
  %a0 = tensor.extract_slice %a[0, 0] [1, 64] [1, 1] : tensor<1x64xf32> to tensor<64xf32>
  %s0 = tensor.extract_slice %s[0, 0, 0, 0] [1, 1, 64, 64] [1, 1, 1, 1] : tensor<1x1x64x64xf32> to tensor<1x64x64xf32>
  %o, %so, %st, %vf = rwkv.time_mix %x, %a0, %s0
      mix(%v, %v, %v, %v, %v, %v) decay(%v, %d, %u) iclr(%v, %d, %u)
      gate(%d, %u) key_scale(%v, %v, %v) proj(%m, %m, %m, %m) ln_x(%v, %v)
      : (tensor<?x64xf32>, tensor<64xf32>, tensor<1x64x64xf32>,
         tensor<64xf32>, tensor<64xf32>, tensor<64xf32>, tensor<64xf32>,
         tensor<64xf32>, tensor<64xf32>, tensor<64xf32>, tensor<4x64xf32>,
         tensor<64x4xf32>, tensor<64xf32>, tensor<4x64xf32>, tensor<64x4xf32>,
         tensor<4x64xf32>, tensor<64x4xf32>, tensor<64xf32>, tensor<64xf32>,
         tensor<64xf32>, tensor<64x64xf32>, tensor<64x64xf32>,
         tensor<64x64xf32>, tensor<64x64xf32>, tensor<64xf32>, tensor<64xf32>)
      -> (tensor<?x64xf32>, tensor<64xf32>, tensor<1x64x64xf32>, tensor<?x64xf32>)
  %a1 = tensor.insert_slice %so into %a[0, 0] [1, 64] [1, 1] : tensor<64xf32> into tensor<1x64xf32>
  %s1 = tensor.insert_slice %st into %s[0, 0, 0, 0] [1, 1, 64, 64] [1, 1, 1, 1] : tensor<1x64x64xf32> into tensor<1x1x64x64xf32>
  %x1 = arith.addf %x, %o : tensor<?x64xf32>
  %f0 = tensor.extract_slice %f[0, 0] [1, 64] [1, 1] : tensor<1x64xf32> to tensor<64xf32>
  %c, %fs = rwkv.channel_mix %x1, %f0 mix(%v) proj(%fk, %fv)
      : (tensor<?x64xf32>, tensor<64xf32>, tensor<64xf32>, tensor<256x64xf32>,
         tensor<64x256xf32>) -> (tensor<?x64xf32>, tensor<64xf32>)
  %f1 = tensor.insert_slice %fs into %f[0, 0] [1, 64] [1, 1] : tensor<64xf32> into tensor<1x64xf32>
  %x2 = arith.addf %x1, %c : tensor<?x64xf32>
  %l = rwkv.linear %x2, %head : tensor<?x64xf32>, tensor<10x64xf32> -> tensor<?x10xf32>
  bufferization.materialize_in_destination %a1 in restrict writable %att : (tensor<1x64xf32>, memref<1x64xf32>) -> ()
  bufferization.materialize_in_destination %f1 in restrict writable %ffn : (tensor<1x64xf32>, memref<1x64xf32>) -> ()
  bufferization.materialize_in_destination %s1 in restrict writable %wkv : (tensor<1x1x64x64xf32>, memref<1x1x64x64xf32>) -> ()
  bufferization.materialize_in_destination %l in restrict writable %logits : (tensor<?x10xf32>, memref<?x10xf32>) -> ()
  return
}
