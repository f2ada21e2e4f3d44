// RUN: modrwkv-opt %s --rwkv-gpu-matmul="warps-per-block=4 tile-tokens=2 unroll=2" | FileCheck %s
// RUN: not modrwkv-opt %s --rwkv-gpu-matmul="warps-per-block=64" 2>&1 | FileCheck %s --check-prefix=BAD

#x = affine_map<(t, n, k) -> (t, k)>
#w = affine_map<(t, n, k) -> (n, k)>
#y = affine_map<(t, n, k) -> (t, n)>

// K = 256, both buffers 16-byte aligned (an allocation, a view of the
// weights at offset 0): 4-wide loads, 2 in flight per lane
// (K is a multiple of 32 x 4 x 2). Grid (ceil(96 / 4), ceil(T / 2)), 128
// threads; warp = row n, lane strides K; a full tile of 2 tokens shares
// each W load, a partial tile runs token by token; shuffle-xor tree,
// lane 0 adds into y.
// CHECK-LABEL: func @wide
// CHECK:      %[[T:.*]] = memref.dim %[[X:.*]], %c0
// CHECK:      %[[GY:.*]] = arith.ceildivui %[[T]], %c2
// CHECK:      %[[GRIDY:.*]] = arith.maxui %[[GY]], %c1
// CHECK:      gpu.launch blocks({{.*}}) in ({{.*}} = %c24{{.*}}, {{.*}} = %[[GRIDY]], {{.*}}) threads({{.*}}) in ({{.*}} = %c128
// CHECK:        arith.divui %{{.*}}, %c32
// CHECK:        arith.remui %{{.*}}, %c32
// CHECK:        arith.cmpi ult, %{{.*}}, %c96
// CHECK:        scf.if
// CHECK:          arith.cmpi uge, %{{.*}}, %c2
// CHECK:          scf.if
// CHECK:            scf.for %{{.*}} = %{{.*}} to %c256{{[_0-9]*}} step %c256{{[_0-9]*}} iter_args(%{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}) -> (vector<4xf32>, vector<4xf32>)
// CHECK-COUNT-2:      vector.load %[[W:.*]][%{{.*}}, %{{.*}}] {alignment = 16 : i64} : memref<96x256xf32>, vector<4xf32>
// CHECK:            vector.reduction <add>
// CHECK-COUNT-5:    gpu.shuffle  xor
// CHECK:            memref.store
// CHECK:          } else {
// CHECK:            scf.for
// CHECK:              scf.for {{.*}} -> (vector<4xf32>)
// CHECK-NOT:  linalg.generic
func.func @wide(%weights: memref<?xi8>, %t: index) -> memref<?x96xf32> {
  %c0 = arith.constant 0 : index
  %w = memref.view %weights[%c0][] : memref<?xi8> to memref<96x256xf32>
  %x = memref.alloc(%t) : memref<?x256xf32>
  %y = memref.alloc(%t) : memref<?x96xf32>
  linalg.generic {indexing_maps = [#x, #w, #y],
                  iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w : memref<?x256xf32>, memref<96x256xf32>)
      outs(%y : memref<?x96xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %m = arith.mulf %a, %b : f32
    %s = arith.addf %acc, %m : f32
    linalg.yield %s : f32
  }
  return %y : memref<?x96xf32>
}

// bf16 W from the weights at a 16-byte aligned offset: 4-wide bf16 loads
// (8-byte aligned) extended to f32.
// CHECK-LABEL: func @bf16
// CHECK:      vector.load %{{.*}} {alignment = 8 : i64} : memref<64x128xbf16>, vector<4xbf16>
// CHECK:      arith.extf %{{.*}} : vector<4xbf16> to vector<4xf32>
// CHECK:      vector.fma
func.func @bf16(%weights: memref<?xi8>, %t: index) -> memref<?x64xf32> {
  %c32 = arith.constant 32 : index
  %w = memref.view %weights[%c32][] : memref<?xi8> to memref<64x128xbf16>
  %x = memref.alloc(%t) : memref<?x128xf32>
  %y = memref.alloc(%t) : memref<?x64xf32>
  linalg.generic {indexing_maps = [#x, #w, #y],
                  iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w : memref<?x128xf32>, memref<64x128xbf16>)
      outs(%y : memref<?x64xf32>) {
  ^bb0(%a: f32, %b: bf16, %acc: f32):
    %e = arith.extf %b : bf16 to f32
    %m = arith.mulf %a, %e : f32
    %s = arith.addf %acc, %m : f32
    linalg.yield %s : f32
  }
  return %y : memref<?x64xf32>
}

// K = 5 (a LoRA rank), and an argument x of unknown alignment: scalar
// lanes, k from lane to K in steps of 32, no unrolling.
// CHECK-LABEL: func @narrow
// CHECK:      scf.for %{{.*}} = %{{.*}} to %c5{{[_0-9]*}} step %c32{{[_0-9]*}}
// CHECK:        vector.load {{.*}} : memref<?x5xf32>, vector<1xf32>
// CHECK-NOT:    vector.load
// CHECK:        vector.fma
func.func @narrow(%x: memref<?x5xf32>, %w: memref<128x5xf32>, %y: memref<?x128xf32>) {
  linalg.generic {indexing_maps = [#x, #w, #y],
                  iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w : memref<?x5xf32>, memref<128x5xf32>)
      outs(%y : memref<?x128xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %m = arith.mulf %a, %b : f32
    %s = arith.addf %acc, %m : f32
    linalg.yield %s : f32
  }
  return
}

// Not a product (element-wise): left alone.
// CHECK-LABEL: func @elementwise
// CHECK-NOT:  gpu.launch
// CHECK:      linalg.generic
func.func @elementwise(%a: memref<?x64xf32>, %b: memref<?x64xf32>) {
  linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>],
                  iterator_types = ["parallel", "parallel"]}
      ins(%a : memref<?x64xf32>) outs(%b : memref<?x64xf32>) {
  ^bb0(%in: f32, %out: f32):
    %s = arith.addf %in, %out : f32
    linalg.yield %s : f32
  }
  return
}

// BAD: rwkv-gpu-matmul: warps-per-block must be in [1, 32]

// y filled with zero just before the product: no fill kernel; lane 0
// stores 0 + sum without reading y.
// CHECK-LABEL: func @filled
// CHECK:      %[[ZERO:.*]] = arith.constant 0.0
// CHECK-NOT:  linalg.fill
// CHECK:      gpu.launch
// CHECK:      gpu.shuffle
// CHECK-NOT:  memref.load
// CHECK:      arith.addf %[[ZERO]], %{{.*}} : f32
// CHECK:      memref.store
func.func @filled(%x: memref<?x5xf32>, %w: memref<128x5xf32>) -> memref<?x128xf32> {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %t = memref.dim %x, %c0 : memref<?x5xf32>
  %y = memref.alloc(%t) : memref<?x128xf32>
  linalg.fill ins(%zero : f32) outs(%y : memref<?x128xf32>)
  linalg.generic {indexing_maps = [#x, #w, #y],
                  iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w : memref<?x5xf32>, memref<128x5xf32>)
      outs(%y : memref<?x128xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %m = arith.mulf %a, %b : f32
    %s = arith.addf %acc, %m : f32
    linalg.yield %s : f32
  }
  return %y : memref<?x128xf32>
}

// y = 0 + x W^T read only by out = a + y, with an unrelated copy between:
// the kernel, in the add's place, stores a + sum into out; the add, y and
// its fill are gone.
// CHECK-LABEL: func @residual
// CHECK-SAME:    (%[[X:.*]]: memref<?x5xf32>, %[[W:.*]]: memref<128x5xf32>, %[[A:.*]]: memref<?x128xf32>,
// CHECK-NOT:   linalg.fill
// CHECK:       linalg.copy
// CHECK:       %[[OUT:.*]] = memref.alloc
// CHECK:       gpu.launch
// CHECK:         %[[OLD:.*]] = memref.load %[[A]]
// CHECK:         %[[NEW:.*]] = arith.addf %[[OLD]]
// CHECK:         memref.store %[[NEW]], %[[OUT]]
// CHECK-NOT:   linalg.generic
// CHECK:       return %[[OUT]]
func.func @residual(%x: memref<?x5xf32>, %w: memref<128x5xf32>, %a: memref<?x128xf32>,
                    %s: memref<4xf32>, %d: memref<4xf32>) -> memref<?x128xf32> {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %t = memref.dim %x, %c0 : memref<?x5xf32>
  %y = memref.alloc(%t) : memref<?x128xf32>
  linalg.fill ins(%zero : f32) outs(%y : memref<?x128xf32>)
  linalg.generic {indexing_maps = [#x, #w, #y],
                  iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w : memref<?x5xf32>, memref<128x5xf32>)
      outs(%y : memref<?x128xf32>) {
  ^bb0(%p: f32, %q: f32, %acc: f32):
    %m = arith.mulf %p, %q : f32
    %r = arith.addf %acc, %m : f32
    linalg.yield %r : f32
  }
  linalg.copy ins(%s : memref<4xf32>) outs(%d : memref<4xf32>)
  %out = memref.alloc(%t) : memref<?x128xf32>
  linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>],
                  iterator_types = ["parallel", "parallel"]}
      ins(%a, %y : memref<?x128xf32>, memref<?x128xf32>)
      outs(%out : memref<?x128xf32>) {
  ^bb0(%p: f32, %q: f32, %o: f32):
    %r = arith.addf %p, %q : f32
    linalg.yield %r : f32
  }
  memref.dealloc %y : memref<?x128xf32>
  return %out : memref<?x128xf32>
}

// Left as is: y is read again after the add, and an op between the two
// writes x (the product cannot move past it).
// CHECK-LABEL: func @not_residual
// CHECK:       gpu.launch
// CHECK:       linalg.generic {{.*}} ins(%{{.*}}, %[[Y:.*]] : memref<?x128xf32>, memref<?x128xf32>)
// CHECK:       linalg.copy ins(%[[Y]]
// CHECK:       gpu.launch
// CHECK:       linalg.fill
// CHECK:       linalg.generic
func.func @not_residual(%x: memref<?x5xf32>, %w: memref<128x5xf32>, %a: memref<?x128xf32>,
                        %out: memref<?x128xf32>, %keep: memref<?x128xf32>) {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %one = arith.constant 1.0 : f32
  %t = memref.dim %x, %c0 : memref<?x5xf32>
  %y = memref.alloc(%t) : memref<?x128xf32>
  linalg.fill ins(%zero : f32) outs(%y : memref<?x128xf32>)
  linalg.generic {indexing_maps = [#x, #w, #y],
                  iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w : memref<?x5xf32>, memref<128x5xf32>)
      outs(%y : memref<?x128xf32>) {
  ^bb0(%p: f32, %q: f32, %acc: f32):
    %m = arith.mulf %p, %q : f32
    %r = arith.addf %acc, %m : f32
    linalg.yield %r : f32
  }
  linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>],
                  iterator_types = ["parallel", "parallel"]}
      ins(%a, %y : memref<?x128xf32>, memref<?x128xf32>)
      outs(%out : memref<?x128xf32>) {
  ^bb0(%p: f32, %q: f32, %o: f32):
    %r = arith.addf %p, %q : f32
    linalg.yield %r : f32
  }
  linalg.copy ins(%y : memref<?x128xf32>) outs(%keep : memref<?x128xf32>)
  memref.dealloc %y : memref<?x128xf32>
  %y2 = memref.alloc(%t) : memref<?x128xf32>
  linalg.fill ins(%zero : f32) outs(%y2 : memref<?x128xf32>)
  linalg.generic {indexing_maps = [#x, #w, #y],
                  iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w : memref<?x5xf32>, memref<128x5xf32>)
      outs(%y2 : memref<?x128xf32>) {
  ^bb0(%p: f32, %q: f32, %acc: f32):
    %m = arith.mulf %p, %q : f32
    %r = arith.addf %acc, %m : f32
    linalg.yield %r : f32
  }
  linalg.fill ins(%one : f32) outs(%x : memref<?x5xf32>)
  linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>],
                  iterator_types = ["parallel", "parallel"]}
      ins(%a, %y2 : memref<?x128xf32>, memref<?x128xf32>)
      outs(%out : memref<?x128xf32>) {
  ^bb0(%p: f32, %q: f32, %o: f32):
    %r = arith.addf %p, %q : f32
    linalg.yield %r : f32
  }
  memref.dealloc %y2 : memref<?x128xf32>
  return
}

