// RUN: modrwkv-opt %s -split-input-file -verify-diagnostics
// Shape rules the verifiers enforce.

func.func @conv_width(%x: tensor<16x32xf32>, %w: tensor<32x24x3xf32>) {
  // expected-error @+1 {{conv weight input width is 24, expected 32}}
  %c = mm.compress %x, %w : tensor<32x24x3xf32> kernel = 3 stride = 2 padding = 0 : tensor<16x32xf32> -> tensor<7x32xf32>
  return
}

// -----

func.func @conv_length(%x: tensor<16x32xf32>, %w: tensor<32x32x3xf32>) {
  // expected-error @+1 {{result length is 8, expected 7}}
  %c = mm.compress %x, %w : tensor<32x32x3xf32> kernel = 3 stride = 2 padding = 0 : tensor<16x32xf32> -> tensor<8x32xf32>
  return
}

// -----

func.func @too_short(%x: tensor<2x32xf32>, %w: tensor<32x32x3xf32>) {
  // expected-error @+1 {{sequence of 2 tokens is shorter than the window (kernel 3, padding 0)}}
  %c = mm.compress %x, %w : tensor<32x32x3xf32> kernel = 3 stride = 2 padding = 0 : tensor<2x32xf32> -> tensor<0x32xf32>
  return
}

// -----

func.func @stack_stride(%x: tensor<50x16xf32>) {
  // expected-error @+1 {{frame stacking needs stride == kernel and padding 0}}
  %c = mm.compress %x kernel = 5 stride = 4 padding = 0 : tensor<50x16xf32> -> tensor<10x80xf32>
  return
}

// -----

func.func @stack_width(%x: tensor<50x16xf32>) {
  // expected-error @+1 {{result width is 64, expected 80}}
  %c = mm.compress %x kernel = 5 stride = 5 padding = 0 : tensor<50x16xf32> -> tensor<10x64xf32>
  return
}

// -----

func.func @adapter_in_width(%x: tensor<7x32xf32>, %w1: tensor<128x48xf32>, %b1: tensor<128xf32>, %w2: tensor<64x128xf32>, %b2: tensor<64xf32>) {
  // expected-error @+1 {{w1 input width is 48, expected 32}}
  %y = mm.adapter %x, %w1, %b1, %w2, %b2 stride = 1 padding = 0 : (tensor<7x32xf32>, tensor<128x48xf32>, tensor<128xf32>, tensor<64x128xf32>, tensor<64xf32>) -> tensor<7x64xf32>
  return
}

// -----

func.func @adapter_hidden(%x: tensor<7x32xf32>, %w1: tensor<128x32xf32>, %b1: tensor<128xf32>, %w2: tensor<64x96xf32>, %b2: tensor<64xf32>) {
  // expected-error @+1 {{w2 input width is 96, expected 128}}
  %y = mm.adapter %x, %w1, %b1, %w2, %b2 stride = 1 padding = 0 : (tensor<7x32xf32>, tensor<128x32xf32>, tensor<128xf32>, tensor<64x96xf32>, tensor<64xf32>) -> tensor<7x64xf32>
  return
}

// -----

func.func @adapter_norm(%x: tensor<7x32xf32>, %w1: tensor<128x32xf32>, %b1: tensor<128xf32>, %w2: tensor<64x128xf32>, %b2: tensor<64xf32>, %g: tensor<32xf32>) {
  // expected-error @+1 {{norm weight size is 32, expected 64}}
  %y = mm.adapter %x, %w1, %b1, %w2, %b2 norm %g, %g stride = 1 padding = 0 : (tensor<7x32xf32>, tensor<128x32xf32>, tensor<128xf32>, tensor<64x128xf32>, tensor<64xf32>, tensor<32xf32>, tensor<32xf32>) -> tensor<7x64xf32>
  return
}

// -----

func.func @adapter_plain_stride(%x: tensor<7x32xf32>, %w1: tensor<128x32xf32>, %b1: tensor<128xf32>, %w2: tensor<64x128xf32>, %b2: tensor<64xf32>) {
  // expected-error @+1 {{a plain first layer needs stride 1 and padding 0}}
  %y = mm.adapter %x, %w1, %b1, %w2, %b2 stride = 2 padding = 0 : (tensor<7x32xf32>, tensor<128x32xf32>, tensor<128xf32>, tensor<64x128xf32>, tensor<64xf32>) -> tensor<7x64xf32>
  return
}

// -----

func.func @adapter_conv_width(%x: tensor<16x32xf32>, %wc: tensor<48x32x3xf32>, %w1: tensor<128x32xf32>, %b1: tensor<128xf32>, %w2: tensor<64x128xf32>, %b2: tensor<64xf32>) {
  // expected-error @+1 {{w1 input width is 32, expected 48}}
  %y = mm.adapter %x, %w1, %b1, %w2, %b2 conv %wc stride = 2 padding = 0 : (tensor<16x32xf32>, tensor<128x32xf32>, tensor<128xf32>, tensor<64x128xf32>, tensor<64xf32>, tensor<48x32x3xf32>) -> tensor<7x64xf32>
  return
}

// -----

func.func @splice_width(%t: tensor<?xi32>, %table: tensor<300x64xf32>, %f: tensor<?x32xf32>) {
  // expected-error @+1 {{feature width is 32, expected 64}}
  %x = mm.splice %t, %table, %f placeholder = 65532 : tensor<?xi32>, tensor<300x64xf32>, tensor<?x32xf32> -> tensor<?x64xf32>
  return
}

// -----

func.func private @tower(tensor<1x3x8x8xf32>) -> tensor<1x16x32xf32>

func.func @call_types(%px: tensor<1x3x4x4xf32>) {
  // expected-error @+1 {{types do not match those of @tower}}
  %f = mm.encoder_call @tower(%px) : (tensor<1x3x4x4xf32>) -> tensor<1x16x32xf32>
  return
}

// -----

func.func @call_missing(%px: tensor<1x3x4x4xf32>) {
  // expected-error @+1 {{no function @nowhere}}
  %f = mm.encoder_call @nowhere(%px) : (tensor<1x3x4x4xf32>) -> tensor<1x16x32xf32>
  return
}
