// RUN: modrwkv-opt %s --rwkv-lower-wkv7 | FileCheck %s

// The recurrence becomes head x token x value-row loops: heads are an
// scf.forall (independent), each with its slice of y and of the state; each
// state row is one vector<64xf32>, updated with the delta rule and written
// back.
// CHECK-LABEL: func @wkv
// CHECK-NOT: rwkv.wkv7
// CHECK: %[[T:.*]] = tensor.dim %{{.*}}, %c0
// CHECK: %[[Y0:.*]] = tensor.empty(%[[T]]) : tensor<?x128xf32>
// CHECK: scf.forall (%[[h:.*]]) in (2) shared_outs(%[[YALL:.*]] = %[[Y0]], %[[SALL:.*]] = %{{.*}})
// CHECK:   %[[BASE:.*]] = arith.muli %[[h]], %c64
// CHECK:   %[[YH:.*]] = tensor.extract_slice %[[YALL]][0, %[[BASE]]] [%[[T]], 64] [1, 1]
// CHECK:   %[[SH:.*]] = tensor.extract_slice %[[SALL]][%[[h]], 0, 0] [1, 64, 64] [1, 1, 1] : tensor<2x64x64xf32> to tensor<64x64xf32>
// CHECK:   %[[LOOP:.*]]:2 = scf.for %[[t:.*]] = %c0 to %[[T]] step %c1 iter_args(%{{.*}} = %[[YH]], %{{.*}} = %[[SH]])
// CHECK-COUNT-5: vector.transfer_read %{{.*}}[%[[t]], %[[BASE]]]
// CHECK:     scf.for %[[i:.*]] = %c0 to %c64 step %c1
// CHECK:       %[[ROW:.*]] = vector.transfer_read %{{.*}}[%[[i]], %c0]
// CHECK:       vector.reduction <add>, %{{.*}} fastmath<reassoc,contract>
// CHECK:       tensor.extract %{{.*}}[%[[t]], %{{.*}}]
// CHECK:       arith.mulf %[[ROW]]
// CHECK:       vector.fma
// CHECK:       vector.fma
// CHECK:       vector.reduction <add>
// CHECK:       vector.transfer_write %{{.*}}, %{{.*}}[%[[i]], %c0]
// CHECK:       tensor.insert %{{.*}} into %{{.*}}[%[[t]], %[[i]]]
// CHECK:   scf.forall.in_parallel
// CHECK:     tensor.parallel_insert_slice %[[LOOP]]#0 into %[[YALL]][0, %[[BASE]]] [%[[T]], 64] [1, 1]
// CHECK:     tensor.parallel_insert_slice %[[LOOP]]#1 into %[[SALL]][%[[h]], 0, 0] [1, 64, 64] [1, 1, 1]
func.func @wkv(%x: tensor<?x128xf32>, %s: tensor<2x64x64xf32>)
    -> (tensor<?x128xf32>, tensor<2x64x64xf32>) {
  %y, %s2 = rwkv.wkv7 %x, %x, %x, %x, %x, %x, %s : tensor<?x128xf32>, tensor<2x64x64xf32>
  return %y, %s2 : tensor<?x128xf32>, tensor<2x64x64xf32>
}

// Batched decode (state [T, H, 64, 64], one token per sequence): the
// tasks are (sequence, head) pairs; task (s, h) runs token s alone on
// state[s, h] and writes row s of y.
// CHECK-LABEL: func @wkv_batched
// CHECK: %[[T:.*]] = tensor.dim %{{.*}}, %c0
// CHECK: scf.forall (%[[s:.*]], %[[h:.*]]) in (%[[T]], 2) shared_outs(%[[YALL:.*]] = %{{.*}}, %[[SALL:.*]] = %{{.*}})
// CHECK:   %[[BASE:.*]] = arith.muli %[[h]], %c64
// CHECK:   tensor.extract_slice %[[YALL]][%[[s]], %[[BASE]]] [1, 64] [1, 1]
// CHECK:   tensor.extract_slice %[[SALL]][%[[s]], %[[h]], 0, 0] [1, 1, 64, 64] [1, 1, 1, 1] : tensor<?x2x64x64xf32> to tensor<64x64xf32>
// CHECK:   scf.for %[[u:.*]] = %c0 to %c1{{.*}} step %c1
// CHECK:     %[[t:.*]] = arith.addi %[[s]], %[[u]]
// CHECK:     vector.transfer_read %{{.*}}[%[[t]], %[[BASE]]]
// CHECK:   scf.forall.in_parallel
// CHECK:     tensor.parallel_insert_slice %{{.*}} into %[[YALL]][%[[s]], %[[BASE]]] [1, 64] [1, 1]
// CHECK:     tensor.parallel_insert_slice %{{.*}} into %[[SALL]][%[[s]], %[[h]], 0, 0] [1, 1, 64, 64] [1, 1, 1, 1]
func.func @wkv_batched(%x: tensor<?x128xf32>, %s: tensor<?x2x64x64xf32>)
    -> (tensor<?x128xf32>, tensor<?x2x64x64xf32>) {
  %y, %s2 = rwkv.wkv7 %x, %x, %x, %x, %x, %x, %s : tensor<?x128xf32>, tensor<?x2x64x64xf32>
  return %y, %s2 : tensor<?x128xf32>, tensor<?x2x64x64xf32>
}

// Other rwkv ops are left alone.
// CHECK-LABEL: func @other
// CHECK: rwkv.linear
func.func @other(%x: tensor<?x128xf32>, %w: tensor<8x128xf32>) -> tensor<?x8xf32> {
  %o = rwkv.linear %x, %w : tensor<?x128xf32>, tensor<8x128xf32> -> tensor<?x8xf32>
  return %o : tensor<?x8xf32>
}
