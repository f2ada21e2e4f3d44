// RUN: modrwkv-opt %s --rwkv-copies-to-linalg | FileCheck %s

// Every memref.copy, strided or not, becomes a linalg.copy.
// CHECK-LABEL: func @copies
// CHECK-NOT: memref.copy
// CHECK: linalg.copy ins(%arg0 : memref<4x8xf32>) outs(%arg1 : memref<4x8xf32>)
// CHECK: linalg.copy ins(%{{.*}} : memref<2x8xf32, strided<[8, 1], offset: 8>>) outs(%{{.*}} : memref<2x8xf32, strided<[8, 1]>>)
// CHECK: memref.load
func.func @copies(%a: memref<4x8xf32>, %b: memref<4x8xf32>) -> f32 {
  memref.copy %a, %b : memref<4x8xf32> to memref<4x8xf32>
  %s = memref.subview %a[1, 0] [2, 8] [1, 1] : memref<4x8xf32> to memref<2x8xf32, strided<[8, 1], offset: 8>>
  %t = memref.subview %b[0, 0] [2, 8] [1, 1] : memref<4x8xf32> to memref<2x8xf32, strided<[8, 1]>>
  memref.copy %s, %t : memref<2x8xf32, strided<[8, 1], offset: 8>> to memref<2x8xf32, strided<[8, 1]>>
  %c0 = arith.constant 0 : index
  // Other memory ops are left alone.
  %v = memref.load %b[%c0, %c0] : memref<4x8xf32>
  return %v : f32
}
