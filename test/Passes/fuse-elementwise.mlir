// RUN: modrwkv-opt %s --split-input-file --rwkv-fuse-elementwise | FileCheck %s

#id = affine_map<(d0, d1) -> (d0, d1)>
#x = affine_map<(d0, d1, d2) -> (d0, d2)>
#w = affine_map<(d0, d1, d2) -> (d1, d2)>
#y = affine_map<(d0, d1, d2) -> (d0, d1)>

// An element-wise producer is not fused into a product (upstream's
// linalg-fuse-elementwise-ops would): the product keeps the form of
// y += x W^T.
// CHECK-LABEL: func @into_product
// CHECK: %[[S:.*]] = linalg.generic {{.*}} iterator_types = ["parallel", "parallel"]
// CHECK:   arith.mulf
// CHECK: linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "reduction"]} ins(%[[S]], %arg1
// CHECK-NOT: arith.mulf %{{.*}}, %cst
// CHECK: return
func.func @into_product(%a: tensor<17x48xf32>, %w: tensor<144x48xf32>) -> tensor<17x144xf32> {
  %c = arith.constant 0.5 : f32
  %e = tensor.empty() : tensor<17x48xf32>
  %s = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%a : tensor<17x48xf32>) outs(%e : tensor<17x48xf32>) {
  ^bb0(%in: f32, %out: f32):
    %m = arith.mulf %in, %c : f32
    linalg.yield %m : f32
  } -> tensor<17x48xf32>
  %zero = arith.constant 0.0 : f32
  %ye = tensor.empty() : tensor<17x144xf32>
  %y0 = linalg.fill ins(%zero : f32) outs(%ye : tensor<17x144xf32>) -> tensor<17x144xf32>
  %y = linalg.generic {indexing_maps = [#x, #w, #y], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%s, %w : tensor<17x48xf32>, tensor<144x48xf32>) outs(%y0 : tensor<17x144xf32>) {
  ^bb0(%in: f32, %in2: f32, %out: f32):
    %m = arith.mulf %in, %in2 : f32
    %s2 = arith.addf %out, %m : f32
    linalg.yield %s2 : f32
  } -> tensor<17x144xf32>
  return %y : tensor<17x144xf32>
}

// -----

#x = affine_map<(d0, d1, d2) -> (d0, d2)>
#w = affine_map<(d0, d1, d2) -> (d1, d2)>
#y = affine_map<(d0, d1, d2) -> (d0, d1)>

// Rows collapsed for a product stay collapsed: the reshape is not
// propagated into the product's loops (upstream gives it four).
// CHECK-LABEL: func @reshaped_rows
// CHECK: %[[X:.*]] = tensor.collapse_shape %arg0
// CHECK: linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "reduction"]} ins(%[[X]], %arg1 : tensor<17x48xf32>, tensor<144x48xf32>)
// CHECK: tensor.expand_shape
func.func @reshaped_rows(%a: tensor<1x17x48xf32>, %w: tensor<144x48xf32>) -> tensor<1x17x144xf32> {
  %x = tensor.collapse_shape %a [[0, 1], [2]] : tensor<1x17x48xf32> into tensor<17x48xf32>
  %zero = arith.constant 0.0 : f32
  %ye = tensor.empty() : tensor<17x144xf32>
  %y0 = linalg.fill ins(%zero : f32) outs(%ye : tensor<17x144xf32>) -> tensor<17x144xf32>
  %y = linalg.generic {indexing_maps = [#x, #w, #y], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w : tensor<17x48xf32>, tensor<144x48xf32>) outs(%y0 : tensor<17x144xf32>) {
  ^bb0(%in: f32, %in2: f32, %out: f32):
    %m = arith.mulf %in, %in2 : f32
    %s2 = arith.addf %out, %m : f32
    linalg.yield %s2 : f32
  } -> tensor<17x144xf32>
  %r = tensor.expand_shape %y [[0, 1], [2]] output_shape [1, 17, 144] : tensor<17x144xf32> into tensor<1x17x144xf32>
  return %r : tensor<1x17x144xf32>
}

// -----

#id = affine_map<(d0, d1) -> (d0, d1)>
#row = affine_map<(d0, d1) -> (d0)>

// Everything else fuses as upstream's pass does: an element-wise producer
// into an element-wise consumer and into a sum that is not a product.
// CHECK-LABEL: func @others
// CHECK: %[[F:.*]] = linalg.generic {{.*}} iterator_types = ["parallel", "parallel"]
// CHECK:   arith.mulf
// CHECK:   arith.addf
// CHECK: linalg.generic {{.*}} iterator_types = ["parallel", "reduction"]} ins(%arg0 : tensor<4x8xf32>)
// CHECK:   arith.mulf
// CHECK:   arith.addf
// CHECK-NOT: linalg.generic
// CHECK: return
func.func @others(%a: tensor<4x8xf32>) -> (tensor<4x8xf32>, tensor<4xf32>) {
  %e = tensor.empty() : tensor<4x8xf32>
  %sq = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%a : tensor<4x8xf32>) outs(%e : tensor<4x8xf32>) {
  ^bb0(%in: f32, %out: f32):
    %m = arith.mulf %in, %in : f32
    linalg.yield %m : f32
  } -> tensor<4x8xf32>
  %plus = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%sq : tensor<4x8xf32>) outs(%e : tensor<4x8xf32>) {
  ^bb0(%in: f32, %out: f32):
    %s = arith.addf %in, %in : f32
    linalg.yield %s : f32
  } -> tensor<4x8xf32>
  %sq2 = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%a : tensor<4x8xf32>) outs(%e : tensor<4x8xf32>) {
  ^bb0(%in: f32, %out: f32):
    %m = arith.mulf %in, %in : f32
    linalg.yield %m : f32
  } -> tensor<4x8xf32>
  %zero = arith.constant 0.0 : f32
  %re = tensor.empty() : tensor<4xf32>
  %r0 = linalg.fill ins(%zero : f32) outs(%re : tensor<4xf32>) -> tensor<4xf32>
  %sum = linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "reduction"]}
      ins(%sq2 : tensor<4x8xf32>) outs(%r0 : tensor<4xf32>) {
  ^bb0(%in: f32, %out: f32):
    %s = arith.addf %out, %in : f32
    linalg.yield %s : f32
  } -> tensor<4xf32>
  return %plus, %sum : tensor<4x8xf32>, tensor<4xf32>
}

