// RUN: modrwkv-opt %s -split-input-file -verify-diagnostics
// Shape rules the verifiers enforce.

func.func @state_not_heads_x_64(%x: tensor<?x128xf32>, %s: tensor<2x32x64xf32>) {
  // expected-error @+1 {{state must be [H, 64, 64]}}
  %y, %s2 = rwkv.wkv7 %x, %x, %x, %x, %x, %x, %s : tensor<?x128xf32>, tensor<2x32x64xf32>
  return
}

// -----

func.func @state_wrong_head_count(%x: tensor<?x128xf32>, %s: tensor<3x64x64xf32>) {
  // expected-error @+1 {{state has size 3 in dimension 0, expected 2}}
  %y, %s2 = rwkv.wkv7 %x, %x, %x, %x, %x, %x, %s : tensor<?x128xf32>, tensor<3x64x64xf32>
  return
}

// -----

func.func @width_not_multiple_of_64(%x: tensor<?x100xf32>, %s: tensor<1x64x64xf32>) {
  // expected-error @+1 {{channel count 100 is not a multiple of the head size 64}}
  %y, %s2 = rwkv.wkv7 %x, %x, %x, %x, %x, %x, %s : tensor<?x100xf32>, tensor<1x64x64xf32>
  return
}

// -----

func.func @linear_width_mismatch(%x: tensor<?x128xf32>, %w: tensor<32x64xf32>) {
  // expected-error @+1 {{weight has size 64 in dimension 1, expected 128}}
  %o = rwkv.linear %x, %w : tensor<?x128xf32>, tensor<32x64xf32> -> tensor<?x32xf32>
  return
}

// -----

func.func @linear_result_mismatch(%x: tensor<4x128xf32>, %w: tensor<32x128xf32>) {
  // expected-error @+1 {{result has size 5 in dimension 0, expected 4}}
  %o = rwkv.linear %x, %w : tensor<4x128xf32>, tensor<32x128xf32> -> tensor<5x32xf32>
  return
}

// -----

func.func @quantized_linear_scale(%x: tensor<?x128xf32>, %w: tensor<32x128xi8>, %s: tensor<16xf32>) {
  // expected-error @+1 {{scale has size 16 in dimension 0, expected 32}}
  %o = rwkv.quantized_linear %x, %w, %s : tensor<?x128xf32>, tensor<32x128xi8>, tensor<16xf32> -> tensor<?x32xf32>
  return
}

// -----

func.func @quantized_linear_width(%x: tensor<?x128xf32>, %w: tensor<32x64xi8>, %s: tensor<32xf32>) {
  // expected-error @+1 {{weight has size 64 in dimension 1, expected 128}}
  %o = rwkv.quantized_linear %x, %w, %s : tensor<?x128xf32>, tensor<32x64xi8>, tensor<32xf32> -> tensor<?x32xf32>
  return
}

// -----

func.func @layer_norm_gamma(%x: tensor<?x128xf32>, %g: tensor<64xf32>) {
  // expected-error @+1 {{gamma has size 64 in dimension 0, expected 128}}
  %y = rwkv.layer_norm %x, %g, %g eps = 1.0e-5 : tensor<?x128xf32>, tensor<64xf32>
  return
}

// -----

func.func @group_norm_groups(%x: tensor<?x128xf32>, %g: tensor<128xf32>) {
  // expected-error @+1 {{channel count 128 is not divisible by groups = 3}}
  %y = rwkv.group_norm %x, %g, %g groups = 3 eps = 1.0e-5 : tensor<?x128xf32>, tensor<128xf32>
  return
}

// -----

func.func @token_shift_prev(%x: tensor<?x128xf32>, %p: tensor<64xf32>) {
  // expected-error @+1 {{prev has size 64 in dimension 0, expected 128}}
  %s, %l = rwkv.token_shift %x, %p : tensor<?x128xf32>, tensor<64xf32>
  return
}

// -----

