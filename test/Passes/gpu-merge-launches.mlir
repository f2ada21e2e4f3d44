// RUN: modrwkv-opt %s --split-input-file --rwkv-gpu-merge-launches | FileCheck %s
// RUN: modrwkv-opt %s --split-input-file --rwkv-gpu-merge-launches="max-parameter-bytes=100" | FileCheck %s --check-prefix=SMALL

// Two kernels that read %x and write their own buffers, 256 and 128
// threads a block: one launch of 256 threads, the first's blocks first,
// then two of the second's blocks per merged block (the last one may hold
// one: its upper half tests the block exists). Each body sees the ids it
// had. With room for one kernel's parameters only, both stay apart.
// CHECK-LABEL: func.func @independent
// CHECK-SAME:  (%[[X:.*]]: memref<1024xf32>, %[[N:.*]]: index, %[[M:.*]]: index)
// CHECK:       %[[A:.*]] = gpu.alloc () : memref<1024xf32>
// CHECK:       %[[C3:.*]] = arith.constant 3 : index
// CHECK:       %[[B:.*]] = gpu.alloc () : memref<1024xf32>
// CHECK:       %[[NB:.*]] = arith.muli %[[N]], %[[C3]]
// CHECK:       %[[END1:.*]] = arith.addi
// CHECK:       %[[C2:.*]] = arith.constant 2 : index
// CHECK:       %[[HALF:.*]] = arith.ceildivui %{{.*}}, %[[C2]]
// CHECK:       %[[END2:.*]] = arith.addi %[[END1]], %[[HALF]]
// CHECK:       %[[C1:.*]] = arith.constant 1 : index
// CHECK:       %[[C256:.*]] = arith.constant 256 : index
// CHECK:       gpu.launch blocks(%[[BX:.*]], %{{.*}}, %{{.*}}) in (%{{.*}} = %[[END2]], %{{.*}} = %[[C1]], %{{.*}} = %[[C1]]) threads(%[[TX:.*]], %{{.*}}, %{{.*}}) in (%{{.*}} = %[[C256]], %{{.*}} = %[[C1]], %{{.*}} = %[[C1]])
// CHECK:         %[[IN1:.*]] = arith.cmpi ult, %[[BX]], %[[END1]]
// CHECK:         scf.if
// CHECK:           %[[L1:.*]] = arith.subi %[[BX]]
// CHECK:           %[[Q:.*]] = arith.divui %[[L1]], %[[N]]
// CHECK:           %[[BX1:.*]] = arith.remui %[[L1]], %[[N]]
// CHECK:           %[[BY1:.*]] = arith.remui %[[Q]], %[[C3]]
// CHECK:           %[[I:.*]] = arith.addi %[[BX1]], %[[TX]]
// CHECK:           memref.load %[[X]][%[[I]]]
// CHECK:           memref.store %{{.*}}, %[[A]][%[[BY1]]]
// CHECK:         arith.cmpi uge, %[[BX]], %[[END1]]
// CHECK:         arith.cmpi ult, %[[BX]], %[[END2]]
// CHECK:         scf.if
// CHECK:           %[[L2:.*]] = arith.subi %[[BX]], %[[END1]]
// CHECK:           %[[C128:.*]] = arith.constant 128 : index
// CHECK:           %[[PAIR:.*]] = arith.muli %[[L2]], %{{.*}}
// CHECK:           %[[UPPER:.*]] = arith.divui %[[TX]], %[[C128]]
// CHECK:           %[[OWN:.*]] = arith.addi %[[PAIR]], %[[UPPER]]
// CHECK:           %[[TID:.*]] = arith.remui %[[TX]], %[[C128]]
// CHECK:           %[[EXISTS:.*]] = arith.cmpi ult, %[[OWN]], %{{.*}}
// CHECK:           scf.if %[[EXISTS]]
// CHECK:             memref.load %[[X]][%[[TID]]]
// CHECK:             memref.store %{{.*}}, %[[B]][%[[OWN]]]
// CHECK:         gpu.terminator
// CHECK-NOT:   gpu.launch
// CHECK:       return %[[A]], %[[B]]
// SMALL-LABEL: func.func @independent
// SMALL-COUNT-2: gpu.launch blocks
func.func @independent(%x: memref<1024xf32>, %n: index, %m: index) -> (memref<1024xf32>, memref<1024xf32>) {
  %c1 = arith.constant 1 : index
  %c3 = arith.constant 3 : index
  %c128 = arith.constant 128 : index
  %c256 = arith.constant 256 : index
  %a = gpu.alloc () : memref<1024xf32>
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %n, %gy = %c3, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c256, %sy = %c1, %sz = %c1) {
    %i = arith.addi %bx, %tx : index
    %v = memref.load %x[%i] : memref<1024xf32>
    memref.store %v, %a[%by] : memref<1024xf32>
    gpu.terminator
  }
  %b = gpu.alloc () : memref<1024xf32>
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %m, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c128, %sy = %c1, %sz = %c1) {
    %v = memref.load %x[%tx] : memref<1024xf32>
    memref.store %v, %b[%bx] : memref<1024xf32>
    gpu.terminator
  }
  return %a, %b : memref<1024xf32>, memref<1024xf32>
}

