// RUN: modrwkv-opt %s --rwkv-merge-bone | FileCheck %s

// A bone adapter on a constant weight is folded into a new resource and
// dropped from the op: W = [[1, 2, 3], [4, 5, 6]] (N = 2, K = 3), r = 2,
// D = [[10, 20], [30, 40]] ([r, N]). Shards of the 3 columns: {0, 1}, {2}.
// W'[n, c] = W[n, c] + D[c mod 2, n] = [[11, 32, 13], [24, 45, 26]].
// CHECK-LABEL: func @bone
// CHECK: %[[W:.*]] = arith.constant dense_resource<"w+d"> : tensor<2x3xf32>
// CHECK: rwkv.linear %arg0, %[[W]] : tensor<?x3xf32>, tensor<2x3xf32> -> tensor<?x2xf32>
func.func @bone(%x: tensor<?x3xf32>) -> tensor<?x2xf32> {
  %w = arith.constant dense_resource<w> : tensor<2x3xf32>
  %d = arith.constant dense_resource<d> : tensor<2x2xf32>
  %o = rwkv.linear %x, %w adapter(%d : tensor<2x2xf32>) {adapter_variant = "bone"} : tensor<?x3xf32>, tensor<2x3xf32> -> tensor<?x2xf32>
  return %o : tensor<?x2xf32>
}

// Another function (as the batched decode entry is) with the same weight
// and adapter uses the same merged resource: merged once, stored once.
// CHECK-LABEL: func @shared
// CHECK: %[[W:.*]] = arith.constant dense_resource<"w+d"> : tensor<2x3xf32>
// CHECK: rwkv.linear %arg0, %[[W]] : tensor<?x3xf32>, tensor<2x3xf32> -> tensor<?x2xf32>
func.func @shared(%x: tensor<?x3xf32>) -> tensor<?x2xf32> {
  %w = arith.constant dense_resource<w> : tensor<2x3xf32>
  %d = arith.constant dense_resource<d> : tensor<2x2xf32>
  %o = rwkv.linear %x, %w adapter(%d : tensor<2x2xf32>) {adapter_variant = "bone"} : tensor<?x3xf32>, tensor<2x3xf32> -> tensor<?x2xf32>
  return %o : tensor<?x2xf32>
}

// Block ops: every projection's adapter is merged (here bat with B indexed
// by the input block) and the adapter list and its attributes go away.
// CHECK-LABEL: func @channel_mix
// CHECK: %[[K:.*]] = arith.constant dense_resource<"fk+fa"> : tensor<8x4xf32>
// CHECK: rwkv.channel_mix %arg0, %arg1 mix(%arg1) proj(%[[K]], %{{.*}}) :
// CHECK-NOT: adapter
func.func @channel_mix(%x: tensor<?x4xf32>, %c: tensor<4xf32>) -> tensor<?x4xf32> {
  %k = arith.constant dense_resource<fk> : tensor<8x4xf32>
  %v = arith.constant dense_resource<fv> : tensor<4x8xf32>
  %a = arith.constant dense_resource<fa> : tensor<2x2x2xf32>
  %f, %fs = rwkv.channel_mix %x, %c mix(%c) proj(%k, %v) adapters(%a)
      {adapter_targets = ["key"], adapter_variants = ["bat_in"]}
      : (tensor<?x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<8x4xf32>,
         tensor<4x8xf32>, tensor<2x2x2xf32>) -> (tensor<?x4xf32>, tensor<4xf32>)
  return %f : tensor<?x4xf32>
}

// A weight that is not a constant cannot be merged: left for run time.
// CHECK-LABEL: func @runtime
// CHECK: rwkv.linear %arg0, %arg1 adapter(%{{.*}} : tensor<2x2xf32>) {adapter_variant = "bone"}
func.func @runtime(%x: tensor<?x3xf32>, %w: tensor<2x3xf32>) -> tensor<?x2xf32> {
  %d = arith.constant dense_resource<d> : tensor<2x2xf32>
  %o = rwkv.linear %x, %w adapter(%d : tensor<2x2xf32>) {adapter_variant = "bone"} : tensor<?x3xf32>, tensor<2x3xf32> -> tensor<?x2xf32>
  return %o : tensor<?x2xf32>
}

// The merged blob of @bone, exactly (little-endian f32 after the 4-byte
// alignment word): [[11, 32, 13], [24, 45, 26]]. The bat merge's values are
// checked against a float64 reference in test/e2e/check_bone.py.
// CHECK: "w+d": "0x040000000000304100000042000050410000C041000034420000D041"
// CHECK-NOT: w+d_

{-#
  dialect_resources: {
    builtin: {
      w: "0x040000000000803F0000004000004040000080400000A0400000C040",
      d: "0x04000000000020410000A0410000F04100002042",
      fk: "0x04000000000000000000003E0000803E0000C03E0000003F0000203F0000403F0000603F0000803F0000903F0000A03F0000B03F0000C03F0000D03F0000E03F0000F03F00000040000008400000104000001840000020400000284000003040000038400000404000004840000050400000584000006040000068400000704000007840",
      fv: "0x040000000000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F",
      fa: "0x04000000CDCCCC3DCDCC4C3E9A99993ECDCCCC3E0000003F9A99193F3333333FCDCC4C3F"
    }
  }
#-}
