// RUN: modrwkv-opt %s | modrwkv-opt | FileCheck %s
// Every rwkv op parses, verifies and prints back to the same form.

// CHECK-LABEL: func @primitives
func.func @primitives(%tok: tensor<?xi32>, %table: tensor<10x128xf32>,
                      %x: tensor<?x128xf32>, %v: tensor<128xf32>,
                      %w: tensor<32x128xf32>, %s: tensor<2x64x64xf32>)
    -> (tensor<?x32xf32>, tensor<2x64x64xf32>) {
  // CHECK: rwkv.embedding %{{.*}}, %{{.*}} : tensor<?xi32>, tensor<10x128xf32> -> tensor<?x128xf32>
  %e = rwkv.embedding %tok, %table : tensor<?xi32>, tensor<10x128xf32> -> tensor<?x128xf32>
  // CHECK: rwkv.layer_norm %{{.*}}, %{{.*}}, %{{.*}} eps = 9.99999974E-6 : tensor<?x128xf32>, tensor<128xf32>
  %ln = rwkv.layer_norm %e, %v, %v eps = 1.0e-5 : tensor<?x128xf32>, tensor<128xf32>
  // CHECK: rwkv.group_norm %{{.*}}, %{{.*}}, %{{.*}} groups = 2 eps = 6.400000e-04 : tensor<?x128xf32>, tensor<128xf32>
  %gn = rwkv.group_norm %ln, %v, %v groups = 2 eps = 6.4e-4 : tensor<?x128xf32>, tensor<128xf32>
  // CHECK: %{{.*}}, %{{.*}} = rwkv.token_shift %{{.*}}, %{{.*}} : tensor<?x128xf32>, tensor<128xf32>
  %sh, %last = rwkv.token_shift %gn, %v : tensor<?x128xf32>, tensor<128xf32>
  // CHECK: rwkv.lerp %{{.*}}, %{{.*}}, %{{.*}} : tensor<?x128xf32>, tensor<128xf32>
  %lp = rwkv.lerp %gn, %sh, %last : tensor<?x128xf32>, tensor<128xf32>
  // CHECK: rwkv.wkv7 %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} : tensor<?x128xf32>, tensor<2x64x64xf32>
  %y, %s2 = rwkv.wkv7 %lp, %lp, %lp, %lp, %lp, %lp, %s : tensor<?x128xf32>, tensor<2x64x64xf32>
  // CHECK: rwkv.linear %{{.*}}, %{{.*}} : tensor<?x128xf32>, tensor<32x128xf32> -> tensor<?x32xf32>
  %o = rwkv.linear %y, %w : tensor<?x128xf32>, tensor<32x128xf32> -> tensor<?x32xf32>
  return %o, %s2 : tensor<?x32xf32>, tensor<2x64x64xf32>
}

// CHECK-LABEL: func @blocks
func.func @blocks(%x: tensor<?x64xf32>, %c: tensor<64xf32>,
                  %s: tensor<1x64x64xf32>, %m: tensor<64x64xf32>,
                  %d: tensor<3x64xf32>, %u: tensor<64x3xf32>,
                  %fk: tensor<256x64xf32>, %fv: tensor<64x256xf32>)
    -> (tensor<?x64xf32>, tensor<?x64xf32>) {
  // First layer: no v_first, no v_residual.
  // CHECK: rwkv.time_mix %{{.*}}, %{{.*}}, %{{.*}} mix(
  // CHECK-NOT: v_residual
  %o, %so, %st, %vf = rwkv.time_mix %x, %c, %s
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
  // Later layers: value residual from the first layer's v.
  // CHECK: rwkv.time_mix {{.*}} v_first(%{{.*}}) mix({{.*}} v_residual(%{{.*}}, %{{.*}}, %{{.*}})
  %o2, %so2, %st2, %vf2 = rwkv.time_mix %x, %c, %s v_first(%vf)
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
  // CHECK: rwkv.channel_mix %{{.*}}, %{{.*}} mix(%{{.*}}) proj(%{{.*}}, %{{.*}})
  %f, %fs = rwkv.channel_mix %o2, %c mix(%c) proj(%fk, %fv)
      : (tensor<?x64xf32>, tensor<64xf32>, tensor<64xf32>, tensor<256x64xf32>,
         tensor<64x256xf32>) -> (tensor<?x64xf32>, tensor<64xf32>)
  return %o, %f : tensor<?x64xf32>, tensor<?x64xf32>
}

