// RUN: modrwkv-opt %s --split-input-file --rwkv-gpu-store-epilogues | FileCheck %s

// A kernel fills y [T, 128] (a group norm); the gate reads y as [T, 2, 64]
// with a per-head value b [T, 2], then a second generic scales its result
// by g. Both run in the kernel at its store, which delinearizes the column
// (c / 64, c % 64): the kernel moves past an unrelated one to the gate's
// place; y, its view, the first result and both generics go, and the dims
// of y and of the view become their sizes.
// CHECK-LABEL: func.func @gate
// CHECK-SAME:    (%[[X:.*]]: memref<?x128xf32>, %[[B:.*]]: memref<?x2xf32>, %[[G:.*]]: memref<?x2x64xf32>, %[[OTHER:.*]]: memref<4xf32>)
// CHECK:       %[[T:.*]] = memref.dim %[[X]], %c0
// CHECK:       gpu.launch
// CHECK:         memref.store %{{.*}}, %[[OTHER]]
// CHECK:       %[[OUT:.*]] = memref.alloc(%[[T]]) : memref<?x2x64xf32>
// CHECK-NEXT:  gpu.launch
// CHECK:         %[[V:.*]] = memref.load %[[X]][%[[ROW:.*]], %[[COL:[a-z0-9_]+]]]
// CHECK:         %[[C64:.*]] = arith.constant 64 : index
// CHECK:         %[[I:.*]] = arith.remui %[[COL]], %[[C64]]
// CHECK:         %[[H:.*]] = arith.divui %[[COL]], %[[C64]]
// CHECK:         %[[BV:.*]] = memref.load %[[B]][%[[ROW]], %[[H]]]
// CHECK:         %[[S:.*]] = arith.addf %[[V]], %[[BV]]
// CHECK:         %[[GV:.*]] = memref.load %[[G]][%[[ROW]], %[[H]], %[[I]]]
// CHECK:         %[[P:.*]] = arith.mulf %[[S]], %[[GV]]
// CHECK:         memref.store %[[P]], %[[OUT]][%[[ROW]], %[[H]], %[[I]]]
// CHECK-NEXT:    gpu.terminator
// CHECK-NOT:   memref.alloc
// CHECK-NOT:   linalg.generic
// CHECK-NOT:   memref.dealloc
// CHECK:       return %[[OUT]]
#id3 = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
#head = affine_map<(d0, d1, d2) -> (d0, d1)>
func.func @gate(%x: memref<?x128xf32>, %b: memref<?x2xf32>, %g: memref<?x2x64xf32>, %other: memref<4xf32>) -> memref<?x2x64xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c128 = arith.constant 128 : index
  %t = memref.dim %x, %c0 : memref<?x128xf32>
  %y = memref.alloc(%t) : memref<?x128xf32>
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %t, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c128, %sy = %c1, %sz = %c1) {
    %v = memref.load %x[%bx, %tx] : memref<?x128xf32>
    memref.store %v, %y[%bx, %tx] : memref<?x128xf32>
    gpu.terminator
  }
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c1, %sy = %c1, %sz = %c1) {
    %f = arith.constant 1.0 : f32
    memref.store %f, %other[%tx] : memref<4xf32>
    gpu.terminator
  }
  %view = memref.expand_shape %y [[0], [1, 2]] output_shape [%t, 2, 64] : memref<?x128xf32> into memref<?x2x64xf32>
  %rows = memref.dim %view, %c0 : memref<?x2x64xf32>
  %out = memref.alloc(%rows) : memref<?x2x64xf32>
  linalg.generic {indexing_maps = [#id3, #head, #id3], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%view, %b : memref<?x2x64xf32>, memref<?x2xf32>) outs(%out : memref<?x2x64xf32>) {
  ^bb0(%v: f32, %bv: f32, %o: f32):
    %s = arith.addf %v, %bv : f32
    linalg.yield %s : f32
  }
  %rows2 = memref.dim %y, %c0 : memref<?x128xf32>
  %out2 = memref.alloc(%rows2) : memref<?x2x64xf32>
  linalg.generic {indexing_maps = [#id3, #id3, #id3], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%out, %g : memref<?x2x64xf32>, memref<?x2x64xf32>) outs(%out2 : memref<?x2x64xf32>) {
  ^bb0(%v: f32, %gv: f32, %o: f32):
    %p = arith.mulf %v, %gv : f32
    linalg.yield %p : f32
  }
  memref.dealloc %out : memref<?x2x64xf32>
  memref.dealloc %y : memref<?x128xf32>
  return %out2 : memref<?x2x64xf32>
}

// -----

// Left alone: y is also read by another kernel; and a kernel between the
// writer and the reader overwrites what the writer reads.
// CHECK-LABEL: func.func @kept
// CHECK:       gpu.launch
// CHECK:       gpu.launch
// CHECK:       linalg.generic
// CHECK:       gpu.launch
// CHECK:       gpu.launch
// CHECK:       linalg.generic
#id = affine_map<(d0) -> (d0)>
func.func @kept(%x: memref<64xf32>, %z: memref<64xf32>, %out: memref<64xf32>, %out2: memref<64xf32>) {
  %c1 = arith.constant 1 : index
  %c64 = arith.constant 64 : index
  %y = memref.alloc() : memref<64xf32>
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c64, %sy = %c1, %sz = %c1) {
    %v = memref.load %x[%tx] : memref<64xf32>
    memref.store %v, %y[%tx] : memref<64xf32>
    gpu.terminator
  }
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c64, %sy = %c1, %sz = %c1) {
    %v = memref.load %y[%tx] : memref<64xf32>
    memref.store %v, %z[%tx] : memref<64xf32>
    gpu.terminator
  }
  linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel"]}
      ins(%y : memref<64xf32>) outs(%out : memref<64xf32>) {
  ^bb0(%v: f32, %o: f32):
    %s = arith.addf %v, %v : f32
    linalg.yield %s : f32
  }
  memref.dealloc %y : memref<64xf32>
  %y2 = memref.alloc() : memref<64xf32>
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c64, %sy = %c1, %sz = %c1) {
    %v = memref.load %x[%tx] : memref<64xf32>
    memref.store %v, %y2[%tx] : memref<64xf32>
    gpu.terminator
  }
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c64, %sy = %c1, %sz = %c1) {
    %f = arith.constant 0.0 : f32
    memref.store %f, %x[%tx] : memref<64xf32>
    gpu.terminator
  }
  linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel"]}
      ins(%y2 : memref<64xf32>) outs(%out2 : memref<64xf32>) {
  ^bb0(%v: f32, %o: f32):
    %s = arith.addf %v, %v : f32
    linalg.yield %s : f32
  }
  memref.dealloc %y2 : memref<64xf32>
  return
}
