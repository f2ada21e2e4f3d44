// RUN: modrwkv-opt %s --rwkv-expand-blocks | FileCheck %s

// channel_mix: token shift, one lerp, key linear, relu^2, value linear.
// CHECK-LABEL: func @channel_mix
// CHECK-NOT: rwkv.channel_mix
// CHECK: %[[S:.*]], %[[LAST:.*]] = rwkv.token_shift %arg0, %arg1
// CHECK: %[[H:.*]] = rwkv.lerp %arg0, %[[S]], %arg1
// CHECK: %[[K:.*]] = rwkv.linear %[[H]], %arg2
// CHECK: %[[R:.*]] = linalg.generic
// CHECK:   arith.maximumf
// CHECK:   arith.mulf
// CHECK: %[[O:.*]] = rwkv.linear %[[R]], %arg3
// CHECK: return %[[O]], %[[LAST]]
func.func @channel_mix(%x: tensor<?x64xf32>, %c: tensor<64xf32>,
                       %k: tensor<256x64xf32>, %v: tensor<64x256xf32>)
    -> (tensor<?x64xf32>, tensor<64xf32>) {
  %f, %fs = rwkv.channel_mix %x, %c mix(%c) proj(%k, %v)
      : (tensor<?x64xf32>, tensor<64xf32>, tensor<64xf32>, tensor<256x64xf32>,
         tensor<64x256xf32>) -> (tensor<?x64xf32>, tensor<64xf32>)
  return %f, %fs : tensor<?x64xf32>, tensor<64xf32>
}

// time_mix of a later layer: six lerps, the projections, the LoRA paths,
// the value residual, one wkv7 fed with (-kk, kk*a), group norm per head.
// CHECK-LABEL: func @time_mix
// CHECK-NOT: rwkv.time_mix
// CHECK: rwkv.token_shift
// CHECK-COUNT-6: rwkv.lerp
// CHECK: math.tanh
// CHECK: math.exp
// CHECK: arith.negf
// CHECK: %[[Y:.*]], %[[ST:.*]] = rwkv.wkv7 %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %arg2
// CHECK: rwkv.group_norm %[[Y]], %{{.*}}, %{{.*}} groups = 1 eps = 6.400000e-04
// CHECK: rwkv.linear
// CHECK: return %{{.*}}, %{{.*}}, %[[ST]], %arg3
func.func @time_mix(%x: tensor<?x64xf32>, %c: tensor<64xf32>,
                    %s: tensor<1x64x64xf32>, %vf: tensor<?x64xf32>,
                    %m: tensor<64x64xf32>, %d: tensor<3x64xf32>,
                    %u: tensor<64x3xf32>)
    -> (tensor<?x64xf32>, tensor<64xf32>, tensor<1x64x64xf32>, tensor<?x64xf32>) {
  %o, %so, %st, %vo = rwkv.time_mix %x, %c, %s v_first(%vf)
      mix(%c, %c, %c, %c, %c, %c) decay(%c, %d, %u) iclr(%c, %d, %u)
      gate(%d, %u) key_scale(%c, %c, %c) proj(%m, %m, %m, %m) ln_x(%c, %c)
      v_residual(%c, %d, %u)
      : (tensor<?x64xf32>, tensor<64xf32>, tensor<1x64x64xf32>, tensor<?x64xf32>,
         tensor<64xf32>, tensor<64xf32>, tensor<64xf32>, tensor<64xf32>,
         tensor<64xf32>, tensor<64xf32>, tensor<64xf32>, tensor<3x64xf32>,
         tensor<64x3xf32>, tensor<64xf32>, tensor<3x64xf32>, tensor<64x3xf32>,
         tensor<3x64xf32>, tensor<64x3xf32>, tensor<64xf32>, tensor<64xf32>,
         tensor<64xf32>, tensor<64x64xf32>, tensor<64x64xf32>,
         tensor<64x64xf32>, tensor<64x64xf32>, tensor<64xf32>, tensor<64xf32>,
         tensor<64xf32>, tensor<3x64xf32>, tensor<64x3xf32>)
      -> (tensor<?x64xf32>, tensor<64xf32>, tensor<1x64x64xf32>, tensor<?x64xf32>)
  return %o, %so, %st, %vo : tensor<?x64xf32>, tensor<64xf32>, tensor<1x64x64xf32>, tensor<?x64xf32>
}

// Primitive ops are left alone.
// CHECK-LABEL: func @primitive
// CHECK-NEXT: rwkv.linear
// CHECK-NEXT: return
func.func @primitive(%x: tensor<?x64xf32>, %w: tensor<8x64xf32>) -> tensor<?x8xf32> {
  %o = rwkv.linear %x, %w : tensor<?x64xf32>, tensor<8x64xf32> -> tensor<?x8xf32>
  return %o : tensor<?x8xf32>
}
