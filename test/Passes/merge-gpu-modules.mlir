// RUN: modrwkv-opt %s --rwkv-merge-gpu-modules | FileCheck %s
// RUN: modrwkv-opt %s --rwkv-merge-gpu-modules="name=device" | FileCheck %s --check-prefix=NAMED

// The two outlined kernels (both named @f_kernel in their own modules) move
// into one module, renamed after their former modules; launches follow.
// CHECK-LABEL: func @f
// CHECK:       gpu.launch_func @kernels::@f_kernel blocks
// CHECK:       gpu.launch_func @kernels::@f_kernel_0 blocks
// CHECK:       gpu.module @kernels {
// CHECK:         gpu.func @f_kernel(%{{.*}}: memref<64xf32>) kernel
// CHECK:         gpu.func @f_kernel_0(%{{.*}}: memref<64xf32>) kernel
// CHECK-NOT:   gpu.module
// NAMED:       gpu.launch_func @device::@f_kernel blocks
// NAMED:       gpu.module @device {
module attributes {gpu.container_module} {
  func.func @f(%a: memref<64xf32>) {
    %c1 = arith.constant 1 : index
    gpu.launch_func @f_kernel::@f_kernel blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%a : memref<64xf32>)
    gpu.launch_func @f_kernel_0::@f_kernel blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%a : memref<64xf32>)
    return
  }
  gpu.module @f_kernel {
    gpu.func @f_kernel(%arg0: memref<64xf32>) kernel {
      gpu.return
    }
  }
  gpu.module @f_kernel_0 {
    gpu.func @f_kernel(%arg0: memref<64xf32>) kernel {
      gpu.return
    }
  }
}
