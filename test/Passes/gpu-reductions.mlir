// RUN: modrwkv-opt %s --rwkv-gpu-reductions | FileCheck %s
// RUN: modrwkv-opt %s --rwkv-gpu-reductions=warps-per-block=2 | FileCheck %s --check-prefix=TWO

// A group norm's variance: y[t, g] += (x[t, g, c] - mean[t, g])^2 / 64. A
// warp per (t, g): lanes stride c, a shuffle tree sums, lane 0 adds to y.
// CHECK-LABEL: func.func @variance
// CHECK: %[[ROWS:.*]] = memref.dim %arg0, %c0
// CHECK: %[[OUTPUTS:.*]] = arith.muli %[[ROWS]], %c2
// CHECK: gpu.launch blocks({{.*}}) in ({{.*}} = %{{.*}}, {{.*}}) threads({{.*}}) in (%{{.*}} = %c128{{(_[0-9]+)?}},
// CHECK: scf.if
// CHECK: scf.for %{{.*}} = %{{.*}} to %c64 step %c32{{.*}} iter_args(%[[ACC:[^ ]*]] = %{{.*}}) -> (f32)
// CHECK: memref.load %arg0[
// CHECK: memref.load %arg1[
// CHECK: arith.subf
// CHECK: arith.addf %[[ACC]],
// CHECK-COUNT-5: gpu.shuffle xor
// CHECK: scf.if
// CHECK: %[[OLD:.*]] = memref.load %arg2
// CHECK: arith.addf %[[OLD]], %{{.*}} fastmath<reassoc,contract>
// CHECK: memref.store
// CHECK-NOT: linalg.generic
// CHECK: return
// TWO-LABEL: func.func @variance
// TWO: threads({{.*}}) in (%{{.*}} = %c64{{(_[0-9]+)?}},
func.func @variance(%x: memref<?x2x64xf32>, %mean: memref<?x2xf32>, %y: memref<?x2xf32>) {
  %cst = arith.constant 1.562500e-02 : f32
  linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d1, d2)>, affine_map<(d0, d1, d2) -> (d0, d1)>, affine_map<(d0, d1, d2) -> (d0, d1)>], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %mean : memref<?x2x64xf32>, memref<?x2xf32>) outs(%y : memref<?x2xf32>) {
  ^bb0(%in: f32, %m: f32, %out: f32):
    %d = arith.subf %in, %m : f32
    %s = arith.mulf %d, %d : f32
    %w = arith.mulf %s, %cst : f32
    %r = arith.addf %out, %w fastmath<reassoc,contract> : f32
    linalg.yield %r : f32
  }
  return
}

// Left alone: a max (not a sum), a sum over a middle loop, and a sum whose
// body reads the accumulator twice.
// CHECK-LABEL: func.func @others
// CHECK-NOT: gpu.launch
// CHECK-COUNT-3: linalg.generic
func.func @others(%x: memref<4x8x16xf32>, %y: memref<4x16xf32>, %z: memref<4x8xf32>) {
  linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d1, d2)>, affine_map<(d0, d1, d2) -> (d0, d1)>], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x : memref<4x8x16xf32>) outs(%z : memref<4x8xf32>) {
  ^bb0(%in: f32, %out: f32):
    %r = arith.maximumf %out, %in : f32
    linalg.yield %r : f32
  }
  linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d1, d2)>, affine_map<(d0, d1, d2) -> (d0, d2)>], iterator_types = ["parallel", "reduction", "parallel"]} ins(%x : memref<4x8x16xf32>) outs(%y : memref<4x16xf32>) {
  ^bb0(%in: f32, %out: f32):
    %r = arith.addf %out, %in : f32
    linalg.yield %r : f32
  }
  linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d1, d2)>, affine_map<(d0, d1, d2) -> (d0, d1)>], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x : memref<4x8x16xf32>) outs(%z : memref<4x8xf32>) {
  ^bb0(%in: f32, %out: f32):
    %m = arith.mulf %in, %out : f32
    %r = arith.addf %out, %m : f32
    linalg.yield %r : f32
  }
  return
}