// An int8 linear with a scale per output row.
// CHECK-LABEL: func @quantized
// CHECK: rwkv.quantized_linear %arg0, %arg1, %arg2 : tensor<?x128xf32>, tensor<32x128xi8>, tensor<32xf32> -> tensor<?x32xf32>
func.func @quantized(%x: tensor<?x128xf32>, %w: tensor<32x128xi8>, %s: tensor<32xf32>) -> tensor<?x32xf32> {
  %o = rwkv.quantized_linear %x, %w, %s : tensor<?x128xf32>, tensor<32x128xi8>, tensor<32xf32> -> tensor<?x32xf32>
  return %o : tensor<?x32xf32>
}

// Bone adapters on a linear and on block projections.
// CHECK-LABEL: func @adapters
// CHECK: rwkv.linear %arg0, %arg1 adapter(%arg2 : tensor<24x32xf32>) {adapter_variant = "bone"}
// CHECK: rwkv.linear %arg0, %arg1 adapter(%arg3 : tensor<4x32x32xf32>) {adapter_variant = "bat_in"}
// CHECK: rwkv.channel_mix {{.*}} adapters(%{{.*}}, %{{.*}}) {adapter_targets = ["key", "value"], adapter_variants = ["bone", "bat_out"]}
func.func @adapters(%x: tensor<?x128xf32>, %w: tensor<32x128xf32>,
                    %d: tensor<24x32xf32>, %b: tensor<4x32x32xf32>,
                    %c: tensor<128xf32>, %fk: tensor<256x128xf32>,
                    %fv: tensor<128x256xf32>, %dk: tensor<8x256xf32>,
                    %bv: tensor<2x64x64xf32>) -> tensor<?x32xf32> {
  %o = rwkv.linear %x, %w adapter(%d : tensor<24x32xf32>) {adapter_variant = "bone"} : tensor<?x128xf32>, tensor<32x128xf32> -> tensor<?x32xf32>
  %p = rwkv.linear %x, %w adapter(%b : tensor<4x32x32xf32>) {adapter_variant = "bat_in"} : tensor<?x128xf32>, tensor<32x128xf32> -> tensor<?x32xf32>
  %f, %fs = rwkv.channel_mix %x, %c mix(%c) proj(%fk, %fv) adapters(%dk, %bv)
      {adapter_targets = ["key", "value"], adapter_variants = ["bone", "bat_out"]}
      : (tensor<?x128xf32>, tensor<128xf32>, tensor<128xf32>, tensor<256x128xf32>,
         tensor<128x256xf32>, tensor<8x256xf32>, tensor<2x64x64xf32>) -> (tensor<?x128xf32>, tensor<128xf32>)
  return %o : tensor<?x32xf32>
}

// Batched decode: one carry row and one state per sequence.
// CHECK-LABEL: func @batched
// CHECK: rwkv.token_shift %{{.*}}, %{{.*}} : tensor<?x128xf32>, tensor<?x128xf32>
// CHECK: rwkv.wkv7 {{.*}} : tensor<?x128xf32>, tensor<?x2x64x64xf32>
// CHECK: rwkv.channel_mix {{.*}} -> (tensor<?x128xf32>, tensor<?x128xf32>)
func.func @batched(%x: tensor<?x128xf32>, %p: tensor<?x128xf32>,
                   %s: tensor<?x2x64x64xf32>, %v: tensor<128xf32>,
                   %k: tensor<256x128xf32>, %vv: tensor<128x256xf32>)
    -> (tensor<?x128xf32>, tensor<?x2x64x64xf32>, tensor<?x128xf32>) {
  %sh, %last = rwkv.token_shift %x, %p : tensor<?x128xf32>, tensor<?x128xf32>
  %y, %s2 = rwkv.wkv7 %sh, %x, %x, %x, %x, %x, %s : tensor<?x128xf32>, tensor<?x2x64x64xf32>
  %f, %fs = rwkv.channel_mix %y, %last mix(%v) proj(%k, %vv)
      : (tensor<?x128xf32>, tensor<?x128xf32>, tensor<128xf32>, tensor<256x128xf32>,
         tensor<128x256xf32>) -> (tensor<?x128xf32>, tensor<?x128xf32>)
  return %f, %s2, %fs : tensor<?x128xf32>, tensor<?x2x64x64xf32>, tensor<?x128xf32>
}
