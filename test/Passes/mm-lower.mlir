// RUN: modrwkv-opt %s --mm-lower | FileCheck %s

// The window of @conv below: row t*2 + tap, channel c of the padded input.
// CHECK-DAG: #[[X:.*]] = affine_map<(d0, d1, d2, d3) -> (d0 * 2 + d3, d2)>
// CHECK-DAG: #[[W:.*]] = affine_map<(d0, d1, d2, d3) -> (d1, d2, d3)>

// The encoder call becomes a func.call (the pipeline inlines it next).
// CHECK-LABEL: func @call
// CHECK: %[[F:.*]] = call @tower(%arg0) : (tensor<1x3x8x8xf32>) -> tensor<1x16x32xf32>
// CHECK: return %[[F]]
func.func private @tower(%px: tensor<1x3x8x8xf32>) -> tensor<1x16x32xf32>
func.func @call(%px: tensor<1x3x8x8xf32>) -> tensor<1x16x32xf32> {
  %f = mm.encoder_call @tower(%px) : (tensor<1x3x8x8xf32>) -> tensor<1x16x32xf32>
  return %f : tensor<1x16x32xf32>
}

// Stacking keeps the whole frames (50 of 52), views them as [10, 5, 16] and
// transposes to [10, 16, 5]: column c*5 + j is frame j, channel c.
// CHECK-LABEL: func @stack
// CHECK: tensor.extract_slice %arg0[0, 0] [50, 16] [1, 1]
// CHECK: tensor.expand_shape %{{.*}} {{\[}}[0, 1], [2]] output_shape [10, 5, 16]
// CHECK: linalg.transpose {{.*}} permutation = [0, 2, 1]
// CHECK: tensor.collapse_shape %{{.*}} {{\[}}[0], [1, 2]] : tensor<10x16x5xf32> into tensor<10x80xf32>
func.func @stack(%x: tensor<52x16xf32>) -> tensor<10x80xf32> {
  %s = mm.compress %x kernel = 5 stride = 5 padding = 0 : tensor<52x16xf32> -> tensor<10x80xf32>
  return %s : tensor<10x80xf32>
}

// A conv compression: zero padding, then one contraction over (channel,
// tap) reading row t*stride + tap.
// CHECK-LABEL: func @conv
// CHECK: tensor.pad %arg0 low[2, 0] high[2, 0]
// CHECK: linalg.generic {indexing_maps = [#[[X]], #[[W]], {{.*}}], iterator_types = ["parallel", "parallel", "reduction", "reduction"]}
func.func @conv(%x: tensor<16x32xf32>, %w: tensor<48x32x3xf32>) -> tensor<9x48xf32> {
  %c = mm.compress %x, %w : tensor<48x32x3xf32> kernel = 3 stride = 2 padding = 2 : tensor<16x32xf32> -> tensor<9x48xf32>
  return %c : tensor<9x48xf32>
}

// Plain adapter: rwkv.linear layers, bias + relu, and y + LayerNorm(y).
// CHECK-LABEL: func @plain
// CHECK: %[[H:.*]] = rwkv.linear %arg0, %arg1 : tensor<7x32xf32>, tensor<128x32xf32> -> tensor<7x128xf32>
// CHECK: arith.maximumf
// CHECK: %[[Y:.*]] = rwkv.linear %{{.*}}, %arg3 : tensor<7x128xf32>, tensor<64x128xf32> -> tensor<7x64xf32>
// CHECK: %[[N:.*]] = rwkv.layer_norm %[[B:.*]], %arg5, %arg6 eps = 9.99999974E-6
// CHECK: arith.addf %[[B]], %[[N]] : tensor<7x64xf32>
func.func @plain(%x: tensor<7x32xf32>, %w1: tensor<128x32xf32>, %b1: tensor<128xf32>,
                 %w2: tensor<64x128xf32>, %b2: tensor<64xf32>, %g: tensor<64xf32>,
                 %b: tensor<64xf32>) -> tensor<7x64xf32> {
  %y = mm.adapter %x, %w1, %b1, %w2, %b2 norm %g, %b stride = 1 padding = 0
      : (tensor<7x32xf32>, tensor<128x32xf32>, tensor<128xf32>, tensor<64x128xf32>, tensor<64xf32>, tensor<64xf32>, tensor<64xf32>) -> tensor<7x64xf32>
  return %y : tensor<7x64xf32>
}