// An output set to one value before the sum (a fill, or a copy of a filled
// buffer) is not initialized by a kernel of its own: lane 0 writes
// value + sum. A read of the output between its fill and the sum keeps the
// fill (and the kernel adds into what it holds).
#sum = {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0)>], iterator_types = ["parallel", "reduction"]}
// CHECK-LABEL: func.func @filled
// CHECK-SAME: (%[[X:.*]]: memref<4x64xf32>, %[[OUT:.*]]: memref<4xf32>)
// CHECK: %[[ONE:.*]] = arith.constant 1.0
// CHECK-NOT: linalg.fill
// CHECK: gpu.launch
// CHECK: gpu.shuffle
// CHECK: scf.if
// CHECK-NOT: memref.load
// CHECK: arith.addf %[[ONE]], %{{.*}} : f32
// CHECK: memref.store
// CHECK: linalg.copy
func.func @filled(%x: memref<4x64xf32>, %out: memref<4xf32>) {
  %one = arith.constant 1.0 : f32
  %a = memref.alloc() : memref<4xf32>
  linalg.fill ins(%one : f32) outs(%a : memref<4xf32>)
  linalg.generic #sum ins(%x : memref<4x64xf32>) outs(%a : memref<4xf32>) {
  ^bb0(%in: f32, %acc: f32):
    %r = arith.addf %acc, %in : f32
    linalg.yield %r : f32
  }
  linalg.copy ins(%a : memref<4xf32>) outs(%out : memref<4xf32>)
  memref.dealloc %a : memref<4xf32>
  return
}

// CHECK-LABEL: func.func @copied
// CHECK: %[[ZERO:.*]] = arith.constant 0.0
// CHECK-NOT: linalg.fill
// CHECK-NOT: linalg.copy
// CHECK: gpu.launch
// CHECK: arith.addf %[[ZERO]], %{{.*}} : f32
// CHECK: linalg.copy
func.func @copied(%x: memref<4x64xf32>, %out: memref<4xf32>) {
  %zero = arith.constant 0.0 : f32
  %s = memref.alloc() : memref<4xf32>
  linalg.fill ins(%zero : f32) outs(%s : memref<4xf32>)
  %a = memref.alloc() : memref<4xf32>
  linalg.copy ins(%s : memref<4xf32>) outs(%a : memref<4xf32>)
  linalg.generic #sum ins(%x : memref<4x64xf32>) outs(%a : memref<4xf32>) {
  ^bb0(%in: f32, %acc: f32):
    %r = arith.addf %acc, %in : f32
    linalg.yield %r : f32
  }
  linalg.copy ins(%a : memref<4xf32>) outs(%out : memref<4xf32>)
  memref.dealloc %s : memref<4xf32>
  memref.dealloc %a : memref<4xf32>
  return
}

// CHECK-LABEL: func.func @read_between
// CHECK: linalg.fill
// CHECK: linalg.copy
// CHECK: gpu.launch
// CHECK: scf.if
// CHECK: %[[OLD:.*]] = memref.load
// CHECK: arith.addf %[[OLD]], %{{.*}} : f32
func.func @read_between(%x: memref<4x64xf32>, %out: memref<4xf32>) {
  %zero = arith.constant 0.0 : f32
  %a = memref.alloc() : memref<4xf32>
  linalg.fill ins(%zero : f32) outs(%a : memref<4xf32>)
  linalg.copy ins(%a : memref<4xf32>) outs(%out : memref<4xf32>)
  linalg.generic #sum ins(%x : memref<4x64xf32>) outs(%a : memref<4xf32>) {
  ^bb0(%in: f32, %acc: f32):
    %r = arith.addf %acc, %in : f32
    linalg.yield %r : f32
  }
  memref.dealloc %a : memref<4xf32>
  return
}
