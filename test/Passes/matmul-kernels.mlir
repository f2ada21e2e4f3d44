// RUN: modrwkv-opt %s --rwkv-matmul-kernels --cse | FileCheck %s
// RUN: modrwkv-opt %s --rwkv-matmul-kernels="tile-tokens=2 tile-rows=3 token-block=8" --cse | FileCheck %s --check-prefix=TILE
// RUN: modrwkv-opt %s --rwkv-matmul-kernels="parallel=1 min-parallel-macs=256" --cse | FileCheck %s --check-prefix=PAR
// RUN: modrwkv-opt %s --rwkv-matmul-kernels=prefetch=0 | FileCheck %s --check-prefix=NOPF

#x = affine_map<(t, n, k) -> (t, k)>
#w = affine_map<(t, n, k) -> (n, k)>
#y = affine_map<(t, n, k) -> (t, n)>
#wt = affine_map<(t, n, k) -> (k, n)>

// Two products with the same operand types share one kernel; a third with
// other types gets its own.
// CHECK-LABEL: func @products
// CHECK-NOT: linalg.generic
// CHECK: call @[[F32:rwkv_matmul_kernel_[0-9]+]](%arg0, %arg1, %arg2)
// CHECK: call @[[F32]](%arg0, %arg1, %arg2)
// CHECK: call @[[BF16:rwkv_matmul_kernel_[0-9]+]](%arg0, %arg3, %arg4)
// CHECK: call @[[I8:rwkv_matmul_kernel_[0-9]+]](%arg0, %arg5, %arg4)
func.func @products(%x: memref<?x32xf32>, %w: memref<8x32xf32>, %y: memref<?x8xf32>,
                    %wb: memref<5x32xbf16>, %yb: memref<?x5xf32>,
                    %wq: memref<5x32xi8>) {
  linalg.generic {indexing_maps = [#x, #w, #y], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w : memref<?x32xf32>, memref<8x32xf32>) outs(%y : memref<?x8xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %m = arith.mulf %a, %b : f32
    %s = arith.addf %acc, %m : f32
    linalg.yield %s : f32
  }
  linalg.generic {indexing_maps = [#x, #w, #y], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w : memref<?x32xf32>, memref<8x32xf32>) outs(%y : memref<?x8xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %m = arith.mulf %b, %a : f32
    %s = arith.addf %m, %acc : f32
    linalg.yield %s : f32
  }
  linalg.generic {indexing_maps = [#x, #w, #y], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %wb : memref<?x32xf32>, memref<5x32xbf16>) outs(%yb : memref<?x5xf32>) {
  ^bb0(%a: f32, %b: bf16, %acc: f32):
    %e = arith.extf %b : bf16 to f32
    %m = arith.mulf %a, %e : f32
    %s = arith.addf %acc, %m : f32
    linalg.yield %s : f32
  }
  linalg.generic {indexing_maps = [#x, #w, #y], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %wq : memref<?x32xf32>, memref<5x32xi8>) outs(%yb : memref<?x5xf32>) {
  ^bb0(%a: f32, %b: i8, %acc: f32):
    %e = arith.sitofp %b : i8 to f32
    %m = arith.mulf %a, %e : f32
    %s = arith.addf %acc, %m : f32
    linalg.yield %s : f32
  }
  return
}

// Not products the kernels handle: K not a multiple of the vector width, a
// strided innermost dim, W stored [K, N], a body that is not multiply-add.
// CHECK-LABEL: func @left_alone
// CHECK-NOT: call
// CHECK-COUNT-4: linalg.generic
// CHECK-NOT: call
func.func @left_alone(%x: memref<?x20xf32>, %w: memref<8x20xf32>, %y: memref<?x8xf32>,
                      %xs: memref<?x32xf32, strided<[64, 2]>>, %w32: memref<8x32xf32>,
                      %wt: memref<32x8xf32>, %x32: memref<?x32xf32>) {
  linalg.generic {indexing_maps = [#x, #w, #y], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w : memref<?x20xf32>, memref<8x20xf32>) outs(%y : memref<?x8xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %m = arith.mulf %a, %b : f32
    %s = arith.addf %acc, %m : f32
    linalg.yield %s : f32
  }
  linalg.generic {indexing_maps = [#x, #w, #y], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%xs, %w32 : memref<?x32xf32, strided<[64, 2]>>, memref<8x32xf32>) outs(%y : memref<?x8xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %m = arith.mulf %a, %b : f32
    %s = arith.addf %acc, %m : f32
    linalg.yield %s : f32
  }
  linalg.generic {indexing_maps = [#x, #wt, #y], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x32, %wt : memref<?x32xf32>, memref<32x8xf32>) outs(%y : memref<?x8xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %m = arith.mulf %a, %b : f32
    %s = arith.addf %acc, %m : f32
    linalg.yield %s : f32
  }
  linalg.generic {indexing_maps = [#x, #w, #y], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x32, %w32 : memref<?x32xf32>, memref<8x32xf32>) outs(%y : memref<?x8xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %m = arith.mulf %a, %b : f32
    %s = arith.maximumf %acc, %m : f32
    linalg.yield %s : f32
  }
  return
}

// The f32 kernel: token blocks of 64; in each, strips of 6 W rows over
// [0, 6) and of 1 row over [6, 8), each strip a call (the body a parallel
// loop runs per thread).
// CHECK: func.func private @[[F32]](%[[X:.*]]: memref<?x32xf32>, %[[W:.*]]: memref<8x32xf32>, %[[Y:.*]]: memref<?x8xf32>)
// CHECK: %[[T:.*]] = memref.dim %[[X]], %c0
// CHECK: scf.for %[[TB:.*]] = %c0 to %[[T]] step %c64
// CHECK: %[[END:.*]] = arith.minui %{{.*}}, %[[T]]
// CHECK: %[[MAIN:.*]] = arith.addi %[[TB]], %{{.*}} : index
// CHECK: scf.for %[[N0:.*]] = %c0 to %c6 step %c6
// CHECK-NEXT: call @[[F32]]_strip6(%[[X]], %[[W]], %[[Y]], %[[TB]], %[[MAIN]], %[[END]], %[[N0]])
// CHECK: scf.for %[[N1:.*]] = %c6 to %c8 step %c1
// CHECK-NEXT: call @[[F32]]_strip1(%[[X]], %[[W]], %[[Y]], %[[TB]], %[[MAIN]], %[[END]], %[[N1]])

// A 6-row strip: 4 x 6 tiles over the block's tokens, then 1 x 6 tiles for
// its leftover tokens. The 4 x 6 tile: 4 x and 6 W loads, 24 FMAs per 16
// lanes of K, one reduction per output, added to what y holds.
// CHECK: func.func private @[[F32]]_strip6(%[[SX:.*]]: memref<?x32xf32>, %[[SW:.*]]: memref<8x32xf32>, %[[SY:.*]]: memref<?x8xf32>, %[[STB:.*]]: index, %[[SMAIN:.*]]: index, %[[SEND:.*]]: index, %[[SN0:.*]]: index)
// CHECK: scf.for %[[T0:.*]] = %[[STB]] to %[[SMAIN]] step %c4
// CHECK: scf.for %{{.*}} = %c0 to %c32 step %c16 iter_args({{.*}}) -> (vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>)
// CHECK-COUNT-4: vector.load %[[SX]]
// CHECK-COUNT-6: vector.load %[[SW]]
// CHECK-COUNT-24: vector.fma
// CHECK: scf.yield
// CHECK: %[[OLD:.*]] = memref.load %[[SY]][%[[T0]], %[[SN0]]]
// CHECK: %[[SUM:.*]] = vector.reduction <add>, %{{.*}}#0, %[[OLD]] fastmath<reassoc>
// CHECK: memref.store %[[SUM]], %[[SY]][%[[T0]], %[[SN0]]]
// CHECK-COUNT-23: vector.reduction
// The 1 x 6 tile (decode) prefetches the next strip's 6 rows (clamped to
// the last row) at each k.
// CHECK: scf.for %{{.*}} = %[[SMAIN]] to %[[SEND]] step %c1
// CHECK: %[[AHEAD:.*]] = arith.addi %[[SN0]], %c6
// CHECK: %[[CLAMPED:.*]] = arith.minui %[[AHEAD]], %c7
// CHECK-COUNT-5: arith.minui
// CHECK: iter_args({{.*}}) -> (vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>)
// CHECK: memref.prefetch %[[SW]][%[[CLAMPED]], %{{.*}}], read, locality<3>, data
// CHECK-COUNT-5: memref.prefetch %[[SW]]
// CHECK-COUNT-6: vector.fma
// CHECK: func.func private @[[F32]]_strip1
// CHECK: iter_args({{.*}}) -> (vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>)
// CHECK: iter_args({{.*}}) -> (vector<16xf32>)

// The bf16 kernel (5 rows: 1-row strips only) widens W after the load.
// CHECK: func.func private @[[BF16]]_strip1
// CHECK: vector.load %{{.*}} : memref<5x32xbf16>, vector<16xbf16>
// CHECK-NEXT: arith.extf %{{.*}} : vector<16xbf16> to vector<16xf32>

// The int8 kernel converts W after the load.
// CHECK: func.func private @[[I8]]_strip1
// CHECK: vector.load %{{.*}} : memref<5x32xi8>, vector<16xi8>
// CHECK-NEXT: arith.sitofp %{{.*}} : vector<16xi8> to vector<16xf32>

// Options: 2 x 3 tiles in blocks of 8 tokens.
// TILE: func.func private @rwkv_matmul_kernel_0(
// TILE: step %c8
// TILE: scf.for %{{.*}} = %c0 to %c6 step %c3
// TILE: func.func private @rwkv_matmul_kernel_0_strip3
// TILE: step %c2
// TILE: iter_args({{.*}}) -> (vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>)
// TILE-COUNT-6: vector.fma

// parallel: the strip loops are scf.parallel, one strip call per iteration,
// for products of at least min-parallel-macs multiply-adds a token (8 x 32
// = 256)...
// PAR: func.func private @rwkv_matmul_kernel_0(
// PAR-NOT: scf.if
// PAR: scf.parallel (%[[N:.*]]) = (%c0) to (%c6) step (%c6)
// PAR-NEXT: func.call @rwkv_matmul_kernel_0_strip6(%{{.*}}, %[[N]])
// PAR: scf.parallel
// PAR-NEXT: func.call @rwkv_matmul_kernel_0_strip1(
// ... and for smaller ones (5 x 32) when the token block brings enough:
// one thread otherwise.
// PAR: func.func private @rwkv_matmul_kernel_1(
// PAR: %[[SPAN:.*]] = arith.subi %{{.*}}, %{{.*}} : index
// PAR: %[[WORK:.*]] = arith.muli %[[SPAN]], %c160
// PAR: %[[ENOUGH:.*]] = arith.cmpi uge, %[[WORK]], %c256
// PAR: scf.if %[[ENOUGH]] {
// PAR-NEXT: scf.parallel
// PAR-NEXT: func.call @rwkv_matmul_kernel_1_strip1(
// PAR: } else {
// PAR-NEXT: scf.for
// PAR-NEXT: func.call @rwkv_matmul_kernel_1_strip1(

// prefetch=0: no prefetches.
// NOPF: func.func private @rwkv_matmul_kernel_0_strip6(
// NOPF-NOT: memref.prefetch
