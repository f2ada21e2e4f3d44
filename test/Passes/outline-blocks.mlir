// RUN: modrwkv-opt %s --split-input-file --rwkv-outline-blocks | FileCheck %s

// Three layers: layer 0's time_mix (it produces v_first) and the later
// ones' (they mix it in) differ in operands, so they get two functions; the
// three channel_mix ops share one. Other ops (the embedding, the head's
// linear) stay in the caller, and so do the weights (operands of the calls).
// CHECK-LABEL: func @three_layers
// CHECK-NOT: rwkv.time_mix
// CHECK-NOT: rwkv.channel_mix
// CHECK: %[[T0:.*]]:4 = call @rwkv_time_mix(%arg0, %arg1, %arg2, %arg1,
// CHECK: %[[C0:.*]]:2 = call @rwkv_channel_mix(%[[T0]]#0, %arg1, %arg1, %arg6, %arg7)
// CHECK: %[[T1:.*]]:4 = call @rwkv_time_mix_0(%[[C0]]#0, %arg1, %arg2, %[[T0]]#3, %arg1,
// CHECK: %[[C1:.*]]:2 = call @rwkv_channel_mix(%[[T1]]#0, %arg1, %arg1, %arg6, %arg7)
// CHECK: %[[T2:.*]]:4 = call @rwkv_time_mix_0(%[[C1]]#0, %arg1, %arg2, %[[T1]]#3, %arg1,
// CHECK: %[[C2:.*]]:2 = call @rwkv_channel_mix(%[[T2]]#0, %arg1, %arg1, %arg6, %arg7)
// CHECK: rwkv.linear %[[C2]]#0, %arg6
// A function holds its op alone, operand i on argument i (not one argument
// for a value passed twice: other callers may pass different ones); the
// arguments carry a row-major layout with a dynamic offset (state slices
// pass as views).
// CHECK: func.func private @rwkv_time_mix(%arg0: tensor<?x64xf32> {bufferization.buffer_layout = strided<[64, 1], offset: ?>},
// CHECK-SAME: %arg2: tensor<1x64x64xf32> {bufferization.buffer_layout = strided<[4096, 64, 1], offset: ?>}
// CHECK-NEXT: rwkv.time_mix %arg0, %arg1, %arg2 mix(%arg3, %arg4, %arg5, %arg6, %arg7, %arg8)
// CHECK-NEXT: return
// CHECK: func.func private @rwkv_channel_mix(
// CHECK-NEXT: rwkv.channel_mix %arg0, %arg1 mix(%arg2) proj(%arg3, %arg4)
// CHECK-NEXT: return
// CHECK: func.func private @rwkv_time_mix_0(
// CHECK-NEXT: rwkv.time_mix %arg0, %arg1, %arg2 v_first(%arg3)
// CHECK-NEXT: return
// CHECK-NOT: func.func
func.func @three_layers(%x: tensor<?x64xf32>, %c: tensor<64xf32>,
                        %s: tensor<1x64x64xf32>, %d: tensor<3x64xf32>,
                        %m: tensor<64x64xf32>, %u: tensor<64x3xf32>,
                        %k: tensor<256x64xf32>, %v: tensor<64x256xf32>)
    -> tensor<?x256xf32> {
  %o0, %so0, %st0, %vf0 = rwkv.time_mix %x, %c, %s
      mix(%c, %c, %c, %c, %c, %c) decay(%c, %d, %u) iclr(%c, %d, %u)
      gate(%d, %u) key_scale(%c, %c, %c) proj(%m, %m, %m, %m) ln_x(%c, %c)
      : (tensor<?x64xf32>, tensor<64xf32>, tensor<1x64x64xf32>,
         tensor<64xf32>, tensor<64xf32>, tensor<64xf32>, tensor<64xf32>,
         tensor<64xf32>, tensor<64xf32>, tensor<64xf32>, tensor<3x64xf32>,
         tensor<64x3xf32>, tensor<64xf32>, tensor<3x64xf32>, tensor<64x3xf32>,
         tensor<3x64xf32>, tensor<64x3xf32>, tensor<64xf32>, tensor<64xf32>,
         tensor<64xf32>, tensor<64x64xf32>, tensor<64x64xf32>,
         tensor<64x64xf32>, tensor<64x64xf32>, tensor<64xf32>, tensor<64xf32>)
      -> (tensor<?x64xf32>, tensor<64xf32>, tensor<1x64x64xf32>, tensor<?x64xf32>)
  %f0, %fs0 = rwkv.channel_mix %o0, %c mix(%c) proj(%k, %v)
      : (tensor<?x64xf32>, tensor<64xf32>, tensor<64xf32>, tensor<256x64xf32>,
         tensor<64x256xf32>) -> (tensor<?x64xf32>, tensor<64xf32>)
  %o1, %so1, %st1, %vf1 = rwkv.time_mix %f0, %c, %s v_first(%vf0)
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
  %f1, %fs1 = rwkv.channel_mix %o1, %c mix(%c) proj(%k, %v)
      : (tensor<?x64xf32>, tensor<64xf32>, tensor<64xf32>, tensor<256x64xf32>,
         tensor<64x256xf32>) -> (tensor<?x64xf32>, tensor<64xf32>)
  %o2, %so2, %st2, %vf2 = rwkv.time_mix %f1, %c, %s v_first(%vf1)
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
  %f2, %fs2 = rwkv.channel_mix %o2, %c mix(%c) proj(%k, %v)
      : (tensor<?x64xf32>, tensor<64xf32>, tensor<64xf32>, tensor<256x64xf32>,
         tensor<64x256xf32>) -> (tensor<?x64xf32>, tensor<64xf32>)
  %h = rwkv.linear %f2, %k : tensor<?x64xf32>, tensor<256x64xf32> -> tensor<?x256xf32>
  return %h : tensor<?x256xf32>
}

// -----

// A block of another shape (here a wider FFN) gets a function of its own.
// CHECK-LABEL: func @two_shapes
// CHECK: call @rwkv_channel_mix(
// CHECK: call @rwkv_channel_mix_0(
// CHECK: func.func private @rwkv_channel_mix_0(%arg0: tensor<?x64xf32>
// CHECK-SAME: %arg3: tensor<128x64xf32>
func.func @two_shapes(%x: tensor<?x64xf32>, %c: tensor<64xf32>,
                      %k: tensor<256x64xf32>, %v: tensor<64x256xf32>,
                      %k2: tensor<128x64xf32>, %v2: tensor<64x128xf32>)
    -> tensor<?x64xf32> {
  %f0, %fs0 = rwkv.channel_mix %x, %c mix(%c) proj(%k, %v)
      : (tensor<?x64xf32>, tensor<64xf32>, tensor<64xf32>, tensor<256x64xf32>,
         tensor<64x256xf32>) -> (tensor<?x64xf32>, tensor<64xf32>)
  %f1, %fs1 = rwkv.channel_mix %f0, %c mix(%c) proj(%k2, %v2)
      : (tensor<?x64xf32>, tensor<64xf32>, tensor<64xf32>, tensor<128x64xf32>,
         tensor<64x128xf32>) -> (tensor<?x64xf32>, tensor<64xf32>)
  return %f1 : tensor<?x64xf32>
}