// -----

#id = affine_map<(d0, d1) -> (d0, d1)>

// A producer marked rwkv.recompute (an indexed token shift) is fused into
// each of its two readers, not only a sole one, and goes; an unmarked one
// with two readers stays.
// CHECK-LABEL: func @recompute
// CHECK-NOT:   rwkv.recompute
// CHECK:       linalg.generic
// CHECK:         linalg.index 0
// CHECK:         arith.addf
// CHECK:       linalg.generic
// CHECK:         linalg.index 0
// CHECK:         arith.mulf
// CHECK:       return
// CHECK-LABEL: func @shared
// CHECK:       %[[P:.*]] = linalg.generic
// CHECK:       linalg.generic {{.*}} ins(%[[P]]
// CHECK:       linalg.generic {{.*}} ins(%[[P]]
func.func @recompute(%a: tensor<4x8xf32>) -> (tensor<4x8xf32>, tensor<4x8xf32>) {
  %e = tensor.empty() : tensor<4x8xf32>
  %p = linalg.generic {indexing_maps = [#id], iterator_types = ["parallel", "parallel"]}
      outs(%e : tensor<4x8xf32>) attrs = {rwkv.recompute} {
  ^bb0(%out: f32):
    %i = linalg.index 0 : index
    %j = linalg.index 1 : index
    %v = tensor.extract %a[%i, %j] : tensor<4x8xf32>
    linalg.yield %v : f32
  } -> tensor<4x8xf32>
  %s = linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%p, %a : tensor<4x8xf32>, tensor<4x8xf32>) outs(%e : tensor<4x8xf32>) {
  ^bb0(%x: f32, %y: f32, %out: f32):
    %r = arith.addf %x, %y : f32
    linalg.yield %r : f32
  } -> tensor<4x8xf32>
  %m = linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%p, %a : tensor<4x8xf32>, tensor<4x8xf32>) outs(%e : tensor<4x8xf32>) {
  ^bb0(%x: f32, %y: f32, %out: f32):
    %r = arith.mulf %x, %y : f32
    linalg.yield %r : f32
  } -> tensor<4x8xf32>
  return %s, %m : tensor<4x8xf32>, tensor<4x8xf32>
}
func.func @shared(%a: tensor<4x8xf32>) -> (tensor<4x8xf32>, tensor<4x8xf32>) {
  %c = arith.constant 0.5 : f32
  %e = tensor.empty() : tensor<4x8xf32>
  %p = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%a : tensor<4x8xf32>) outs(%e : tensor<4x8xf32>) {
  ^bb0(%in: f32, %out: f32):
    %v = arith.mulf %in, %c : f32
    linalg.yield %v : f32
  } -> tensor<4x8xf32>
  %s = linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%p, %a : tensor<4x8xf32>, tensor<4x8xf32>) outs(%e : tensor<4x8xf32>) {
  ^bb0(%x: f32, %y: f32, %out: f32):
    %r = arith.addf %x, %y : f32
    linalg.yield %r : f32
  } -> tensor<4x8xf32>
  %m = linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%p, %a : tensor<4x8xf32>, tensor<4x8xf32>) outs(%e : tensor<4x8xf32>) {
  ^bb0(%x: f32, %y: f32, %out: f32):
    %r = arith.mulf %x, %y : f32
    linalg.yield %r : f32
  } -> tensor<4x8xf32>
  return %s, %m : tensor<4x8xf32>, tensor<4x8xf32>
}
