// RUN: modrwkv-opt %s --rwkv-parallel-loops-to-gpu="block-size=128" | FileCheck %s
// RUN: not modrwkv-opt %s --rwkv-parallel-loops-to-gpu="block-size=2048" 2>&1 | FileCheck %s --check-prefix=BAD

// A 2-D nest with a dynamic bound: N = T * 64 iterations, ceil(N / 128)
// blocks (none when T = 0: the runtime skips an empty grid) of 128 threads; thread g runs iteration
// (g / 64, g % 64) when g < N; the inner sequential loop stays in it.
// CHECK-LABEL: func @nest
// CHECK:      %[[SPAN:.*]] = arith.subi %[[T:.*]], %c0
// CHECK:      %[[E0:.*]] = arith.ceildivui %[[SPAN]], %c1
// CHECK:      %[[N0:.*]] = arith.muli %c1{{.*}}, %[[E0]]
// CHECK:      %[[N:.*]] = arith.muli %[[N0]], %{{.*}}
// CHECK:      %[[GRID:.*]] = arith.ceildivui %[[N]], %c128
// CHECK-NOT:  arith.maxui
// CHECK:      gpu.launch blocks(%[[BX:.*]], %{{.*}}, %{{.*}}) in ({{.*}} = %[[GRID]], {{.*}}) threads(%[[TX:.*]], %{{.*}}, %{{.*}}) in ({{.*}} = %c128
// CHECK:        %[[ID:.*]] = arith.addi %{{.*}}, %[[TX]]
// CHECK:        %[[IN:.*]] = arith.cmpi ult, %[[ID]], %[[N]]
// CHECK:        scf.if %[[IN]]
// CHECK:          arith.remui %[[ID]]
// CHECK:          arith.divui %[[ID]]
// CHECK:          scf.for
// CHECK:            memref.store
// CHECK-NOT:  scf.parallel
func.func @nest(%a: memref<?x64xf32>, %t: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c8 = arith.constant 8 : index
  %c64 = arith.constant 64 : index
  %zero = arith.constant 0.0 : f32
  scf.parallel (%i, %j) = (%c0, %c0) to (%t, %c64) step (%c1, %c1) {
    %s = scf.for %k = %c0 to %c8 step %c1 iter_args(%acc = %zero) -> f32 {
      %v = memref.load %a[%i, %j] : memref<?x64xf32>
      %n = arith.addf %acc, %v : f32
      scf.yield %n : f32
    }
    memref.store %s, %a[%i, %j] : memref<?x64xf32>
    scf.reduce
  }
  return
}

// Loops already in a kernel are left alone.
// CHECK-LABEL: func @inside
// CHECK: gpu.launch
// CHECK: scf.parallel
func.func @inside(%a: memref<64xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c64 = arith.constant 64 : index
  gpu.launch blocks(%bx, %by, %bz) in (%x = %c1, %y = %c1, %z = %c1)
             threads(%tx, %ty, %tz) in (%u = %c1, %v = %c1, %w = %c1) {
    scf.parallel (%i) = (%c0) to (%c64) step (%c1) {
      %f = memref.load %a[%i] : memref<64xf32>
      memref.store %f, %a[%i] : memref<64xf32>
      scf.reduce
    }
    gpu.terminator
  }
  return
}
// BAD: block-size must be in [1, 1024], got 2048

// A reduction over every axis (no parallel loop) and its rank-0 init run
// as one one-thread kernel; a load whose value the host uses after it
// stays (rwkv-gpu-host-buffers reports it).
// CHECK-LABEL: func @serial
// CHECK:       gpu.launch blocks({{.*}}) in ({{.*}} = %[[ONE:.*]], {{.*}} = %[[ONE]], {{.*}} = %[[ONE]]) threads({{.*}}) in ({{.*}} = %[[ONE]], {{.*}} = %[[ONE]], {{.*}} = %[[ONE]])
// CHECK-NEXT:    memref.store %{{.*}}, %arg1[]
// CHECK-NEXT:    scf.for
// CHECK:           memref.load %arg0
// CHECK:         gpu.terminator
// CHECK:       %[[V:.*]] = memref.load %arg1[]
// CHECK-NEXT:  %[[I:.*]] = arith.fptosi %[[V]]
// CHECK-NEXT:  return %[[I]]
func.func @serial(%x: memref<8xf32>, %acc: memref<f32>) -> i32 {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c8 = arith.constant 8 : index
  %zero = arith.constant 0.0 : f32
  memref.store %zero, %acc[] : memref<f32>
  scf.for %i = %c0 to %c8 step %c1 {
    %v = memref.load %x[%i] : memref<8xf32>
    %a = memref.load %acc[] : memref<f32>
    %s = arith.addf %a, %v : f32
    memref.store %s, %acc[] : memref<f32>
  }
  %r = memref.load %acc[] : memref<f32>
  %i = arith.fptosi %r : f32 to i32
  return %i : i32
}
