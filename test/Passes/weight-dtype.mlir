// RUN: modrwkv-opt %s --rwkv-weight-dtype | FileCheck %s
// RUN: modrwkv-opt %s --rwkv-weight-dtype=dtype=f32 | FileCheck %s --check-prefix=F32
// RUN: modrwkv-opt %s --rwkv-weight-dtype=dtype=f16 | FileCheck %s --check-prefix=F16
// RUN: not modrwkv-opt %s --rwkv-weight-dtype=dtype=int4 2>&1 | FileCheck %s --check-prefix=BAD

// Linear and embedding weights become bf16 resources (one bf16 copy of a
// resource used twice); the round to nearest even of [1, 1.00390625
// (halfway: to even, 1), 1.01171875 (halfway: to even, up), -2] is checked
// on the blob.
// CHECK-LABEL: func @f
// CHECK: %[[T:.*]] = arith.constant dense_resource<w.bf16> : tensor<2x2xbf16>
// CHECK: rwkv.embedding %arg0, %[[T]] : tensor<?xi32>, tensor<2x2xbf16>
// CHECK: %[[W:.*]] = arith.constant dense_resource<w.bf16> : tensor<2x2xbf16>
// CHECK: rwkv.linear %{{.*}}, %[[W]] : tensor<?x2xf32>, tensor<2x2xbf16>
// An adapted weight stays f32.
// CHECK: rwkv.linear %{{.*}}, %{{.*}} adapter(
// CHECK-SAME: tensor<2x2xf32> -> tensor<?x2xf32>
// CHECK: w.bf16: "0x02000000803F803F823F00C0"
// F32-NOT: bf16
// The same in f16: [1, 1.00390625, 1.01171875] are exact (10 mantissa
// bits). The rounding itself: weight-dtype-f16.test.
// F16: %[[T:.*]] = arith.constant dense_resource<w.f16> : tensor<2x2xf16>
// F16: rwkv.embedding %arg0, %[[T]] : tensor<?xi32>, tensor<2x2xf16>
// F16: rwkv.linear %{{.*}}, %{{.*}} : tensor<?x2xf32>, tensor<2x2xf16>
// F16: rwkv.linear %{{.*}}, %{{.*}} adapter(
// F16-SAME: tensor<2x2xf32> -> tensor<?x2xf32>
// F16: w.f16: "0x02000000003C043C0C3C00C0"
// BAD: unsupported dtype 'int4'
func.func @f(%tok: tensor<?xi32>) -> tensor<?x2xf32> {
  %t = arith.constant dense_resource<w> : tensor<2x2xf32>
  %w = arith.constant dense_resource<w> : tensor<2x2xf32>
  %d = arith.constant dense_resource<d> : tensor<1x2xf32>
  %x = rwkv.embedding %tok, %t : tensor<?xi32>, tensor<2x2xf32> -> tensor<?x2xf32>
  %y = rwkv.linear %x, %w : tensor<?x2xf32>, tensor<2x2xf32> -> tensor<?x2xf32>
  %z = rwkv.linear %y, %w adapter(%d : tensor<1x2xf32>) {adapter_variant = "bone"} : tensor<?x2xf32>, tensor<2x2xf32> -> tensor<?x2xf32>
  return %z : tensor<?x2xf32>
}

{-#
  dialect_resources: {
    builtin: {
      w: "0x040000000000803F0080803F0080813F000000C0",
      d: "0x040000000000803F0000803F"
    }
  }
#-}
