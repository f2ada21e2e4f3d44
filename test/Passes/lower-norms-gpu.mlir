// RUN: modrwkv-opt %s --rwkv-lower-norms-gpu="warps-per-block=2" | FileCheck %s
// RUN: not modrwkv-opt %s --rwkv-lower-norms-gpu="warps-per-block=33" 2>&1 | FileCheck %s --check-prefix=BAD

// A layer norm: one warp per row (T items, 2 warps = 64 threads a block);
// the lanes stride the 128 channels three times (sum, sum of squared
// deviations, then the normalized values), each sum a shuffle tree.
// CHECK-LABEL: func @norms
// CHECK-SAME:    (%[[X:.*]]: tensor<?x128xf32>, %[[G:.*]]: tensor<128xf32>, %[[B:.*]]: tensor<128xf32>)
// CHECK:       %[[XB:.*]] = bufferization.to_buffer %[[X]] read_only
// CHECK:       %[[GB:.*]] = bufferization.to_buffer %[[G]] read_only
// CHECK:       %[[BB:.*]] = bufferization.to_buffer %[[B]] read_only
// CHECK:       %[[T:.*]] = tensor.dim %[[X]], %c0
// CHECK:       %[[Y:.*]] = memref.alloc(%[[T]]) : memref<?x128xf32>
// CHECK:       gpu.launch {{.*}} threads({{.*}}) in ({{.*}} = %c64
// CHECK:         scf.for %{{.*}} = %{{.*}} to %c128{{.*}} step %c32
// CHECK:           memref.load %[[XB]]
// CHECK:           arith.addf
// CHECK-COUNT-5:  gpu.shuffle  xor
// CHECK:         %[[MEAN:.*]] = arith.mulf %{{.*}}, %cst{{.*}} : f32
// CHECK:         scf.for
// CHECK:           arith.subf %{{.*}}, %[[MEAN]]
// CHECK-COUNT-5:  gpu.shuffle  xor
// CHECK:         %[[VAR:.*]] = arith.mulf
// CHECK:         %[[EPS:.*]] = arith.addf %[[VAR]], %cst{{.*}}
// CHECK:         %[[SCALE:.*]] = math.rsqrt %[[EPS]]
// CHECK:         scf.for
// CHECK:           memref.load %[[GB]]
// CHECK:           memref.load %[[BB]]
// CHECK:           memref.store %{{.*}}, %[[Y]]
// CHECK:       %[[LN:.*]] = bufferization.to_tensor %[[Y]] restrict writable
// A group norm of 2 groups: items = T * 2, a warp per (row, group) of 64
// channels starting at (item % 2) * 64.
// CHECK:       %[[ITEMS:.*]] = arith.muli %{{.*}}, %c2
// CHECK:       gpu.launch
// CHECK:         %[[GROUP:.*]] = arith.remui %{{.*}}, %c2
// CHECK:         arith.muli %[[GROUP]], %c64
// CHECK:         scf.for %{{.*}} = %{{.*}} to %c64{{.*}} step %c32
// CHECK:       %[[GN:.*]] = bufferization.to_tensor
// CHECK-NOT:   rwkv.layer_norm
// CHECK-NOT:   rwkv.group_norm
// CHECK:       return %[[LN]], %[[GN]]
func.func @norms(%x: tensor<?x128xf32>, %g: tensor<128xf32>, %b: tensor<128xf32>)
    -> (tensor<?x128xf32>, tensor<?x128xf32>) {
  %0 = rwkv.layer_norm %x, %g, %b eps = 1.0e-5 : tensor<?x128xf32>, tensor<128xf32>
  %1 = rwkv.group_norm %0, %g, %b groups = 2 eps = 6.4e-4 : tensor<?x128xf32>, tensor<128xf32>
  return %0, %1 : tensor<?x128xf32>, tensor<?x128xf32>
}

// BAD: warps-per-block must be in [1, 32]
