// RUN: modrwkv-opt %s --mm-fuse-adapter-compression | FileCheck %s --check-prefixes=CHECK,AUTO
// RUN: modrwkv-opt %s --mm-fuse-adapter-compression=mode=fold | FileCheck %s --check-prefixes=CHECK,FOLD
// RUN: modrwkv-opt %s --mm-fuse-adapter-compression=mode=loops | FileCheck %s --check-prefixes=CHECK,LOOPS

// hidden 1, conv 2 -> 2 channels, kernel 2: folding costs 1*2*2 = 4
// multiply-adds per output token, the conv then the linear 2*2*2 + 1*2 = 10:
// auto folds. W1 = [[1, 2]], Wconv = [[[1, 2], [3, 4]], [[5, 6], [7, 8]]];
// W1 * Wconv = [[[11, 14], [17, 20]]] (checked in the blob at the end).
// CHECK-LABEL: func @cheap_fold
// AUTO: %[[W:.*]] = arith.constant dense_resource<"w1*wc"> : tensor<1x2x2xf32>
// AUTO: mm.adapter %arg0, %[[W]], %{{.*}}, %{{.*}}, %{{.*}} stride = 2 padding = 1 :
// FOLD: arith.constant dense_resource<"w1*wc"> : tensor<1x2x2xf32>
// LOOPS: mm.adapter %arg0, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} conv %{{.*}} stride = 2 padding = 1 :
// CHECK-NOT: mm.compress
func.func @cheap_fold(%x: tensor<9x2xf32>, %b1: tensor<1xf32>,
                      %w2: tensor<4x1xf32>, %b2: tensor<4xf32>) -> tensor<5x4xf32> {
  %wc = arith.constant dense_resource<wc> : tensor<2x2x2xf32>
  %w1 = arith.constant dense_resource<w1> : tensor<1x2xf32>
  %c = mm.compress %x, %wc : tensor<2x2x2xf32> kernel = 2 stride = 2 padding = 1 : tensor<9x2xf32> -> tensor<5x2xf32>
  %y = mm.adapter %c, %w1, %b1, %w2, %b2 stride = 1 padding = 0
      : (tensor<5x2xf32>, tensor<1x2xf32>, tensor<1xf32>, tensor<4x1xf32>, tensor<4xf32>) -> tensor<5x4xf32>
  return %y : tensor<5x4xf32>
}

// hidden 8, conv 2 -> 2 channels, kernel 3: folding costs 8*2*3 = 48, the
// conv then the linear 2*2*3 + 8*2 = 28: auto keeps the conv (loop fusion).
// CHECK-LABEL: func @cheap_loops
// AUTO: mm.adapter %arg0, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} conv %{{.*}} stride = 2 padding = 0 :
// FOLD: arith.constant dense_resource<"w1big*wcbig"> : tensor<8x2x3xf32>
// LOOPS: mm.adapter %arg0, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} conv %{{.*}} stride = 2 padding = 0 :
func.func @cheap_loops(%x: tensor<9x2xf32>, %b1: tensor<8xf32>,
                       %w2: tensor<4x8xf32>, %b2: tensor<4xf32>) -> tensor<4x4xf32> {
  %wc = arith.constant dense_resource<wcbig> : tensor<2x2x3xf32>
  %w1 = arith.constant dense_resource<w1big> : tensor<8x2xf32>
  %c = mm.compress %x, %wc : tensor<2x2x3xf32> kernel = 3 stride = 2 padding = 0 : tensor<9x2xf32> -> tensor<4x2xf32>
  %y = mm.adapter %c, %w1, %b1, %w2, %b2 stride = 1 padding = 0
      : (tensor<4x2xf32>, tensor<8x2xf32>, tensor<8xf32>, tensor<4x8xf32>, tensor<4xf32>) -> tensor<4x4xf32>
  return %y : tensor<4x4xf32>
}

