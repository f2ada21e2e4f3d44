// RUN: modrwkv-opt %s --rwkv-parallel-tokens | FileCheck %s
// RUN: modrwkv-opt %s --rwkv-parallel-tokens=rows=4 | FileCheck %s --check-prefix=ROWS
// RUN: not modrwkv-opt %s --rwkv-parallel-tokens=rows=0 2>&1 | FileCheck %s --check-prefix=ERR
// ERR: rwkv-parallel-tokens: rows must be >= 1

#row = affine_map<(d0, d1) -> (d0, d1)>
#col = affine_map<(d0, d1) -> (d1)>
#red = affine_map<(d0, d1) -> (d0)>

// An element-wise op over [tokens, channels]: with more than 8 tokens the
// token loop becomes an scf.parallel over blocks of 8 rows, the op running
// on the block's subviews (the per-channel operand shared); with fewer
// (decode), the op as it was.
// CHECK-LABEL: func @lerp
// CHECK-SAME: (%[[X:.*]]: memref<?x8xf32>, %[[M:.*]]: memref<8xf32>, %[[Y:.*]]: memref<?x8xf32>)
// CHECK: %[[D:.*]] = memref.dim %[[X]], %c0
// CHECK: %[[SEVERAL:.*]] = arith.cmpi sgt, %[[D]], %c8
// CHECK: scf.if %[[SEVERAL]] {
// CHECK: %[[T:.*]] = memref.dim %[[X]], %c0
// CHECK: scf.parallel (%[[T0:.*]]) = (%{{.*}}) to (%[[T]]) step (%c8
// CHECK:   %[[N:.*]] = affine.min #{{.*}}(%[[T0]])[%[[T]]]
// CHECK:   %[[XB:.*]] = memref.subview %[[X]][%[[T0]], 0] [%[[N]], 8] [1, 1]
// CHECK:   %[[YB:.*]] = memref.subview %[[Y]][%[[T0]], 0] [%{{.*}}, 8] [1, 1]
// CHECK:   linalg.generic {{.*}} ins(%[[XB]], %[[M]] : {{.*}}) outs(%[[YB]] : {{.*}})
// CHECK:     arith.mulf
// CHECK: } else {
// CHECK:   linalg.generic {{.*}} ins(%[[X]], %[[M]] : {{.*}}) outs(%[[Y]] : {{.*}})
// CHECK-NOT: linalg.generic
// ROWS-LABEL: func @lerp
// ROWS: arith.cmpi sgt, %{{.*}}, %c4
// ROWS: scf.parallel ({{.*}}) = ({{.*}}) to ({{.*}}) step (%c4
func.func @lerp(%x: memref<?x8xf32>, %m: memref<8xf32>, %y: memref<?x8xf32>) {
  linalg.generic {indexing_maps = [#row, #col, #row], iterator_types = ["parallel", "parallel"]}
      ins(%x, %m : memref<?x8xf32>, memref<8xf32>) outs(%y : memref<?x8xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %p = arith.mulf %a, %b : f32
    linalg.yield %p : f32
  }
  return
}

// A reduction over channels (a norm's mean): rows are still independent.
// CHECK-LABEL: func @rowsum
// CHECK: scf.parallel
// CHECK:   linalg.generic {{.*}} iterator_types = ["parallel", "reduction"]
// CHECK-SAME: outs(%{{.*}} : memref<?xf32, strided<[1], offset: ?>>)
func.func @rowsum(%x: memref<?x8xf32>, %s: memref<?xf32>) {
  linalg.generic {indexing_maps = [#row, #red], iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<?x8xf32>) outs(%s : memref<?xf32>) {
  ^bb0(%a: f32, %o: f32):
    %p = arith.addf %a, %o : f32
    linalg.yield %p : f32
  }
  return
}

// A body that reads its token index (the embedding gather) sees the
// block's offset added.
// CHECK-LABEL: func @gather
// CHECK: scf.parallel (%[[T0:.*]]) =
// CHECK:   linalg.generic
// CHECK:     %[[I:.*]] = linalg.index 0 : index
// CHECK:     %[[T:.*]] = affine.apply #{{.*}}(%[[T0]])[%[[I]]]
// CHECK:     memref.load %{{.*}}[%[[T]]] : memref<?xi32>
func.func @gather(%ids: memref<?xi32>, %table: memref<16x8xf32>, %y: memref<?x8xf32>) {
  linalg.generic {indexing_maps = [#row], iterator_types = ["parallel", "parallel"]}
      outs(%y : memref<?x8xf32>) {
  ^bb0(%o: f32):
    %t = linalg.index 0 : index
    %c = linalg.index 1 : index
    %id = memref.load %ids[%t] : memref<?xi32>
    %i = arith.index_cast %id : i32 to index
    %v = memref.load %table[%i, %c] : memref<16x8xf32>
    linalg.yield %v : f32
  }
  return
}

// Left alone: static shapes (state copies), a first loop that is a
// reduction (a sum over tokens), and ops on tensors.
// CHECK-LABEL: func @static
// CHECK-NOT: scf.parallel
// CHECK: linalg.copy
func.func @static(%x: memref<4x8xf32>, %y: memref<4x8xf32>) {
  linalg.copy ins(%x : memref<4x8xf32>) outs(%y : memref<4x8xf32>)
  return
}

// CHECK-LABEL: func @colsum
// CHECK-NOT: scf.parallel
// CHECK: linalg.generic {{.*}} iterator_types = ["reduction", "parallel"]
func.func @colsum(%x: memref<?x8xf32>, %s: memref<8xf32>) {
  linalg.generic {indexing_maps = [#row, #col], iterator_types = ["reduction", "parallel"]}
      ins(%x : memref<?x8xf32>) outs(%s : memref<8xf32>) {
  ^bb0(%a: f32, %o: f32):
    %p = arith.addf %a, %o : f32
    linalg.yield %p : f32
  }
  return
}

// CHECK-LABEL: func @tensors
// CHECK-NOT: scf.parallel
// CHECK: linalg.generic
func.func @tensors(%x: tensor<?x8xf32>) -> tensor<?x8xf32> {
  %r = linalg.generic {indexing_maps = [#row, #row], iterator_types = ["parallel", "parallel"]}
      ins(%x : tensor<?x8xf32>) outs(%x : tensor<?x8xf32>) {
  ^bb0(%a: f32, %o: f32):
    %p = arith.mulf %a, %a : f32
    linalg.yield %p : f32
  } -> tensor<?x8xf32>
  return %r : tensor<?x8xf32>
}
