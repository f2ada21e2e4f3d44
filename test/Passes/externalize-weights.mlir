// RUN: modrwkv-opt %s --rwkv-externalize-weights | FileCheck %s
// RUN: modrwkv-opt %s --rwkv-externalize-weights=alignment=4096 | FileCheck %s --check-prefix=PAGE
// RUN: modrwkv-opt %s --rwkv-externalize-weights=inline-constants=1 | FileCheck %s --check-prefix=INLINE

// The layout table: one entry per resource, at aligned offsets, keeping the
// original resource for the artifact writer.
// CHECK: module attributes {rwkv.weights = [
// CHECK-SAME: {name = "a", offset = 0 : i64, value = dense_resource<a> : tensor<3x5xf32>}
// CHECK-SAME: {name = "b", offset = 64 : i64, value = dense_resource<b> : tensor<7xf32>}]}
// PAGE: {name = "b", offset = 4096 : i64

// Each resource constant becomes a typed view of the new first argument; a
// resource used twice is stored once. Dense literals stay. The argument
// names the bytes the function reads: a, then b (28 bytes at 64).
// CHECK-LABEL: func @f(%arg0: memref<?xi8> {rwkv.weights_buffer = array<i64: 0, 92>}, %arg1: tensor<3xf32>)
// CHECK: %[[OFF_A:.*]] = arith.constant 0 : index
// CHECK: %[[VA:.*]] = memref.view %arg0[%[[OFF_A]]][] : memref<?xi8> to memref<3x5xf32>
// CHECK: bufferization.to_tensor %[[VA]] restrict : memref<3x5xf32> to tensor<3x5xf32>
// CHECK: %[[OFF_B:.*]] = arith.constant 64 : index
// CHECK: memref.view %arg0[%[[OFF_B]]][] : memref<?xi8> to memref<7xf32>
// CHECK: arith.constant dense<1.000000e+00> : tensor<2xf32>
// CHECK: memref.view %arg0[%{{.*}}][] : memref<?xi8> to memref<3x5xf32>
// CHECK-NOT: dense_resource
// CHECK: return
func.func @f(%x: tensor<3xf32>) -> (tensor<3x5xf32>, tensor<7xf32>, tensor<2xf32>, tensor<3x5xf32>) {
  %a = arith.constant dense_resource<a> : tensor<3x5xf32>
  %b = arith.constant dense_resource<b> : tensor<7xf32>
  %c = arith.constant dense<1.0> : tensor<2xf32>
  %a2 = arith.constant dense_resource<a> : tensor<3x5xf32>
  return %a, %b, %c, %a2 : tensor<3x5xf32>, tensor<7xf32>, tensor<2xf32>, tensor<3x5xf32>
}

// A function of b only (an encoder graph beside the model) reads b's bytes;
// b keeps its place.
// CHECK-LABEL: func @h(%arg0: memref<?xi8> {rwkv.weights_buffer = array<i64: 64, 92>})
// CHECK: arith.constant 64 : index
// PAGE-LABEL: func @h(%arg0: memref<?xi8> {rwkv.weights_buffer = array<i64: 4096, 4124>})
func.func @h() -> tensor<7xf32> {
  %b = arith.constant dense_resource<b> : tensor<7xf32>
  return %b : tensor<7xf32>
}

// inline-constants (the CUDA pipeline): dense literals go to the buffer as
// well, as the bytes memrefs hold (i64 little-endian, i1 a byte each,
// splats written out).
// INLINE-LABEL: func @f(%arg0: memref<?xi8>
// INLINE-NOT:   arith.constant dense<
// INLINE-LABEL: func @ints(%arg0: memref<?xi8>
// INLINE:       memref.view %arg0[%{{.*}}][] : memref<?xi8> to memref<3xi64>
// INLINE:       memref.view %arg0[%{{.*}}][] : memref<?xi8> to memref<2xi1>
// INLINE:       constant: "0x040000000000803F0000803F"
// INLINE:       constant_1: "0x080000000100000000000000FEFFFFFFFFFFFFFF0300000000000000"
// INLINE:       constant_2: "0x010000000100"
func.func @ints() -> (tensor<3xi64>, tensor<2xi1>) {
  %i = arith.constant dense<[1, -2, 3]> : tensor<3xi64>
  %b = arith.constant dense<[true, false]> : tensor<2xi1>
  return %i, %b : tensor<3xi64>, tensor<2xi1>
}

// A function without weights keeps its signature.
// CHECK-LABEL: func @g(%arg0: tensor<3xf32>) -> tensor<3xf32>
func.func @g(%x: tensor<3xf32>) -> tensor<3xf32> {
  return %x : tensor<3xf32>
}

{-#
  dialect_resources: {
    builtin: {
      a: "0x040000000000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F",
      b: "0x040000000000803F0000803F0000803F0000803F0000803F0000803F0000803F"
    }
  }
#-}