// Weights that are not constants cannot be folded: even mode=fold keeps
// the conv.
// CHECK-LABEL: func @not_constant
// CHECK: mm.adapter %arg0, %arg2, %{{.*}} conv %arg1 stride = 2 padding = 0 :
func.func @not_constant(%x: tensor<9x2xf32>, %wc: tensor<2x2x2xf32>,
                        %w1: tensor<1x2xf32>, %b1: tensor<1xf32>,
                        %w2: tensor<4x1xf32>, %b2: tensor<4xf32>) -> tensor<4x4xf32> {
  %c = mm.compress %x, %wc : tensor<2x2x2xf32> kernel = 2 stride = 2 padding = 0 : tensor<9x2xf32> -> tensor<4x2xf32>
  %y = mm.adapter %c, %w1, %b1, %w2, %b2 stride = 1 padding = 0
      : (tensor<4x2xf32>, tensor<1x2xf32>, tensor<1xf32>, tensor<4x1xf32>, tensor<4xf32>) -> tensor<4x4xf32>
  return %y : tensor<4x4xf32>
}

// Frame stacking (K = 5) is a re-layout in every mode: W1 [32, 16*5] is
// viewed as [32, 16, 5] and the adapter reads the frames in place.
// CHECK-LABEL: func @stacking
// CHECK: %[[V:.*]] = tensor.expand_shape %arg1 {{\[}}[0], [1, 2]] output_shape [32, 16, 5] : tensor<32x80xf32> into tensor<32x16x5xf32>
// CHECK: mm.adapter %arg0, %[[V]], %arg2, %arg3, %arg4 stride = 5 padding = 0 :
func.func @stacking(%x: tensor<52x16xf32>, %w1: tensor<32x80xf32>,
                    %b1: tensor<32xf32>, %w2: tensor<64x32xf32>,
                    %b2: tensor<64xf32>) -> tensor<10x64xf32> {
  %s = mm.compress %x kernel = 5 stride = 5 padding = 0 : tensor<52x16xf32> -> tensor<10x80xf32>
  %y = mm.adapter %s, %w1, %b1, %w2, %b2 stride = 1 padding = 0
      : (tensor<10x80xf32>, tensor<32x80xf32>, tensor<32xf32>, tensor<64x32xf32>, tensor<64xf32>) -> tensor<10x64xf32>
  return %y : tensor<10x64xf32>
}

// Left alone: an adapter without a compression, and a compression whose
// output is also used elsewhere.
// CHECK-LABEL: func @untouched
// CHECK: %[[C:.*]] = mm.compress %arg0 kernel = 5
// CHECK: mm.adapter %[[C]], %arg1, %arg2, %arg3, %arg4 stride = 1 padding = 0
// CHECK: mm.adapter %arg5, %arg1, %arg2, %arg3, %arg4 stride = 1 padding = 0
func.func @untouched(%x: tensor<52x16xf32>, %w1: tensor<32x80xf32>,
                     %b1: tensor<32xf32>, %w2: tensor<64x32xf32>,
                     %b2: tensor<64xf32>, %z: tensor<10x80xf32>)
    -> (tensor<10x64xf32>, tensor<10x80xf32>, tensor<10x64xf32>) {
  %s = mm.compress %x kernel = 5 stride = 5 padding = 0 : tensor<52x16xf32> -> tensor<10x80xf32>
  %y = mm.adapter %s, %w1, %b1, %w2, %b2 stride = 1 padding = 0
      : (tensor<10x80xf32>, tensor<32x80xf32>, tensor<32xf32>, tensor<64x32xf32>, tensor<64xf32>) -> tensor<10x64xf32>
  %u = mm.adapter %z, %w1, %b1, %w2, %b2 stride = 1 padding = 0
      : (tensor<10x80xf32>, tensor<32x80xf32>, tensor<32xf32>, tensor<64x32xf32>, tensor<64xf32>) -> tensor<10x64xf32>
  return %y, %s, %u : tensor<10x64xf32>, tensor<10x80xf32>, tensor<10x64xf32>
}

// AUTO: "w1*wc": "0x040000000000304100006041000088410000A041"

{-#
  dialect_resources: {
    builtin: {
      wc: "0x040000000000803F0000004000004040000080400000A0400000C0400000E04000000041",
      w1: "0x040000000000803F00000040",
      wcbig: "0x04000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
      w1big: "0x0400000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
    }
  }
#-}