func.func @lerp_mu(%x: tensor<?x128xf32>, %mu: tensor<64xf32>) {
  // expected-error @+1 {{mu has size 64 in dimension 0, expected 128}}
  %y = rwkv.lerp %x, %x, %mu : tensor<?x128xf32>, tensor<64xf32>
  return
}

// -----

func.func @embedding_result(%t: tensor<?xi32>, %e: tensor<10x128xf32>) {
  // expected-error @+1 {{result has size 64 in dimension 1, expected 128}}
  %y = rwkv.embedding %t, %e : tensor<?xi32>, tensor<10x128xf32> -> tensor<?x64xf32>
  return
}

// -----

func.func @channel_mix_value(%x: tensor<?x64xf32>, %c: tensor<64xf32>,
                             %k: tensor<256x64xf32>, %v: tensor<64x128xf32>) {
  // expected-error @+1 {{value has size 128 in dimension 1, expected 256}}
  %f, %fs = rwkv.channel_mix %x, %c mix(%c) proj(%k, %v)
      : (tensor<?x64xf32>, tensor<64xf32>, tensor<64xf32>, tensor<256x64xf32>,
         tensor<64x128xf32>) -> (tensor<?x64xf32>, tensor<64xf32>)
  return
}

// -----

func.func @time_mix_lora_rank(%x: tensor<?x64xf32>, %c: tensor<64xf32>,
                              %s: tensor<1x64x64xf32>, %m: tensor<64x64xf32>,
                              %d: tensor<3x64xf32>, %u: tensor<64x4xf32>) {
  // expected-error @+1 {{w2 has size 4 in dimension 1, expected 3}}
  %o, %so, %st, %vf = rwkv.time_mix %x, %c, %s
      mix(%c, %c, %c, %c, %c, %c) decay(%c, %d, %u) iclr(%c, %d, %u)
      gate(%d, %u) key_scale(%c, %c, %c) proj(%m, %m, %m, %m) ln_x(%c, %c)
      : (tensor<?x64xf32>, tensor<64xf32>, tensor<1x64x64xf32>,
         tensor<64xf32>, tensor<64xf32>, tensor<64xf32>, tensor<64xf32>,
         tensor<64xf32>, tensor<64xf32>, tensor<64xf32>, tensor<3x64xf32>,
         tensor<64x4xf32>, tensor<64xf32>, tensor<3x64xf32>, tensor<64x4xf32>,
         tensor<3x64xf32>, tensor<64x4xf32>, tensor<64xf32>, tensor<64xf32>,
         tensor<64xf32>, tensor<64x64xf32>, tensor<64x64xf32>,
         tensor<64x64xf32>, tensor<64x64xf32>, tensor<64xf32>, tensor<64xf32>)
      -> (tensor<?x64xf32>, tensor<64xf32>, tensor<1x64x64xf32>, tensor<?x64xf32>)
  return
}

// -----

func.func @time_mix_residual_without_first(%x: tensor<?x64xf32>, %c: tensor<64xf32>,
                                           %s: tensor<1x64x64xf32>, %m: tensor<64x64xf32>,
                                           %d: tensor<3x64xf32>, %u: tensor<64x3xf32>) {
  // expected-error @+1 {{v_residual needs a v_first operand}}
  %o, %so, %st, %vf = rwkv.time_mix %x, %c, %s
      mix(%c, %c, %c, %c, %c, %c) decay(%c, %d, %u) iclr(%c, %d, %u)
      gate(%d, %u) key_scale(%c, %c, %c) proj(%m, %m, %m, %m) ln_x(%c, %c)
      v_residual(%c, %d, %u)
      : (tensor<?x64xf32>, tensor<64xf32>, tensor<1x64x64xf32>,
         tensor<64xf32>, tensor<64xf32>, tensor<64xf32>, tensor<64xf32>,
         tensor<64xf32>, tensor<64xf32>, tensor<64xf32>, tensor<3x64xf32>,
         tensor<64x3xf32>, tensor<64xf32>, tensor<3x64xf32>, tensor<64x3xf32>,
         tensor<3x64xf32>, tensor<64x3xf32>, tensor<64xf32>, tensor<64xf32>,
         tensor<64xf32>, tensor<64x64xf32>, tensor<64x64xf32>,
         tensor<64x64xf32>, tensor<64x64xf32>, tensor<64xf32>, tensor<64xf32>,
         tensor<64xf32>, tensor<3x64xf32>, tensor<64x3xf32>)
      -> (tensor<?x64xf32>, tensor<64xf32>, tensor<1x64x64xf32>, tensor<?x64xf32>)
  return
}

