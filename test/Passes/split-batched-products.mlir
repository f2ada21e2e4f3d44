// RUN: modrwkv-opt %s --split-input-file --rwkv-split-batched-products | FileCheck %s

#x = affine_map<(b, h, t, n, k) -> (b, h, t, k)>
#w = affine_map<(b, h, t, n, k) -> (b, h, n, k)>
#y = affine_map<(b, h, t, n, k) -> (b, h, t, n)>

// Attention's q k^T per (batch, head): a loop over both, and the body on
// [t, k] x [n, k] -> [t, n] views, the form of the kernel passes' products.
// CHECK-LABEL: func @attention
// CHECK-DAG: %[[C0:.*]] = arith.constant 0 : index
// CHECK-DAG: %[[C1:.*]] = arith.constant 1 : index
// CHECK-DAG: %[[C2:.*]] = arith.constant 2 : index
// CHECK-DAG: %[[C4:.*]] = arith.constant 4 : index
// CHECK: scf.for %[[B:.*]] = %[[C0]] to %[[C2]] step %[[C1]]
// CHECK:   scf.for %[[H:.*]] = %[[C0]] to %[[C4]] step %[[C1]]
// CHECK:     %[[X:.*]] = memref.subview %arg0[%[[B]], %[[H]], 0, 0] [1, 1, 17, 12] [1, 1, 1, 1] : memref<2x4x17x12xf32> to memref<17x12xf32, strided<[12, 1], offset: ?>>
// CHECK:     %[[W:.*]] = memref.subview %arg1[%[[B]], %[[H]], 0, 0] [1, 1, 9, 12] [1, 1, 1, 1]
// CHECK:     %[[Y:.*]] = memref.subview %arg2[%[[B]], %[[H]], 0, 0] [1, 1, 17, 9] [1, 1, 1, 1]
// CHECK:     linalg.generic {indexing_maps = [#{{.*}}, #{{.*}}, #{{.*}}], iterator_types = ["parallel", "parallel", "reduction"]} ins(%[[X]], %[[W]] : {{.*}}) outs(%[[Y]] : {{.*}})
// CHECK:       arith.mulf
// CHECK:       arith.addf
// CHECK-NOT: linalg.generic
func.func @attention(%q: memref<2x4x17x12xf32>, %k: memref<2x4x9x12xf32>, %s: memref<2x4x17x9xf32>) {
  linalg.generic {indexing_maps = [#x, #w, #y], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]}
      ins(%q, %k : memref<2x4x17x12xf32>, memref<2x4x9x12xf32>) outs(%s : memref<2x4x17x9xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %m = arith.mulf %a, %b : f32
    %r = arith.addf %acc, %m : f32
    linalg.yield %r : f32
  }
  return
}

// -----

#x = affine_map<(b, t, n, k) -> (b, t, k)>
#wt = affine_map<(b, t, n, k) -> (b, k, n)>
#wb = affine_map<(b, t, n, k) -> (n, k)>
#y = affine_map<(b, t, n, k) -> (b, t, n)>

// Left alone: w read as [k, n], w shared by the batch, a dynamic batch.
// CHECK-LABEL: func @others
// CHECK-NOT: scf.for
// CHECK-COUNT-3: linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "parallel", "reduction"]
func.func @others(%x: memref<3x5x8xf32>, %w: memref<3x8x6xf32>, %w2: memref<6x8xf32>, %y: memref<3x5x6xf32>,
                  %xd: memref<?x5x8xf32>, %wd: memref<?x6x8xf32>, %yd: memref<?x5x6xf32>) {
  linalg.generic {indexing_maps = [#x, #wt, #y], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%x, %w : memref<3x5x8xf32>, memref<3x8x6xf32>) outs(%y : memref<3x5x6xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %m = arith.mulf %a, %b : f32
    %r = arith.addf %acc, %m : f32
    linalg.yield %r : f32
  }
  linalg.generic {indexing_maps = [#x, #wb, #y], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%x, %w2 : memref<3x5x8xf32>, memref<6x8xf32>) outs(%y : memref<3x5x6xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %m = arith.mulf %a, %b : f32
    %r = arith.addf %acc, %m : f32
    linalg.yield %r : f32
  }
  linalg.generic {indexing_maps = [#x, #x, #y], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%xd, %wd : memref<?x5x8xf32>, memref<?x6x8xf32>) outs(%yd : memref<?x5x6xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %m = arith.mulf %a, %b : f32
    %r = arith.addf %acc, %m : f32
    linalg.yield %r : f32
  }
  return
}
