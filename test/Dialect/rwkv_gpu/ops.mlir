// RUN: modrwkv-opt %s | modrwkv-opt | FileCheck %s

// CHECK-LABEL: func @gemm
// CHECK: %[[N:.*]] = rwkv_gpu.blas_min_tokens 16
// CHECK: rwkv_gpu.gemm %{{.*}}, %{{.*}}, %{{.*}} : memref<?x64xf32>, memref<32x64xf32>, memref<?x32xf32>
// CHECK: rwkv_gpu.gemm %{{.*}}, %{{.*}}, %{{.*}} accumulate : memref<?x64xbf16>, memref<32x64xbf16, strided<[128, 1], offset: 64>>, memref<?x32xf32, strided<[40, 1]>>
// CHECK: %[[T1:.*]] = rwkv_gpu.gemm async [%{{.*}}] %{{.*}}, %{{.*}}, %{{.*}} :
// CHECK: gpu.wait [%[[T1]]]
func.func @gemm(%x: memref<?x64xf32>, %w: memref<32x64xf32>,
                %y: memref<?x32xf32>, %xb: memref<?x64xbf16>,
                %wb: memref<32x64xbf16, strided<[128, 1], offset: 64>>,
                %ys: memref<?x32xf32, strided<[40, 1]>>) -> index {
  %n = rwkv_gpu.blas_min_tokens 16
  rwkv_gpu.gemm %x, %w, %y : memref<?x64xf32>, memref<32x64xf32>, memref<?x32xf32>
  rwkv_gpu.gemm %xb, %wb, %ys accumulate
      : memref<?x64xbf16>, memref<32x64xbf16, strided<[128, 1], offset: 64>>,
        memref<?x32xf32, strided<[40, 1]>>
  %t0 = gpu.wait async
  %t1 = rwkv_gpu.gemm async [%t0] %x, %w, %y
      : memref<?x64xf32>, memref<32x64xf32>, memref<?x32xf32>
  gpu.wait [%t1]
  return %n : index
}