// -----

func.func @wkv7_mismatched_operands(%x: tensor<?x128xf32>, %z: tensor<?x64xf32>, %s: tensor<2x64x64xf32>) {
  // expected-error @+1 {{failed to verify that all of {r, w, k, v, a, b, y} have same type}}
  %y, %s2 = "rwkv.wkv7"(%x, %z, %x, %x, %x, %x, %s) : (tensor<?x128xf32>, tensor<?x64xf32>, tensor<?x128xf32>, tensor<?x128xf32>, tensor<?x128xf32>, tensor<?x128xf32>, tensor<2x64x64xf32>) -> (tensor<?x128xf32>, tensor<2x64x64xf32>)
  return
}

// -----

func.func @bone_wrong_out(%x: tensor<?x128xf32>, %w: tensor<32x128xf32>, %d: tensor<8x16xf32>) {
  // expected-error @+1 {{weight adapter (bone) has type 'tensor<8x16xf32>', which does not fit the weight 'tensor<32x128xf32>'}}
  %o = rwkv.linear %x, %w adapter(%d : tensor<8x16xf32>) {adapter_variant = "bone"} : tensor<?x128xf32>, tensor<32x128xf32> -> tensor<?x32xf32>
  return
}

// -----

func.func @bat_not_divisible(%x: tensor<?x128xf32>, %w: tensor<32x128xf32>, %b: tensor<2x48x48xf32>) {
  // expected-error @+1 {{is not divisible into 48 x 48 blocks}}
  %o = rwkv.linear %x, %w adapter(%b : tensor<2x48x48xf32>) {adapter_variant = "bat_in"} : tensor<?x128xf32>, tensor<32x128xf32> -> tensor<?x32xf32>
  return
}

// -----

func.func @bat_block_count(%x: tensor<?x128xf32>, %w: tensor<32x128xf32>, %b: tensor<4x32x32xf32>) {
  // bat_out indexes B by output block: 32 / 32 = 1 block, not 4.
  // expected-error @+1 {{does not fit the weight}}
  %o = rwkv.linear %x, %w adapter(%b : tensor<4x32x32xf32>) {adapter_variant = "bat_out"} : tensor<?x128xf32>, tensor<32x128xf32> -> tensor<?x32xf32>
  return
}

// -----

func.func @variant_unknown(%x: tensor<?x128xf32>, %w: tensor<32x128xf32>, %d: tensor<8x32xf32>) {
  // expected-error @+1 {{one of bone, bat_in, bat_out}}
  %o = rwkv.linear %x, %w adapter(%d : tensor<8x32xf32>) {adapter_variant = "lora"} : tensor<?x128xf32>, tensor<32x128xf32> -> tensor<?x32xf32>
  return
}

// -----

func.func @adapter_target_unknown(%x: tensor<?x64xf32>, %c: tensor<64xf32>,
                                  %k: tensor<256x64xf32>, %v: tensor<64x256xf32>, %d: tensor<8x256xf32>) {
  // expected-error @+1 {{unknown adapter target 'receptance'}}
  %f, %fs = rwkv.channel_mix %x, %c mix(%c) proj(%k, %v) adapters(%d)
      {adapter_targets = ["receptance"], adapter_variants = ["bone"]}
      : (tensor<?x64xf32>, tensor<64xf32>, tensor<64xf32>, tensor<256x64xf32>,
         tensor<64x256xf32>, tensor<8x256xf32>) -> (tensor<?x64xf32>, tensor<64xf32>)
  return
}

