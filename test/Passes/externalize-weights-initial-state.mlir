// RUN: modrwkv-opt %s --split-input-file --verify-diagnostics --rwkv-externalize-weights | FileCheck %s

// A state-tuned model's learned initial state is read by the runtime only:
// its resources are laid out after the weights the code uses, and the
// module attribute stays for the artifact writer.
// CHECK: module attributes {rwkv.initial_state = [dense_resource<s0> : tensor<1x2x2xf32>, dense_resource<s1> : tensor<1x2x2xf32>]
// CHECK-SAME: rwkv.weights = [
// CHECK-SAME: {name = "w", offset = 0 : i64, value = dense_resource<w> : tensor<3xf32>}
// CHECK-SAME: {name = "s0", offset = 64 : i64, value = dense_resource<s0> : tensor<1x2x2xf32>}
// CHECK-SAME: {name = "s1", offset = 128 : i64, value = dense_resource<s1> : tensor<1x2x2xf32>}]
// CHECK-LABEL: func @f(%arg0: memref<?xi8> {rwkv.weights_buffer = array<i64: 0, 12>})
// CHECK-NOT: dense_resource
// CHECK: return
module attributes {rwkv.initial_state = [dense_resource<s0> : tensor<1x2x2xf32>, dense_resource<s1> : tensor<1x2x2xf32>]} {
  func.func @f() -> tensor<3xf32> {
    %w = arith.constant dense_resource<w> : tensor<3xf32>
    return %w : tensor<3xf32>
  }
}

{-#
  dialect_resources: {
    builtin: {
      w: "0x040000000000803F0000803F0000803F",
      s0: "0x040000000000803F0000803F0000803F0000803F",
      s1: "0x040000000000803F0000803F0000803F0000803F"
    }
  }
#-}

// -----

// Only resources belong there.
// expected-error @+1 {{'rwkv.initial_state' holds a non-resource value dense<1.000000e+00> : tensor<1x2x2xf32>}}
module attributes {rwkv.initial_state = [dense<1.0> : tensor<1x2x2xf32>]} {
}
