// RUN: modrwkv-opt %s --rwkv-fuse-siblings | FileCheck %s

#id = affine_map<(d0, d1) -> (d0, d1)>
#row = affine_map<(d0, d1) -> (d1)>
#ew = {indexing_maps = [#id, #row, #id], iterator_types = ["parallel", "parallel"]}

// Three lerps of the same rows, their outputs allocated between them (the
// second allocation depends on a memref.dim): one generic with three
// outputs, where the last one was; each body as before.
// CHECK-LABEL: func.func @lerps
// CHECK:      %[[A:.*]] = memref.alloc(%{{.*}})
// CHECK:      %[[B:.*]] = memref.alloc(%{{.*}})
// CHECK:      %[[C:.*]] = memref.alloc(%{{.*}})
// CHECK:      linalg.generic
// CHECK-SAME: ins(%arg0, %arg1, %arg2, %arg3 :
// CHECK-SAME: outs(%[[A]], %[[B]], %[[C]] :
// CHECK:      ^bb0(%[[X:[^:]*]]: f32, %[[MU1:[^:]*]]: f32, %[[MU2:[^:]*]]: f32, %[[MU3:[^:]*]]: f32,
// CHECK:        %[[R1:.*]] = arith.mulf %[[X]], %[[MU1]]
// CHECK:        %[[R2:.*]] = arith.mulf %[[X]], %[[MU2]]
// CHECK:        %[[R3:.*]] = arith.mulf %[[X]], %[[MU3]]
// CHECK:        linalg.yield %[[R1]], %[[R2]], %[[R3]]
// CHECK-NOT:  linalg.generic
func.func @lerps(%x: memref<?x8xf32>, %mu1: memref<8xf32>, %mu2: memref<8xf32>, %mu3: memref<8xf32>) -> (memref<?x8xf32>, memref<?x8xf32>, memref<?x8xf32>) {
  %c0 = arith.constant 0 : index
  %t = memref.dim %x, %c0 : memref<?x8xf32>
  %a = memref.alloc(%t) : memref<?x8xf32>
  linalg.generic #ew ins(%x, %mu1 : memref<?x8xf32>, memref<8xf32>) outs(%a : memref<?x8xf32>) {
  ^bb0(%in: f32, %m: f32, %out: f32):
    %r = arith.mulf %in, %m : f32
    linalg.yield %r : f32
  }
  %b = memref.alloc(%t) : memref<?x8xf32>
  linalg.generic #ew ins(%x, %mu2 : memref<?x8xf32>, memref<8xf32>) outs(%b : memref<?x8xf32>) {
  ^bb0(%in: f32, %m: f32, %out: f32):
    %r = arith.mulf %in, %m : f32
    linalg.yield %r : f32
  }
  %t2 = memref.dim %a, %c0 : memref<?x8xf32>
  %c = memref.alloc(%t2) : memref<?x8xf32>
  linalg.generic #ew ins(%x, %mu3 : memref<?x8xf32>, memref<8xf32>) outs(%c : memref<?x8xf32>) {
  ^bb0(%in: f32, %m: f32, %out: f32):
    %r = arith.mulf %in, %m : f32
    linalg.yield %r : f32
  }
  return %a, %b, %c : memref<?x8xf32>, memref<?x8xf32>, memref<?x8xf32>
}

// The second op reads what the first wrote, at the same point: merged, it
// takes the first body's value instead of loading the buffer.
// CHECK-LABEL: func.func @chained
// CHECK:      linalg.generic
// CHECK:        %[[SUM:.*]] = arith.addf
// CHECK:        %[[TWICE:.*]] = arith.mulf %[[SUM]], %[[SUM]]
// CHECK:        linalg.yield %[[SUM]], %[[TWICE]]
// CHECK-NOT:  linalg.generic
func.func @chained(%x: memref<4x8xf32>, %mu: memref<8xf32>, %a: memref<4x8xf32>, %b: memref<4x8xf32>) {
  linalg.generic #ew ins(%x, %mu : memref<4x8xf32>, memref<8xf32>) outs(%a : memref<4x8xf32>) {
  ^bb0(%in: f32, %m: f32, %out: f32):
    %r = arith.addf %in, %m : f32
    linalg.yield %r : f32
  }
  linalg.generic #ew ins(%a, %mu : memref<4x8xf32>, memref<8xf32>) outs(%b : memref<4x8xf32>) {
  ^bb0(%in: f32, %m: f32, %out: f32):
    %r = arith.mulf %in, %in : f32
    linalg.yield %r : f32
  }
  return
}