// -----

func.func @adapter_lists_mismatch(%x: tensor<?x64xf32>, %c: tensor<64xf32>,
                                  %k: tensor<256x64xf32>, %v: tensor<64x256xf32>, %d: tensor<8x256xf32>) {
  // expected-error @+1 {{needs one adapter_targets and one adapter_variants entry per adapter}}
  %f, %fs = rwkv.channel_mix %x, %c mix(%c) proj(%k, %v) adapters(%d)
      {adapter_targets = ["key", "value"], adapter_variants = ["bone"]}
      : (tensor<?x64xf32>, tensor<64xf32>, tensor<64xf32>, tensor<256x64xf32>,
         tensor<64x256xf32>, tensor<8x256xf32>) -> (tensor<?x64xf32>, tensor<64xf32>)
  return
}

// -----

// Batched decode: T sequences of one token each need T carries and T states.
func.func @batched_state_rows(%x: tensor<4x128xf32>, %s: tensor<3x2x64x64xf32>) {
  // expected-error @+1 {{state has size 3 in dimension 0, expected 4}}
  %y, %s2 = rwkv.wkv7 %x, %x, %x, %x, %x, %x, %s : tensor<4x128xf32>, tensor<3x2x64x64xf32>
  return
}

// -----

func.func @batched_state_heads(%x: tensor<?x128xf32>, %s: tensor<?x3x64x64xf32>) {
  // expected-error @+1 {{state has size 3 in dimension 1, expected 2}}
  %y, %s2 = rwkv.wkv7 %x, %x, %x, %x, %x, %x, %s : tensor<?x128xf32>, tensor<?x3x64x64xf32>
  return
}

// -----

func.func @batched_shift_rows(%x: tensor<4x128xf32>, %p: tensor<2x128xf32>) {
  // expected-error @+1 {{prev has size 2 in dimension 0, expected 4}}
  %s, %l = rwkv.token_shift %x, %p : tensor<4x128xf32>, tensor<2x128xf32>
  return
}

// -----

// The shift carry and the state are both per sequence, or neither.
func.func @batched_mixed_carries(%x: tensor<?x64xf32>, %c: tensor<64xf32>,
                                 %p: tensor<?x64xf32>, %s: tensor<1x64x64xf32>,
                                 %m: tensor<64x64xf32>, %d: tensor<3x64xf32>,
                                 %u: tensor<64x3xf32>) {
  // expected-error @+1 {{state must be [T, H, 64, 64]: carried values are per sequence (batched) or not at all}}
  %o, %so, %st, %vf = rwkv.time_mix %x, %p, %s
      mix(%c, %c, %c, %c, %c, %c) decay(%c, %d, %u) iclr(%c, %d, %u)
      gate(%d, %u) key_scale(%c, %c, %c) proj(%m, %m, %m, %m) ln_x(%c, %c)
      : (tensor<?x64xf32>, tensor<?x64xf32>, tensor<1x64x64xf32>,
         tensor<64xf32>, tensor<64xf32>, tensor<64xf32>, tensor<64xf32>,
         tensor<64xf32>, tensor<64xf32>, tensor<64xf32>, tensor<3x64xf32>,
         tensor<64x3xf32>, tensor<64xf32>, tensor<3x64xf32>, tensor<64x3xf32>,
         tensor<3x64xf32>, tensor<64x3xf32>, tensor<64xf32>, tensor<64xf32>,
         tensor<64xf32>, tensor<64x64xf32>, tensor<64x64xf32>,
         tensor<64x64xf32>, tensor<64x64xf32>, tensor<64xf32>, tensor<64xf32>)
      -> (tensor<?x64xf32>, tensor<?x64xf32>, tensor<1x64x64xf32>, tensor<?x64xf32>)
  return
}
