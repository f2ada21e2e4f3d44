// RUN: modrwkv-opt %s | modrwkv-opt | FileCheck %s

// CHECK: func.func private @tower
func.func private @tower(%px: tensor<1x3x8x8xf32>) -> tensor<1x16x32xf32>

// CHECK-LABEL: func @vision
func.func @vision(%px: tensor<1x3x8x8xf32>, %wc: tensor<32x32x3xf32>,
                  %w1: tensor<128x32xf32>, %b1: tensor<128xf32>,
                  %w2: tensor<64x128xf32>, %b2: tensor<64xf32>,
                  %g: tensor<64xf32>, %b: tensor<64xf32>) -> tensor<7x64xf32> {
  // CHECK: mm.encoder_call @tower(%{{.*}}) : (tensor<1x3x8x8xf32>) -> tensor<1x16x32xf32>
  %f = mm.encoder_call @tower(%px) : (tensor<1x3x8x8xf32>) -> tensor<1x16x32xf32>
  %s = tensor.collapse_shape %f [[0, 1], [2]] : tensor<1x16x32xf32> into tensor<16x32xf32>
  // CHECK: mm.compress %{{.*}}, %{{.*}} : tensor<32x32x3xf32> kernel = 3 stride = 2 padding = 0 : tensor<16x32xf32> -> tensor<7x32xf32>
  %c = mm.compress %s, %wc : tensor<32x32x3xf32> kernel = 3 stride = 2 padding = 0 : tensor<16x32xf32> -> tensor<7x32xf32>
  // CHECK: mm.adapter {{.*}} norm {{.*}} stride = 1 padding = 0
  %y = mm.adapter %c, %w1, %b1, %w2, %b2 norm %g, %b stride = 1 padding = 0
      : (tensor<7x32xf32>, tensor<128x32xf32>, tensor<128xf32>, tensor<64x128xf32>, tensor<64xf32>, tensor<64xf32>, tensor<64xf32>) -> tensor<7x64xf32>
  return %y : tensor<7x64xf32>
}

// CHECK-LABEL: func @speech
func.func @speech(%x: tensor<52x16xf32>, %w1: tensor<32x80xf32>,
                  %b1: tensor<32xf32>, %w2: tensor<64x32xf32>,
                  %b2: tensor<64xf32>) -> tensor<10x64xf32> {
  // CHECK: mm.compress %{{.*}} kernel = 5 stride = 5 padding = 0 : tensor<52x16xf32> -> tensor<10x80xf32>
  %s = mm.compress %x kernel = 5 stride = 5 padding = 0 : tensor<52x16xf32> -> tensor<10x80xf32>
  %y = mm.adapter %s, %w1, %b1, %w2, %b2 stride = 1 padding = 0
      : (tensor<10x80xf32>, tensor<32x80xf32>, tensor<32xf32>, tensor<64x32xf32>, tensor<64xf32>) -> tensor<10x64xf32>
  return %y : tensor<10x64xf32>
}

// The fused forms: a folded window [hidden, d, k], and a conv kept apart.
// CHECK-LABEL: func @fused
func.func @fused(%x: tensor<16x32xf32>, %w3: tensor<128x32x3xf32>,
                 %wc: tensor<32x32x3xf32>, %w1: tensor<128x32xf32>,
                 %b1: tensor<128xf32>, %w2: tensor<64x128xf32>,
                 %b2: tensor<64xf32>) -> (tensor<7x64xf32>, tensor<9x64xf32>) {
  // CHECK: mm.adapter {{.*}} stride = 2 padding = 0
  %a = mm.adapter %x, %w3, %b1, %w2, %b2 stride = 2 padding = 0
      : (tensor<16x32xf32>, tensor<128x32x3xf32>, tensor<128xf32>, tensor<64x128xf32>, tensor<64xf32>) -> tensor<7x64xf32>
  // CHECK: mm.adapter {{.*}} conv {{.*}} stride = 2 padding = 2
  %b = mm.adapter %x, %w1, %b1, %w2, %b2 conv %wc stride = 2 padding = 2
      : (tensor<16x32xf32>, tensor<128x32xf32>, tensor<128xf32>, tensor<64x128xf32>, tensor<64xf32>, tensor<32x32x3xf32>) -> tensor<9x64xf32>
  return %a, %b : tensor<7x64xf32>, tensor<9x64xf32>
}

// CHECK-LABEL: func @splice
func.func @splice(%t: tensor<?xi32>, %table: tensor<300x64xf32>,
                  %f: tensor<?x64xf32>) -> tensor<?x64xf32> {
  // CHECK: mm.splice %{{.*}}, %{{.*}}, %{{.*}} placeholder = 65532
  %x = mm.splice %t, %table, %f placeholder = 65532 : tensor<?xi32>, tensor<300x64xf32>, tensor<?x64xf32> -> tensor<?x64xf32>
  return %x : tensor<?x64xf32>
}
