// RUN: modrwkv-opt %s --rwkv-lower-wkv7-gpu | FileCheck %s
// RUN: modrwkv-opt %s --rwkv-lower-wkv7-gpu="heads-per-block=2 unroll=4" | FileCheck %s --check-prefix=KNOBS
// RUN: not modrwkv-opt %s --rwkv-lower-wkv7-gpu="unroll=0" 2>&1 | FileCheck %s --check-prefix=BAD

// One launch: a block of 64 threads per head (2 heads), thread = value row.
// The row lives in a loop-carried vector across the whole time loop; each
// token reads the head's r, w, k, a, b slices and v[i], writes y[t, i]; the
// final row goes to a new state buffer.
// CHECK-LABEL: func @wkv
// CHECK-NOT: rwkv.wkv7
// CHECK-DAG: %[[T:.*]] = tensor.dim %arg0
// CHECK-DAG: %[[STATE:.*]] = bufferization.to_buffer %arg1 read_only : tensor<2x64x64xf32> to memref<2x64x64xf32, strided<[?, ?, 1], offset: ?>>
// CHECK-DAG: %[[Y:.*]] = memref.alloc(%[[T]]) : memref<?x128xf32>
// CHECK-DAG: %[[SOUT:.*]] = memref.alloc() : memref<2x64x64xf32>
// CHECK: gpu.launch blocks({{.*}}) in ({{.*}} = %c2{{.*}}, {{.*}} = %c1{{.*}}, {{.*}} = %c1{{.*}}) threads(%[[TX:.*]], %{{.*}}, %{{.*}}) in ({{.*}} = %c64{{.*}}, {{.*}} = %c1{{.*}}, {{.*}} = %c1{{.*}})
// CHECK:   %[[ROW:.*]] = arith.remui %[[TX]], %c64
// CHECK:   scf.if
// CHECK:     %[[INIT:.*]] = vector.load %[[STATE]][%[[H:.*]], %[[ROW]], %c0]
// CHECK:     %[[LAST:.*]] = scf.for %[[t:.*]] = %c0 to %[[T]] step %c1 iter_args(%[[S:.*]] = %[[INIT]]) -> (vector<64xf32>)
// CHECK-COUNT-5: vector.load %{{.*}}[%[[t]], %{{.*}}] : memref<?x128xf32, strided<[?, 1], offset: ?>>, vector<64xf32>
// CHECK:       memref.load
// CHECK:       arith.mulf %[[S]]
// CHECK:       vector.reduction <add>, %{{.*}} fastmath<reassoc,contract>
// CHECK:       vector.fma
// CHECK:       vector.fma
// CHECK:       vector.reduction <add>
// CHECK:       memref.store %{{.*}}, %[[Y]][%[[t]], %{{.*}}]
// CHECK:     vector.store %[[LAST]], %[[SOUT]][%[[H]], %[[ROW]], %c0]
// CHECK: bufferization.to_tensor %[[Y]] restrict writable
// CHECK: bufferization.to_tensor %[[SOUT]] restrict writable

// Two heads per block of 128 threads: one block; the time loop unrolled by
// 4 (plus the remainder loop).
// KNOBS-LABEL: func @wkv
// KNOBS: gpu.launch blocks({{.*}}) in ({{.*}} = %c1{{.*}}, {{.*}}) threads({{.*}}) in ({{.*}} = %c128
// KNOBS: scf.for
// KNOBS-COUNT-8: vector.fma
// KNOBS: scf.for
// KNOBS-COUNT-2: vector.fma
// BAD: heads-per-block and unroll must be >= 1
func.func @wkv(%x: tensor<?x128xf32>, %s: tensor<2x64x64xf32>)
    -> (tensor<?x128xf32>, tensor<2x64x64xf32>) {
  %y, %s2 = rwkv.wkv7 %x, %x, %x, %x, %x, %x, %s : tensor<?x128xf32>, tensor<2x64x64xf32>
  return %y, %s2 : tensor<?x128xf32>, tensor<2x64x64xf32>
}

// Batched decode (state [T, 2, 64, 64]): block y is the sequence; its
// threads load and store S[s, h, i, :] and run token s alone (no unrolling).
// CHECK-LABEL: func @wkv_batched
// CHECK-DAG: %[[T:.*]] = tensor.dim %arg0
// CHECK-DAG: %[[SOUT:.*]] = memref.alloc(%[[T]]) : memref<?x2x64x64xf32>
// CHECK: gpu.launch blocks(%{{.*}}, %[[BY:.*]], %{{.*}}) in ({{.*}} = %c2{{.*}}, {{.*}} = %[[T]], {{.*}} = %c1{{.*}})
// CHECK:   %[[ROW:.*]] = arith.remui
// CHECK:   scf.if
// CHECK:     %[[NEXT:.*]] = arith.addi %[[BY]], %c1
// CHECK:     %[[INIT:.*]] = vector.load %{{.*}}[%[[BY]], %[[H:.*]], %[[ROW]], %c0]
// CHECK:     %[[LAST:.*]] = scf.for %[[t:.*]] = %[[BY]] to %[[NEXT]] step %c1 iter_args(%{{.*}} = %[[INIT]])
// CHECK:       memref.store %{{.*}}, %{{.*}}[%[[t]], %{{.*}}]
// CHECK:     vector.store %[[LAST]], %[[SOUT]][%[[BY]], %[[H]], %[[ROW]], %c0]
// KNOBS-LABEL: func @wkv_batched
// KNOBS: scf.for
// KNOBS-COUNT-2: vector.fma
// KNOBS-NOT: scf.for
func.func @wkv_batched(%x: tensor<?x128xf32>, %s: tensor<?x2x64x64xf32>)
    -> (tensor<?x128xf32>, tensor<?x2x64x64xf32>) {
  %y, %s2 = rwkv.wkv7 %x, %x, %x, %x, %x, %x, %s : tensor<?x128xf32>, tensor<?x2x64x64xf32>
  return %y, %s2 : tensor<?x128xf32>, tensor<?x2x64x64xf32>
}

// Other rwkv ops are left alone.
// CHECK-LABEL: func @other
// CHECK: rwkv.linear
func.func @other(%x: tensor<?x64xf32>, %w: tensor<32x64xf32>) -> tensor<?x32xf32> {
  %y = rwkv.linear %x, %w : tensor<?x64xf32>, tensor<32x64xf32> -> tensor<?x32xf32>
  return %y : tensor<?x32xf32>
}