// A folded first layer is a window product; without norm weights there is
// no layer norm.
// CHECK-LABEL: func @folded
// CHECK: linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "reduction", "reduction"]
// CHECK-SAME: ins(%arg0, %arg1 : tensor<16x32xf32>, tensor<128x32x3xf32>)
// CHECK-NOT: rwkv.layer_norm
// CHECK: return
func.func @folded(%x: tensor<16x32xf32>, %w1: tensor<128x32x3xf32>, %b1: tensor<128xf32>,
                  %w2: tensor<64x128xf32>, %b2: tensor<64xf32>) -> tensor<7x64xf32> {
  %y = mm.adapter %x, %w1, %b1, %w2, %b2 stride = 2 padding = 0
      : (tensor<16x32xf32>, tensor<128x32x3xf32>, tensor<128xf32>, tensor<64x128xf32>, tensor<64xf32>) -> tensor<7x64xf32>
  return %y : tensor<7x64xf32>
}

// Loop fusion: per output token, the conv row of 3 input rows and its
// product with W1; the [7, 48] conv output is never built.
// CHECK-LABEL: func @loops
// CHECK: scf.for %[[T:.*]] = %{{.*}} to %{{.*}} step %{{.*}} iter_args
// CHECK:   tensor.extract_slice %arg0[%{{.*}}, 0] [3, 32] [1, 1]
// CHECK:   linalg.generic
// CHECK:   } -> tensor<1x48xf32>
// CHECK:   linalg.generic
// CHECK:   } -> tensor<1x128xf32>
// CHECK:   tensor.insert_slice %{{.*}} into %{{.*}}[%[[T]], 0] [1, 128] [1, 1]
func.func @loops(%x: tensor<16x32xf32>, %wc: tensor<48x32x3xf32>, %w1: tensor<128x48xf32>,
                 %b1: tensor<128xf32>, %w2: tensor<64x128xf32>, %b2: tensor<64xf32>) -> tensor<7x64xf32> {
  %y = mm.adapter %x, %w1, %b1, %w2, %b2 conv %wc stride = 2 padding = 0
      : (tensor<16x32xf32>, tensor<128x48xf32>, tensor<128xf32>, tensor<64x128xf32>, tensor<64xf32>, tensor<48x32x3xf32>) -> tensor<7x64xf32>
  return %y : tensor<7x64xf32>
}

// Splice, data parallel: placeholders embed row 0; row[t] counts the
// placeholders before t; each element takes feature row[t] (never past the
// last row) or the embedding.
// CHECK-LABEL: func @splice
// CHECK: %[[P:.*]] = arith.constant 65532 : i32
// CHECK: arith.select
// CHECK: %[[E:.*]] = rwkv.embedding %{{.*}}, %arg1
// CHECK: %[[R:.*]] = linalg.generic {{.*}} iterator_types = ["parallel", "reduction"]} ins(%arg0 : tensor<?xi32>)
// CHECK:   arith.cmpi ult, %{{.*}}, %{{.*}} : index
// CHECK:   arith.cmpi eq, %{{.*}}, %[[P]] : i32
// CHECK:   arith.extui
// CHECK: %[[N:.*]] = tensor.dim %arg2
// CHECK: linalg.generic {{.*}} ins(%arg0, %[[R]] : tensor<?xi32>, tensor<?xi32>) outs(%[[E]] : tensor<?x64xf32>)
// CHECK:   %[[IN:.*]] = arith.cmpi ult, %{{.*}}, %[[N]] : index
// CHECK:   %[[IS:.*]] = arith.cmpi eq, %{{.*}}, %[[P]] : i32
// CHECK:   %[[TAKE:.*]] = arith.andi %[[IS]], %[[IN]]
// CHECK:   scf.if %[[TAKE]]
// CHECK:     tensor.extract %arg2
func.func @splice(%t: tensor<?xi32>, %table: tensor<300x64xf32>,
                  %f: tensor<?x64xf32>) -> tensor<?x64xf32> {
  %x = mm.splice %t, %table, %f placeholder = 65532 : tensor<?xi32>, tensor<300x64xf32>, tensor<?x64xf32> -> tensor<?x64xf32>
  return %x : tensor<?x64xf32>
}