// -----

// b = f(a) must wait for a = g(x), but c = h(x) need not: the launch of c
// moves up beside the one of a (with its allocation), the reader of a
// follows, the deallocation of a stays after its last reader.
// CHECK-LABEL: func.func @chain
// CHECK:       gpu.alloc () : memref<64xf32>
// CHECK:       gpu.alloc () : memref<64xf32>
// CHECK:       gpu.launch
// CHECK:         memref.store %{{.*}}, %[[A:[a-z_0-9]+]]
// CHECK:         memref.store %{{.*}}, %[[C:[a-z_0-9]+]]
// CHECK:       gpu.launch
// CHECK:         memref.load %[[A]]
// CHECK:       gpu.dealloc %[[A]]
// CHECK-NOT:   gpu.launch
// CHECK:       return
func.func @chain(%x: memref<64xf32>, %b: memref<64xf32>) -> memref<64xf32> {
  %c1 = arith.constant 1 : index
  %c64 = arith.constant 64 : index
  %a = gpu.alloc () : memref<64xf32>
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c64, %sy = %c1, %sz = %c1) {
    %v = memref.load %x[%tx] : memref<64xf32>
    memref.store %v, %a[%tx] : memref<64xf32>
    gpu.terminator
  }
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c64, %sy = %c1, %sz = %c1) {
    %v = memref.load %a[%tx] : memref<64xf32>
    memref.store %v, %b[%tx] : memref<64xf32>
    gpu.terminator
  }
  gpu.dealloc %a : memref<64xf32>
  %c = gpu.alloc () : memref<64xf32>
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c64, %sy = %c1, %sz = %c1) {
    %v = memref.load %x[%tx] : memref<64xf32>
    memref.store %v, %c[%tx] : memref<64xf32>
    gpu.terminator
  }
  return %c : memref<64xf32>
}

// -----

// Left alone: a write after a read of the same buffer through a view (the
// second kernel overwrites what the first reads), a kernel with a barrier,
// and a call whose effects are unknown, which nothing crosses.
// CHECK-LABEL: func.func @kept
// CHECK:       gpu.launch
// CHECK:         memref.load %arg0
// CHECK:       gpu.launch
// CHECK:         memref.store %{{.*}}, %{{.*}}[%{{.*}}] : memref<32xf32, strided<[1], offset: 32>>
// CHECK:       call @opaque()
// CHECK:       gpu.launch
// CHECK:         gpu.barrier
// CHECK:       gpu.launch
// CHECK:         memref.store %{{.*}}, %arg2
// CHECK:       return
func.func private @opaque()
func.func @kept(%x: memref<64xf32>, %y: memref<64xf32>, %z: memref<64xf32>) {
  %c1 = arith.constant 1 : index
  %c32 = arith.constant 32 : index
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c32, %sy = %c1, %sz = %c1) {
    %v = memref.load %x[%tx] : memref<64xf32>
    memref.store %v, %y[%tx] : memref<64xf32>
    gpu.terminator
  }
  %half = memref.subview %x[32] [32] [1] : memref<64xf32> to memref<32xf32, strided<[1], offset: 32>>
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c32, %sy = %c1, %sz = %c1) {
    %v = memref.load %y[%tx] : memref<64xf32>
    memref.store %v, %half[%tx] : memref<32xf32, strided<[1], offset: 32>>
    gpu.terminator
  }
  func.call @opaque() : () -> ()
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c32, %sy = %c1, %sz = %c1) {
    gpu.barrier
    gpu.terminator
  }
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c32, %sy = %c1, %sz = %c1) {
    %v = memref.load %y[%tx] : memref<64xf32>
    memref.store %v, %z[%tx] : memref<64xf32>
    gpu.terminator
  }
  return
}