// Left apart: a read of the written buffer at other points (a row of it,
// through a view), a copy between two ops, and different domains.
// CHECK-LABEL: func.func @apart
// CHECK-COUNT-2: linalg.generic
// CHECK:         linalg.copy
// CHECK-COUNT-2: linalg.generic
func.func @apart(%x: memref<4x8xf32>, %mu: memref<8xf32>, %a: memref<4x8xf32>, %b: memref<4x8xf32>, %c: memref<2x8xf32>) {
  linalg.generic #ew ins(%x, %mu : memref<4x8xf32>, memref<8xf32>) outs(%a : memref<4x8xf32>) {
  ^bb0(%in: f32, %m: f32, %out: f32):
    %r = arith.addf %in, %m : f32
    linalg.yield %r : f32
  }
  %row = memref.subview %a[0, 0] [1, 8] [1, 1] : memref<4x8xf32> to memref<8xf32, strided<[1]>>
  linalg.generic {indexing_maps = [#id, #row, #id], iterator_types = ["parallel", "parallel"]} ins(%x, %row : memref<4x8xf32>, memref<8xf32, strided<[1]>>) outs(%b : memref<4x8xf32>) {
  ^bb0(%in: f32, %m: f32, %out: f32):
    %r = arith.mulf %in, %m : f32
    linalg.yield %r : f32
  }
  linalg.copy ins(%x : memref<4x8xf32>) outs(%a : memref<4x8xf32>)
  linalg.generic #ew ins(%x, %mu : memref<4x8xf32>, memref<8xf32>) outs(%b : memref<4x8xf32>) {
  ^bb0(%in: f32, %m: f32, %out: f32):
    %r = arith.subf %in, %m : f32
    linalg.yield %r : f32
  }
  linalg.generic #ew ins(%c, %mu : memref<2x8xf32>, memref<8xf32>) outs(%c : memref<2x8xf32>) {
  ^bb0(%in: f32, %m: f32, %out: f32):
    %r = arith.subf %in, %m : f32
    linalg.yield %r : f32
  }
  return
}

// Bodies that load (an indexed token shift folded into lerps): two that
// load %x, which no op of the run writes, are merged; one that loads the
// buffer an earlier op of the run writes (%a, at another row) is not.
// CHECK-LABEL: func.func @loads
// CHECK:         linalg.generic
// CHECK-SAME:    outs(%arg2, %arg3 :
// CHECK:         linalg.generic
// CHECK-SAME:    outs(%arg4 :
// CHECK-NOT:     linalg.generic
func.func @loads(%x: memref<4x8xf32>, %mu: memref<8xf32>, %a: memref<4x8xf32>, %b: memref<4x8xf32>, %c: memref<4x8xf32>) {
  %c0 = arith.constant 0 : index
  linalg.generic #ew ins(%x, %mu : memref<4x8xf32>, memref<8xf32>) outs(%a : memref<4x8xf32>) {
  ^bb0(%in: f32, %m: f32, %out: f32):
    %j = linalg.index 1 : index
    %v = memref.load %x[%c0, %j] : memref<4x8xf32>
    %r = arith.addf %v, %m : f32
    linalg.yield %r : f32
  }
  linalg.generic #ew ins(%x, %mu : memref<4x8xf32>, memref<8xf32>) outs(%b : memref<4x8xf32>) {
  ^bb0(%in: f32, %m: f32, %out: f32):
    %j = linalg.index 1 : index
    %v = memref.load %x[%c0, %j] : memref<4x8xf32>
    %r = arith.mulf %v, %m : f32
    linalg.yield %r : f32
  }
  linalg.generic #ew ins(%x, %mu : memref<4x8xf32>, memref<8xf32>) outs(%c : memref<4x8xf32>) {
  ^bb0(%in: f32, %m: f32, %out: f32):
    %j = linalg.index 1 : index
    %v = memref.load %a[%c0, %j] : memref<4x8xf32>
    %r = arith.subf %v, %m : f32
    linalg.yield %r : f32
  }
  return
}
