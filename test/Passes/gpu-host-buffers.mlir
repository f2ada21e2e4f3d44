// RUN: modrwkv-opt %s --split-input-file --verify-diagnostics --rwkv-gpu-host-buffers | FileCheck %s

// Host allocations and deallocations become device ones; the kernel's own
// buffers and host scratch that no kernel sees are left alone.
// CHECK-LABEL: func @scratch
// CHECK:       %[[B:.*]] = gpu.alloc{{ +}}(%arg1) : memref<?xf32>
// CHECK:       gpu.launch
// CHECK:         memref.alloca() : memref<4xf32>
// CHECK:       gpu.dealloc{{ +}}%[[B]] : memref<?xf32>
// CHECK:       memref.alloca() : memref<2xindex>
// CHECK-NOT:   memref.alloc(
// CHECK-NOT:   memref.dealloc
func.func @scratch(%a: memref<64xf32>, %n: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %b = memref.alloc(%n) : memref<?xf32>
  gpu.launch blocks(%bx, %by, %bz) in (%x = %c1, %y = %c1, %z = %c1)
             threads(%tx, %ty, %tz) in (%u = %c1, %v = %c1, %w = %c1) {
    %local = memref.alloca() : memref<4xf32>
    %f = memref.load %a[%tx] : memref<64xf32>
    memref.store %f, %local[%c0] : memref<4xf32>
    memref.store %f, %b[%tx] : memref<?xf32>
    gpu.terminator
  }
  memref.dealloc %b : memref<?xf32>
  %host = memref.alloca() : memref<2xindex>
  memref.store %n, %host[%c0] : memref<2xindex>
  return
}

// -----

// A host read of an argument (device memory at run time) is refused.
func.func @host_read(%a: memref<64xf32>) -> f32 {
  %c0 = arith.constant 0 : index
  // expected-error @below {{host code accesses a device buffer; every loop nest must run in a gpu.launch}}
  %f = memref.load %a[%c0] : memref<64xf32>
  return %f : f32
}

// -----

// So is a host copy out of a view of a device allocation.
func.func @host_copy(%a: memref<64xf32>) {
  %b = memref.alloc() : memref<128xf32>
  %v = memref.subview %b[0] [64] [1] : memref<128xf32> to memref<64xf32, strided<[1]>>
  // expected-error @below {{host code accesses a device buffer}}
  memref.copy %v, %a : memref<64xf32, strided<[1]>> to memref<64xf32>
  return
}

// -----

// A kernel must not read a host global (a constant left in the IR): on the
// GPU its address is a host one.
memref.global "private" constant @table : memref<4xf32> = dense<[1.0, 2.0, 3.0, 4.0]>
func.func @kernel_reads_global(%out: memref<4xf32>) {
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %g = memref.get_global @table : memref<4xf32>
  // expected-error @below {{a kernel reads the host global @table, which a GPU cannot}}
  gpu.launch blocks(%bx, %by, %bz) in (%x = %c1, %y = %c1, %z = %c1)
             threads(%tx, %ty, %tz) in (%u = %c4, %v = %c1, %w = %c1) {
    %f = memref.load %g[%tx] : memref<4xf32>
    memref.store %f, %out[%tx] : memref<4xf32>
    gpu.terminator
  }
  return
}