// -----

// A buffer reached through something other than views (here a cast) may
// alias any other: the kernel writing it is not merged with the one
// reading %x.
// CHECK-LABEL: func.func @opaque_root
// CHECK:       gpu.launch
// CHECK:         memref.load %arg0
// CHECK:       gpu.launch
// CHECK:         memref.store %{{.*}}, %[[CAST:[a-z_0-9]+]]
// CHECK:       return
func.func @opaque_root(%x: memref<64xf32>, %y: memref<64xf32>) {
  %c1 = arith.constant 1 : index
  %c32 = arith.constant 32 : index
  %cst = arith.constant 0.0 : f32
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c32, %sy = %c1, %sz = %c1) {
    %v = memref.load %x[%tx] : memref<64xf32>
    memref.store %v, %y[%tx] : memref<64xf32>
    gpu.terminator
  }
  %other = builtin.unrealized_conversion_cast %x : memref<64xf32> to memref<64xf32>
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c32, %sy = %c1, %sz = %c1) {
    memref.store %cst, %other[%tx] : memref<64xf32>
    gpu.terminator
  }
  return
}

// -----

// A launch marked rwkv.spread_blocks (the WKV-7 kernel: each block runs the
// whole time loop) keeps one block per merged block: its 64 threads run,
// the other 192 of the merged block idle, and it gets as many merged
// blocks as it had (no packing).
// CHECK-LABEL: func.func @spread
// CHECK:       %[[C12:.*]] = arith.constant 12 : index
// CHECK:       %[[N:.*]] = arith.muli %[[C12]], %{{.*}} : index
// CHECK:       %[[ONE:.*]] = arith.constant 1 : index
// CHECK-NEXT:  %[[M:.*]] = arith.ceildivui %{{.*}}, %[[ONE]] : index
// CHECK:       gpu.launch blocks(%[[BX:[^,]*]], {{.*}} threads(%[[TX:[^,]*]],
// CHECK:         scf.if
// CHECK:           %[[C64:.*]] = arith.constant 64 : index
// CHECK-NEXT:      %[[ACTIVE:.*]] = arith.cmpi ult, %[[TX]], %[[C64]] : index
// CHECK-NEXT:      scf.if %[[ACTIVE]]
// CHECK:             memref.store %{{.*}}, %arg1
// CHECK:         scf.if
// CHECK:           memref.store %{{.*}}, %arg2
func.func @spread(%x: memref<1024xf32>, %y: memref<1024xf32>, %z: memref<1024xf32>) {
  %c1 = arith.constant 1 : index
  %c64 = arith.constant 64 : index
  %c12 = arith.constant 12 : index
  %c256 = arith.constant 256 : index
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c12, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c64, %sy = %c1, %sz = %c1) {
    %v = memref.load %x[%tx] : memref<1024xf32>
    memref.store %v, %y[%bx] : memref<1024xf32>
    gpu.terminator
  } {rwkv.spread_blocks}
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c256, %sy = %c1, %sz = %c1) {
    %v = memref.load %x[%tx] : memref<1024xf32>
    memref.store %v, %z[%tx] : memref<1024xf32>
    gpu.terminator
  }
  return
}