// Any element-wise reader of y (set to 0, read by nothing else) is the
// kernel's epilogue: here max(b + y, 0)^2 with b broadcast over the
// tokens (read at n), written in place of a buffer it also reads at (t, n).
// CHECK-LABEL: func @epilogue
// CHECK-SAME:    (%[[X:.*]]: memref<?x5xf32>, %[[W:.*]]: memref<128x5xf32>, %[[B:.*]]: memref<128xf32>, %[[IO:.*]]: memref<?x128xf32>)
// CHECK-NOT:   memref.alloc
// CHECK:       gpu.launch
// CHECK:         gpu.shuffle
// CHECK:           %[[Y:.*]] = arith.addf %cst, %{{.*}} : f32
// CHECK-NEXT:      %[[BN:.*]] = memref.load %[[B]][%[[N:.*]]] : memref<128xf32>
// CHECK:           %[[OLD:.*]] = memref.load %[[IO]][%[[T:.*]], %[[N]]]
// CHECK:           %[[S:.*]] = arith.addf %[[BN]], %[[Y]]
// CHECK:           %[[R:.*]] = arith.maximumf %[[S]]
// CHECK:           %[[SQ:.*]] = arith.mulf %[[R]], %[[R]]
// CHECK:           %[[NEW:.*]] = arith.addf %[[SQ]], %[[OLD]]
// CHECK:           memref.store %[[NEW]], %[[IO]][%[[T]], %[[N]]]
// CHECK-NOT:   linalg.generic
// CHECK-NOT:   memref.dealloc
// CHECK:       return
func.func @epilogue(%x: memref<?x5xf32>, %w: memref<128x5xf32>, %b: memref<128xf32>, %io: memref<?x128xf32>) {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %t = memref.dim %x, %c0 : memref<?x5xf32>
  %y = memref.alloc(%t) : memref<?x128xf32>
  linalg.fill ins(%zero : f32) outs(%y : memref<?x128xf32>)
  linalg.generic {indexing_maps = [#x, #w, #y],
                  iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w : memref<?x5xf32>, memref<128x5xf32>)
      outs(%y : memref<?x128xf32>) {
  ^bb0(%p: f32, %q: f32, %acc: f32):
    %m = arith.mulf %p, %q : f32
    %r = arith.addf %acc, %m : f32
    linalg.yield %r : f32
  }
  linalg.generic {indexing_maps = [affine_map<(i, j) -> (j)>, affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>],
                  iterator_types = ["parallel", "parallel"]}
      ins(%b, %y : memref<128xf32>, memref<?x128xf32>)
      outs(%io : memref<?x128xf32>) {
  ^bb0(%bias: f32, %v: f32, %o: f32):
    %s = arith.addf %bias, %v : f32
    %r = arith.maximumf %s, %zero : f32
    %sq = arith.mulf %r, %r : f32
    %acc = arith.addf %sq, %o : f32
    linalg.yield %acc : f32
  }
  memref.dealloc %y : memref<?x128xf32>
  return
}

// Not an epilogue: the reader takes y at (n, t) (a transpose), writes the
// buffer of x, or loads memory in its body.
// CHECK-LABEL: func @no_epilogue
// CHECK:       gpu.launch
// CHECK:       linalg.generic
// CHECK:       gpu.launch
// CHECK:       linalg.generic
// CHECK:       gpu.launch
// CHECK:       linalg.generic
// CHECK:         memref.load
func.func @no_epilogue(%x: memref<128x128xf32>, %w: memref<128x128xf32>, %out: memref<128x128xf32>) {
  %zero = arith.constant 0.0 : f32
  %y = memref.alloc() : memref<128x128xf32>
  linalg.fill ins(%zero : f32) outs(%y : memref<128x128xf32>)
  linalg.generic {indexing_maps = [#x, #w, #y],
                  iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w : memref<128x128xf32>, memref<128x128xf32>)
      outs(%y : memref<128x128xf32>) {
  ^bb0(%p: f32, %q: f32, %acc: f32):
    %m = arith.mulf %p, %q : f32
    %r = arith.addf %acc, %m : f32
    linalg.yield %r : f32
  }
  linalg.generic {indexing_maps = [affine_map<(i, j) -> (j, i)>, affine_map<(i, j) -> (i, j)>],
                  iterator_types = ["parallel", "parallel"]}
      ins(%y : memref<128x128xf32>) outs(%out : memref<128x128xf32>) {
  ^bb0(%v: f32, %o: f32):
    linalg.yield %v : f32
  }
  memref.dealloc %y : memref<128x128xf32>
  %y2 = memref.alloc() : memref<128x128xf32>
  linalg.fill ins(%zero : f32) outs(%y2 : memref<128x128xf32>)
  linalg.generic {indexing_maps = [#x, #w, #y],
                  iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w : memref<128x128xf32>, memref<128x128xf32>)
      outs(%y2 : memref<128x128xf32>) {
  ^bb0(%p: f32, %q: f32, %acc: f32):
    %m = arith.mulf %p, %q : f32
    %r = arith.addf %acc, %m : f32
    linalg.yield %r : f32
  }
  linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>],
                  iterator_types = ["parallel", "parallel"]}
      ins(%y2 : memref<128x128xf32>) outs(%x : memref<128x128xf32>) {
  ^bb0(%v: f32, %o: f32):
    linalg.yield %v : f32
  }
  memref.dealloc %y2 : memref<128x128xf32>
  %y3 = memref.alloc() : memref<128x128xf32>
  linalg.fill ins(%zero : f32) outs(%y3 : memref<128x128xf32>)
  linalg.generic {indexing_maps = [#x, #w, #y],
                  iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w : memref<128x128xf32>, memref<128x128xf32>)
      outs(%y3 : memref<128x128xf32>) {
  ^bb0(%p: f32, %q: f32, %acc: f32):
    %m = arith.mulf %p, %q : f32
    %r = arith.addf %acc, %m : f32
    linalg.yield %r : f32
  }
  linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>],
                  iterator_types = ["parallel", "parallel"]}
      ins(%y3 : memref<128x128xf32>) outs(%out : memref<128x128xf32>) {
  ^bb0(%v: f32, %o: f32):
    %j = linalg.index 1 : index
    %neighbour = memref.load %out[%j, %j] : memref<128x128xf32>
    %s = arith.addf %v, %neighbour : f32
    linalg.yield %s : f32
  }
  memref.dealloc %y3 : memref<128x128xf32>
  return
}
