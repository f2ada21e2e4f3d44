// RUN: modrwkv-opt %s --rwkv-weight-dtype | FileCheck %s
// RUN: modrwkv-opt %s --rwkv-weight-dtype=dtype=f16 | FileCheck %s --check-prefix=F16
// RUN: modrwkv-opt %s --rwkv-weight-dtype="dtype=i8 i8-min-size=2" | FileCheck %s --check-prefix=I8
// RUN: modrwkv-opt %s --rwkv-weight-dtype=dtype=f32 | FileCheck %s --check-prefix=F32

// A bf16 checkpoint's weights, which the importer keeps bf16: bf16 storage
// uses the resource as it is (no copy); f16 and int8 convert from its
// values [1, 1.0078125, -2, 0.5], exact in f16 (0x3C00 0x3C08 0xC000
// 0x3800); int8 rows get scales max|w| / 127: [126, 127] and [-127, 32]
// (31.75 rounds up). f32 storage widens them exactly.
// CHECK-LABEL: func @f
// CHECK: %[[T:.*]] = arith.constant dense_resource<w> : tensor<2x2xbf16>
// CHECK: rwkv.embedding %arg0, %[[T]] : tensor<?xi32>, tensor<2x2xbf16>
// CHECK: rwkv.linear %{{.*}}, %{{.*}} : tensor<?x2xf32>, tensor<2x2xbf16>
// CHECK-NOT: w.bf16
// CHECK: w: "0x02000000803F813F00C0003F"
// F16: %[[T:.*]] = arith.constant dense_resource<w.f16> : tensor<2x2xf16>
// F16: rwkv.embedding %arg0, %[[T]] : tensor<?xi32>, tensor<2x2xf16>
// F16: rwkv.linear %{{.*}}, %{{.*}} : tensor<?x2xf32>, tensor<2x2xf16>
// F16: w.f16: "0x02000000003C083C00C00038"
// I8: %[[T:.*]] = arith.constant dense_resource<w> : tensor<2x2xbf16>
// I8: rwkv.embedding %arg0, %[[T]] : tensor<?xi32>, tensor<2x2xbf16>
// I8: %[[Q:.*]] = arith.constant dense_resource<w.i8> : tensor<2x2xi8>
// I8: %[[S:.*]] = arith.constant dense_resource<w.scale> : tensor<2xf32>
// I8: rwkv.quantized_linear %{{.*}}, %[[Q]], %[[S]]
// I8: w.i8: "0x010000007E7F8120"
// I8: w.scale: "0x040000000804023C0402813C"
// F32: rwkv.embedding %arg0, %{{.*}} : tensor<?xi32>, tensor<2x2xf32>
// F32: rwkv.linear %{{.*}}, %{{.*}} : tensor<?x2xf32>, tensor<2x2xf32>
// F32: w.f32: "0x040000000000803F0000813F000000C00000003F"
func.func @f(%tok: tensor<?xi32>, %x: tensor<?x2xf32>) -> (tensor<?x2xf32>, tensor<?x2xf32>) {
  %t = arith.constant dense_resource<w> : tensor<2x2xbf16>
  %w = arith.constant dense_resource<w> : tensor<2x2xbf16>
  %e = rwkv.embedding %tok, %t : tensor<?xi32>, tensor<2x2xbf16> -> tensor<?x2xf32>
  %y = rwkv.linear %x, %w : tensor<?x2xf32>, tensor<2x2xbf16> -> tensor<?x2xf32>
  return %e, %y : tensor<?x2xf32>, tensor<?x2xf32>
}

{-#
  dialect_resources: {
    builtin: {
      w: "0x02000000803F813F00C0003F"
    }
  }
#-}
