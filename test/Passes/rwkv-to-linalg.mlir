// RUN: modrwkv-opt %s --rwkv-to-linalg | FileCheck %s
// RUN: modrwkv-opt %s --rwkv-to-linalg="shift-by-index=1" | FileCheck %s --check-prefix=INDEX

// CHECK-DAG: #[[ROW:.*]] = affine_map<(d0, d1) -> (d0)>
// CHECK-DAG: #[[ID2:.*]] = affine_map<(d0, d1) -> (d0, d1)>
// CHECK-DAG: #[[X:.*]] = affine_map<(d0, d1, d2) -> (d0, d2)>
// CHECK-DAG: #[[W:.*]] = affine_map<(d0, d1, d2) -> (d1, d2)>
// CHECK-DAG: #[[OUT:.*]] = affine_map<(d0, d1, d2) -> (d0, d1)>
// CHECK-DAG: #[[BIN:.*]] = affine_map<(d0, d1) -> (d1 floordiv 2, d0 mod 2, d1 mod 2)>
// CHECK-DAG: #[[WBLK:.*]] = affine_map<(d0, d1, d2) -> (d0, (d1 floordiv 2) * 2 + d2)>
// CHECK-DAG: #[[BBLK:.*]] = affine_map<(d0, d1, d2) -> (d1 floordiv 2, d2, d1 mod 2)>

// Embedding: a gather from the table indexed by the token.
// CHECK-LABEL: func @embedding
// CHECK: linalg.generic {indexing_maps = [#[[ROW]], #[[ID2]]], iterator_types = ["parallel", "parallel"]}
// CHECK:   arith.index_cast
// CHECK:   linalg.index 1
// CHECK:   tensor.extract %arg1
func.func @embedding(%t: tensor<?xi32>, %e: tensor<10x64xf32>) -> tensor<?x64xf32> {
  %y = rwkv.embedding %t, %e : tensor<?xi32>, tensor<10x64xf32> -> tensor<?x64xf32>
  return %y : tensor<?x64xf32>
}

// Linear: x W^T as a reduction over the input width.
// CHECK-LABEL: func @linear
// CHECK: linalg.fill
// CHECK: linalg.generic {indexing_maps = [#[[X]], #[[W]], #[[OUT]]], iterator_types = ["parallel", "parallel", "reduction"]}
func.func @linear(%x: tensor<?x64xf32>, %w: tensor<8x64xf32>) -> tensor<?x8xf32> {
  %o = rwkv.linear %x, %w : tensor<?x64xf32>, tensor<8x64xf32> -> tensor<?x8xf32>
  return %o : tensor<?x8xf32>
}

// An int8 linear: the product widens W with sitofp, then each output
// column is scaled by its row's scale.
// CHECK-LABEL: func @quantized_linear
// CHECK: %[[P:.*]] = linalg.generic {indexing_maps = [#[[X]], #[[W]], #[[OUT]]], iterator_types = ["parallel", "parallel", "reduction"]}
// CHECK-SAME: ins(%arg0, %arg1 : tensor<?x64xf32>, tensor<8x64xi8>)
// CHECK:   arith.sitofp %{{.*}} : i8 to f32
// CHECK: linalg.generic {{.*}} iterator_types = ["parallel", "parallel"]} ins(%[[P]], %arg2 : tensor<?x8xf32>, tensor<8xf32>)
// CHECK:   arith.mulf
func.func @quantized_linear(%x: tensor<?x64xf32>, %w: tensor<8x64xi8>, %s: tensor<8xf32>) -> tensor<?x8xf32> {
  %o = rwkv.quantized_linear %x, %w, %s : tensor<?x64xf32>, tensor<8x64xi8>, tensor<8xf32> -> tensor<?x8xf32>
  return %o : tensor<?x8xf32>
}

// Group norm: channels split into [groups, C/groups], mean and variance
// reduced over the group, normalized, merged back.
// CHECK-LABEL: func @group_norm
// CHECK: tensor.expand_shape %arg0 {{\[\[}}0], [1, 2]] output_shape [%{{.*}}, 2, 64]
// CHECK: linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "reduction"]
// CHECK: linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "reduction"]
// CHECK: linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "parallel"]
// CHECK:   math.rsqrt
// CHECK: tensor.collapse_shape
func.func @group_norm(%x: tensor<?x128xf32>, %g: tensor<128xf32>) -> tensor<?x128xf32> {
  %y = rwkv.group_norm %x, %g, %g groups = 2 eps = 6.4e-4 : tensor<?x128xf32>, tensor<128xf32>
  return %y : tensor<?x128xf32>
}

