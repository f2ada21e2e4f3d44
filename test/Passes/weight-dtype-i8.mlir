// RUN: modrwkv-opt %s --split-input-file --verify-diagnostics --rwkv-weight-dtype="dtype=i8 i8-min-size=2" | FileCheck %s
// RUN: not modrwkv-opt %s --split-input-file --rwkv-weight-dtype="dtype=i8 i8-min-size=0" 2>&1 | FileCheck %s --check-prefix=BAD

// A linear weight with both dims >= i8-min-size becomes int8 with a scale
// per row: rows [2.5, 127, -0.5, 1.5] (scale 1: 2.5 and 1.5 round to even,
// -0.5 to 0) and [-254, 1, 0, 0] (scale 2: 0.5 rounds to 0). The embedding
// and a linear with a dim below the size become bf16; an adapted weight
// stays f32.
// CHECK-LABEL: func @f
// CHECK: %[[T:.*]] = arith.constant dense_resource<t.bf16> : tensor<2x2xbf16>
// CHECK: rwkv.embedding %arg0, %[[T]] : tensor<?xi32>, tensor<2x2xbf16>
// CHECK: %[[Q:.*]] = arith.constant dense_resource<w.i8> : tensor<2x4xi8>
// CHECK: %[[S:.*]] = arith.constant dense_resource<w.scale> : tensor<2xf32>
// CHECK: rwkv.quantized_linear %{{.*}}, %[[Q]], %[[S]] : tensor<?x4xf32>, tensor<2x4xi8>, tensor<2xf32> -> tensor<?x2xf32>
// CHECK: rwkv.linear %{{.*}}, %{{.*}} : tensor<?x2xf32>, tensor<1x2xbf16>
// CHECK: rwkv.linear %{{.*}}, %{{.*}} adapter(
// CHECK-SAME: tensor<2x4xf32> -> tensor<?x2xf32>
// CHECK: w.i8: "0x01000000027F000281000000"
// CHECK: w.scale: "0x040000000000803F00000040"
func.func @f(%tok: tensor<?xi32>, %x: tensor<?x4xf32>) -> (tensor<?x2xf32>, tensor<?x1xf32>, tensor<?x2xf32>) {
  %t = arith.constant dense_resource<t> : tensor<2x2xf32>
  %w = arith.constant dense_resource<w> : tensor<2x4xf32>
  %s = arith.constant dense_resource<s> : tensor<1x2xf32>
  %d = arith.constant dense_resource<d> : tensor<1x2xf32>
  %e = rwkv.embedding %tok, %t : tensor<?xi32>, tensor<2x2xf32> -> tensor<?x2xf32>
  %y = rwkv.linear %x, %w : tensor<?x4xf32>, tensor<2x4xf32> -> tensor<?x2xf32>
  %z = rwkv.linear %e, %s : tensor<?x2xf32>, tensor<1x2xf32> -> tensor<?x1xf32>
  %a = rwkv.linear %x, %w adapter(%d : tensor<1x2xf32>) {adapter_variant = "bone"} : tensor<?x4xf32>, tensor<2x4xf32> -> tensor<?x2xf32>
  return %y, %z, %a : tensor<?x2xf32>, tensor<?x1xf32>, tensor<?x2xf32>
}

{-#
  dialect_resources: {
    builtin: {
      t: "0x040000000000803F0000803F0000803F0000803F",
      w: "0x04000000000020400000FE42000000BF0000C03F00007EC30000803F0000000000000000",
      s: "0x040000000000803F0000803F",
      d: "0x040000000000803F0000803F"
    }
  }
#-}

// -----

// A shared layer function: every caller passes the int8 weight and, as a
// new last argument, its scales; the argument's type follows.
// CHECK-LABEL: func private @layer(%arg0: tensor<?x4xf32>, %arg1: tensor<2x4xi8>, %arg2: tensor<2xf32>)
// CHECK: rwkv.quantized_linear %arg0, %arg1, %arg2
// CHECK-LABEL: func @g
// CHECK: %[[QA:.*]] = arith.constant dense_resource<a.i8> : tensor<2x4xi8>
// CHECK: %[[SA:.*]] = arith.constant dense_resource<a.scale> : tensor<2xf32>
// CHECK: call @layer(%arg0, %[[QA]], %[[SA]])
// CHECK: %[[QB:.*]] = arith.constant dense_resource<b.i8> : tensor<2x4xi8>
// CHECK: %[[SB:.*]] = arith.constant dense_resource<b.scale> : tensor<2xf32>
// CHECK: call @layer(%{{.*}}, %[[QB]], %[[SB]])
func.func private @layer(%x: tensor<?x4xf32>, %w: tensor<2x4xf32>) -> tensor<?x2xf32> {
  %y = rwkv.linear %x, %w : tensor<?x4xf32>, tensor<2x4xf32> -> tensor<?x2xf32>
  return %y : tensor<?x2xf32>
}
func.func @g(%x: tensor<?x4xf32>) -> tensor<?x2xf32> {
  %a = arith.constant dense_resource<a> : tensor<2x4xf32>
  %b = arith.constant dense_resource<b> : tensor<2x4xf32>
  %y = call @layer(%x, %a) : (tensor<?x4xf32>, tensor<2x4xf32>) -> tensor<?x2xf32>
  %z = call @layer(%x, %b) : (tensor<?x4xf32>, tensor<2x4xf32>) -> tensor<?x2xf32>
  return %z : tensor<?x2xf32>
}

{-#
  dialect_resources: {
    builtin: {
      a: "0x040000000000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F",
      b: "0x040000000000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F"
    }
  }
#-}

// -----

// An infinity cannot be scaled into int8.
func.func @h(%x: tensor<?x2xf32>) -> tensor<?x2xf32> {
  %w = arith.constant dense_resource<inf> : tensor<2x2xf32>
  // expected-error @+1 {{rwkv-weight-dtype: weight 'inf' holds a non-finite value; it cannot be stored as int8}}
  %y = rwkv.linear %x, %w : tensor<?x2xf32>, tensor<2x2xf32> -> tensor<?x2xf32>
  return %y : tensor<?x2xf32>
}

{-#
  dialect_resources: {
    builtin: {
      inf: "0x040000000000803F0000807F0000803F0000803F"
    }
  }
#-}

// BAD: unsupported dtype 'i8' (f32, bf16, f16, i8 with i8-min-size >= 1)
