// RUN: modrwkv-opt %s --split-input-file --rwkv-weight-dtype | FileCheck %s

// A shared layer function (rwkv-outline-blocks): its weight argument is
// narrowed at every call site, and the argument's type follows.
// CHECK-LABEL: func @two_layers
// CHECK: %[[W0:.*]] = arith.constant dense_resource<w0.bf16> : tensor<2x2xbf16>
// CHECK: call @layer(%arg0, %[[W0]]) : (tensor<?x2xf32>, tensor<2x2xbf16>)
// CHECK: %[[W1:.*]] = arith.constant dense_resource<w1.bf16> : tensor<2x2xbf16>
// CHECK: call @layer(%{{.*}}, %[[W1]]) : (tensor<?x2xf32>, tensor<2x2xbf16>)
// CHECK: func.func private @layer(%arg0: tensor<?x2xf32>, %arg1: tensor<2x2xbf16>)
// CHECK-NEXT: rwkv.linear %arg0, %arg1 : tensor<?x2xf32>, tensor<2x2xbf16>
func.func @two_layers(%x: tensor<?x2xf32>) -> tensor<?x2xf32> {
  %w0 = arith.constant dense_resource<w0> : tensor<2x2xf32>
  %w1 = arith.constant dense_resource<w1> : tensor<2x2xf32>
  %y = call @layer(%x, %w0) : (tensor<?x2xf32>, tensor<2x2xf32>) -> tensor<?x2xf32>
  %z = call @layer(%y, %w1) : (tensor<?x2xf32>, tensor<2x2xf32>) -> tensor<?x2xf32>
  return %z : tensor<?x2xf32>
}
func.func private @layer(%x: tensor<?x2xf32>, %w: tensor<2x2xf32>) -> tensor<?x2xf32> {
  %y = rwkv.linear %x, %w : tensor<?x2xf32>, tensor<2x2xf32> -> tensor<?x2xf32>
  return %y : tensor<?x2xf32>
}

{-#
  dialect_resources: {
    builtin: {
      w0: "0x040000000000803F0080803F0080813F000000C0",
      w1: "0x040000000000803F0080803F0080813F000000C0"
    }
  }
#-}

// -----

// Left f32: a caller passes a computed weight (every caller must pass a
// constant), and an argument that also feeds something else than a product.
// CHECK-LABEL: func @not_all_constant
// CHECK: call @layer(%arg0, %{{.*}}) : (tensor<?x2xf32>, tensor<2x2xf32>)
// CHECK: call @layer(%{{.*}}, %arg1) : (tensor<?x2xf32>, tensor<2x2xf32>)
// CHECK: call @other_use(%{{.*}}, %{{.*}}) : (tensor<?x2xf32>, tensor<2x2xf32>)
// CHECK: func.func private @layer(%arg0: tensor<?x2xf32>, %arg1: tensor<2x2xf32>)
// CHECK: func.func private @other_use(%arg0: tensor<?x2xf32>, %arg1: tensor<2x2xf32>)
func.func @not_all_constant(%x: tensor<?x2xf32>, %computed: tensor<2x2xf32>)
    -> (tensor<?x2xf32>, tensor<2x2xf32>) {
  %w = arith.constant dense_resource<w> : tensor<2x2xf32>
  %y = call @layer(%x, %w) : (tensor<?x2xf32>, tensor<2x2xf32>) -> tensor<?x2xf32>
  %z = call @layer(%y, %computed) : (tensor<?x2xf32>, tensor<2x2xf32>) -> tensor<?x2xf32>
  %o:2 = call @other_use(%z, %w) : (tensor<?x2xf32>, tensor<2x2xf32>) -> (tensor<?x2xf32>, tensor<2x2xf32>)
  return %o#0, %o#1 : tensor<?x2xf32>, tensor<2x2xf32>
}
func.func private @layer(%x: tensor<?x2xf32>, %w: tensor<2x2xf32>) -> tensor<?x2xf32> {
  %y = rwkv.linear %x, %w : tensor<?x2xf32>, tensor<2x2xf32> -> tensor<?x2xf32>
  return %y : tensor<?x2xf32>
}
func.func private @other_use(%x: tensor<?x2xf32>, %w: tensor<2x2xf32>) -> (tensor<?x2xf32>, tensor<2x2xf32>) {
  %y = rwkv.linear %x, %w : tensor<?x2xf32>, tensor<2x2xf32> -> tensor<?x2xf32>
  return %y, %w : tensor<?x2xf32>, tensor<2x2xf32>
}

{-#
  dialect_resources: {
    builtin: {
      w: "0x040000000000803F0080803F0080813F000000C0"
    }
  }
#-}