// Token shift: row 0 is the carried row, rows 1.. are x[0..T-2]; the last
// row of x is the next carry.
// CHECK-LABEL: func @token_shift
// CHECK: %[[T:.*]] = tensor.dim %arg0, %c0
// CHECK: %[[TM1:.*]] = arith.subi %[[T]], %c1
// CHECK: %[[PREV:.*]] = tensor.expand_shape %arg1
// CHECK: %[[A:.*]] = tensor.insert_slice %[[PREV]] into %{{.*}}[0, 0] [1, 64] [1, 1]
// CHECK: %[[HEAD:.*]] = tensor.extract_slice %arg0[0, 0] [%[[TM1]], 64] [1, 1]
// CHECK: %[[B:.*]] = tensor.insert_slice %[[HEAD]] into %[[A]][1, 0] [%[[TM1]], 64] [1, 1]
// CHECK: %[[LAST:.*]] = tensor.extract_slice %arg0[%[[TM1]], 0] [1, 64] [1, 1] : tensor<?x64xf32> to tensor<64xf32>
// CHECK: return %[[B]], %[[LAST]]
// shift-by-index: one generic reading row t - 1 of x, or the carried row
// at t = 0 (both loads in bounds), marked for recomputation in its readers.
// INDEX-LABEL: func @token_shift(
// INDEX:       %[[S:.*]] = linalg.generic
// INDEX-SAME:    attrs = {rwkv.recompute}
// INDEX:         %[[T:.*]] = linalg.index 0
// INDEX:         %[[C:.*]] = linalg.index 1
// INDEX:         %[[FIRST:.*]] = arith.cmpi eq, %[[T]], %c0
// INDEX:         %[[TM1:.*]] = arith.subi %[[T]], %c1
// INDEX:         %[[ROW:.*]] = arith.select %[[FIRST]], %c0{{.*}}, %[[TM1]]
// INDEX:         %[[X:.*]] = tensor.extract %arg0[%[[ROW]], %[[C]]]
// INDEX:         %[[P:.*]] = tensor.extract %arg1[%[[C]]]
// INDEX:         %[[V:.*]] = arith.select %[[FIRST]], %[[P]], %[[X]]
// INDEX:         linalg.yield %[[V]]
// INDEX:       } -> tensor<?x64xf32>
// INDEX-NEXT:  %[[LAST:.*]] = tensor.extract_slice %arg0[%{{.*}}, 0] [1, 64] [1, 1] : tensor<?x64xf32> to tensor<64xf32>
// INDEX-NEXT:  return %[[S]], %[[LAST]]
func.func @token_shift(%x: tensor<?x64xf32>, %p: tensor<64xf32>) -> (tensor<?x64xf32>, tensor<64xf32>) {
  %s, %l = rwkv.token_shift %x, %p : tensor<?x64xf32>, tensor<64xf32>
  return %s, %l : tensor<?x64xf32>, tensor<64xf32>
}

// Batched (one token per sequence, a carry row each): the shifted rows are
// the carries, and the next carries are the rows of x; no copies.
// CHECK-LABEL: func @token_shift_batched
// CHECK-NEXT: return %arg1, %arg0
func.func @token_shift_batched(%x: tensor<?x64xf32>, %p: tensor<?x64xf32>) -> (tensor<?x64xf32>, tensor<?x64xf32>) {
  %s, %l = rwkv.token_shift %x, %p : tensor<?x64xf32>, tensor<?x64xf32>
  return %s, %l : tensor<?x64xf32>, tensor<?x64xf32>
}

// The recurrence is not this pass's business.
// CHECK-LABEL: func @wkv
// CHECK: rwkv.wkv7
func.func @wkv(%x: tensor<?x64xf32>, %s: tensor<1x64x64xf32>) -> tensor<?x64xf32> {
  %y, %s2 = rwkv.wkv7 %x, %x, %x, %x, %x, %x, %s : tensor<?x64xf32>, tensor<1x64x64xf32>
  return %y : tensor<?x64xf32>
}

// Bone adapter applied at run time: the base product, then the shard sums
// S[t, k] = sum of x[t, i] with i mod r == k, accumulated through D into it.
// CHECK-LABEL: func @bone_adapter
// CHECK: %[[BASE:.*]] = linalg.generic {{.*}} ins(%arg0, %arg1
// CHECK: %[[S:.*]] = linalg.generic {{.*}} ins(%arg0 : tensor<?x8xf32>) outs(%{{.*}} : tensor<?x3xf32>)
// CHECK:   arith.remui
// CHECK:   arith.cmpi eq
// CHECK:   arith.select
// CHECK: linalg.generic {{.*}} ins(%[[S]], %arg2 : tensor<?x3xf32>, tensor<3x4xf32>) outs(%[[BASE]] : tensor<?x4xf32>)
func.func @bone_adapter(%x: tensor<?x8xf32>, %w: tensor<4x8xf32>, %d: tensor<3x4xf32>) -> tensor<?x4xf32> {
  %o = rwkv.linear %x, %w adapter(%d : tensor<3x4xf32>) {adapter_variant = "bone"} : tensor<?x8xf32>, tensor<4x8xf32> -> tensor<?x4xf32>
  return %o : tensor<?x4xf32>
}

// Bat adapter applied at run time: W' = W + B_s[n mod r, k mod r], plus
// the block products, before the usual product.
// CHECK-LABEL: func @bat_adapter
// CHECK: %[[SHIFT:.*]] = linalg.generic {indexing_maps = [#{{.*}}, #[[BIN]], #{{.*}}]
// CHECK: %[[MERGED:.*]] = linalg.generic {indexing_maps = [#[[WBLK]], #[[BBLK]], #{{.*}}], {{.*}} ins(%arg1, %arg2 : tensor<4x8xf32>, tensor<4x2x2xf32>) outs(%[[SHIFT]]
// CHECK: linalg.generic {{.*}} ins(%arg0, %[[MERGED]]
func.func @bat_adapter(%x: tensor<?x8xf32>, %w: tensor<4x8xf32>, %b: tensor<4x2x2xf32>) -> tensor<?x4xf32> {
  %o = rwkv.linear %x, %w adapter(%b : tensor<4x2x2xf32>) {adapter_variant = "bat_in"} : tensor<?x8xf32>, tensor<4x8xf32> -> tensor<?x4xf32>
  return %o : tensor<?x4xf32>
}
