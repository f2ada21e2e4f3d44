// RUN: modrwkv-opt %s --split-input-file --verify-diagnostics \
// RUN:   --pass-pipeline="builtin.module(gpu.module(rwkv-gpu-kernels-to-host))" \
// RUN:   | FileCheck %s
// RUN: modrwkv-opt %s --split-input-file --verify-diagnostics \
// RUN:   --pass-pipeline="builtin.module(gpu.module(rwkv-gpu-kernels-to-host))" \
// RUN:   | FileCheck %s --check-prefix=NOGPU

// Ids, a shuffle and a barrier become calls into the emulator, erf a libm
// call, rsqrt an LLVM intrinsic (libm has no rsqrtf); memref arguments are expanded into descriptor fields. Each kernel
// gets a launch wrapper over cuLaunchKernel's parameter array and its info
// table: [waits for other threads, parameter count, parameter sizes].

// CHECK-LABEL: gpu.module @kernels
// CHECK-DAG: llvm.func @modrwkv_emu_id(i32) -> i64
// CHECK-DAG: llvm.func @modrwkv_emu_shuffle(i32, i32, i32, i32) -> i64
// CHECK-DAG: llvm.func @modrwkv_emu_barrier()
// CHECK-DAG: llvm.func @erff(f32) -> f32
// CHECK: llvm.func @scale(%{{.*}}: !llvm.ptr, %{{.*}}: !llvm.ptr, %{{.*}}: i64, %{{.*}}: i64, %{{.*}}: i64, %{{.*}}: f32)
// CHECK-SAME: gpu.kernel
// CHECK: llvm.call @modrwkv_emu_id
// CHECK: llvm.call @modrwkv_emu_shuffle
// CHECK: llvm.call @erff
// CHECK: llvm.intr.sqrt
// CHECK: llvm.call @modrwkv_emu_barrier()
// CHECK: llvm.func @plain(
// NOGPU-NOT: gpu.{{func|return|thread_id|block_id|block_dim|shuffle|barrier}}
// NOGPU-NOT: rsqrtf
// CHECK: llvm.func @modrwkv_emu_launch_scale(%[[PARAMS:.*]]: !llvm.ptr)
// CHECK: %[[SLOT:.*]] = llvm.getelementptr %[[PARAMS]][0]
// CHECK: %[[AT:.*]] = llvm.load %[[SLOT]] : !llvm.ptr -> !llvm.ptr
// CHECK: llvm.load %[[AT]] : !llvm.ptr -> !llvm.ptr
// CHECK: llvm.call @scale(
// CHECK: llvm.mlir.global external constant @modrwkv_emu_info_scale(dense<[1, 6, 8, 8, 8, 8, 8, 4]>
// CHECK: llvm.func @modrwkv_emu_launch_plain(
// CHECK: llvm.mlir.global external constant @modrwkv_emu_info_plain(dense<[0, 5, 8, 8, 8, 8, 8]>
module attributes {gpu.container_module} {
  gpu.module @kernels {
    gpu.func @scale(%x: memref<?xf32>, %s: f32) kernel {
      %tid = gpu.thread_id x
      %bid = gpu.block_id x
      %bdim = gpu.block_dim x
      %base = arith.muli %bid, %bdim : index
      %i = arith.addi %base, %tid : index
      %v = memref.load %x[%i] : memref<?xf32>
      %c1 = arith.constant 1 : i32
      %c32 = arith.constant 32 : i32
      %other, %valid = gpu.shuffle xor %v, %c1, %c32 : f32
      %t = math.erf %other : f32
      %r = math.rsqrt %t : f32
      %m = arith.mulf %r, %s : f32
      gpu.barrier
      memref.store %m, %x[%i] : memref<?xf32>
      gpu.return
    }
    gpu.func @plain(%x: memref<4xi32>) kernel {
      %tid = gpu.thread_id x
      %c7 = arith.constant 7 : i32
      memref.store %c7, %x[%tid] : memref<4xi32>
      gpu.return
    }
  }
}

// -----

module attributes {gpu.container_module} {
  gpu.module @kernels {
    // expected-error @+1 {{the CUDA emulator has no workgroup or private attributions}}
    gpu.func @shared() workgroup(%w : memref<32xf32, #gpu.address_space<workgroup>>) kernel {
      gpu.return
    }
  }
}

// -----

module attributes {gpu.container_module} {
  gpu.module @kernels {
    gpu.func @wide(%v: i64) kernel {
      %c1 = arith.constant 1 : i32
      %c32 = arith.constant 32 : i32
      // expected-error @+1 {{the CUDA emulator shuffles 32-bit values only}}
      %other, %valid = gpu.shuffle xor %v, %c1, %c32 : i64
      gpu.return
    }
  }
}

// -----

module attributes {gpu.container_module} {
  gpu.module @kernels {
    gpu.func @lane() kernel {
      // expected-error @+1 {{has no CUDA emulator lowering}}
      %l = gpu.lane_id
      gpu.return
    }
  }
}
