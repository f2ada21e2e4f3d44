// RUN: modrwkv-opt %s --pass-pipeline="builtin.module(func.func(gpu-async-region),gpu-to-llvm,canonicalize)" | FileCheck %s

// gpu-async-region threads rwkv_gpu.gemm into the token chain like a
// launch; gpu-to-llvm turns it into a runtime call on the chain's stream,
// with the first elements (aligned pointer + offset) and the row strides
// of x [T, K], W [N, K] and y [T, N]: (stream, T, N, K, W, ldW, bf16 =
// CUDA_R_16BF (14), x, ldx, y, ldy, accumulate).
// CHECK-LABEL: llvm.func @gemm
// CHECK-SAME: (%[[XA:[^:]*]]: !llvm.ptr, %[[XP:[^:]*]]: !llvm.ptr, %[[XO:[^:]*]]: i64, %[[T:[^:]*]]: i64, %{{[^:]*}}: i64, %[[LDX:[^:]*]]: i64, %{{[^:]*}}: i64,
// CHECK-SAME:  %[[WA:[^:]*]]: !llvm.ptr, %[[WP:[^:]*]]: !llvm.ptr, %[[WO:[^:]*]]: i64, %[[N:[^:]*]]: i64, %[[K:[^:]*]]: i64, %[[LDW:[^:]*]]: i64, %{{[^:]*}}: i64,
// CHECK-SAME:  %[[YA:[^:]*]]: !llvm.ptr, %[[YP:[^:]*]]: !llvm.ptr, %[[YO:[^:]*]]: i64, %{{[^:]*}}: i64, %{{[^:]*}}: i64, %[[LDY:[^:]*]]: i64, %{{[^:]*}}: i64)
// CHECK-DAG:  %[[BF16:.*]] = llvm.mlir.constant(14 : i32)
// CHECK-DAG:  %[[ACC:.*]] = llvm.mlir.constant(1 : i32)
// CHECK:      %[[MIN:.*]] = llvm.call @modrwkv_gpu_blas_min_tokens(%{{.*}}) : (i64) -> i64
// CHECK:      %[[S:.*]] = llvm.call @mgpuStreamCreate()
// CHECK-DAG:  %[[X:.*]] = llvm.getelementptr %[[XP]][%[[XO]]] : (!llvm.ptr, i64) -> !llvm.ptr, bf16
// CHECK-DAG:  %[[W:.*]] = llvm.getelementptr %[[WP]][%[[WO]]] : (!llvm.ptr, i64) -> !llvm.ptr, bf16
// CHECK-DAG:  %[[Y:.*]] = llvm.getelementptr %[[YP]][%[[YO]]] : (!llvm.ptr, i64) -> !llvm.ptr, f32
// CHECK:      llvm.call @modrwkv_gpu_gemm(%[[S]], %[[T]], %[[N]], %[[K]], %[[W]], %[[LDW]], %[[BF16]], %[[X]], %[[LDX]], %[[Y]], %[[LDY]], %[[ACC]])
// CHECK:      llvm.call @mgpuStreamSynchronize(%[[S]])
// CHECK:      llvm.return %[[MIN]]
// CHECK: llvm.func @modrwkv_gpu_blas_min_tokens(i64) -> i64
// CHECK: llvm.func @modrwkv_gpu_gemm(!llvm.ptr, i64, i64, i64, !llvm.ptr, i64, i32, !llvm.ptr, i64, !llvm.ptr, i64, i32)
module attributes {gpu.container_module} {
  func.func @gemm(%x: memref<?x64xbf16>,
                  %w: memref<32x64xbf16, strided<[128, 1], offset: 64>>,
                  %y: memref<?x32xf32, strided<[40, 1]>>) -> index {
    %n = rwkv_gpu.blas_min_tokens 16
    rwkv_gpu.gemm %x, %w, %y accumulate
        : memref<?x64xbf16>, memref<32x64xbf16, strided<[128, 1], offset: 64>>,
          memref<?x32xf32, strided<[40, 1]>>
    return %n : index
  }
}
