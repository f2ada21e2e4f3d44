// RUN: modrwkv-opt %s --rwkv-gpu-matmul="blas=1 blas-min-tokens=32" | FileCheck %s
// RUN: not modrwkv-opt %s --rwkv-gpu-matmul="blas=1 blas-min-tokens=0" 2>&1 | FileCheck %s --check-prefix=BAD

#x = affine_map<(t, n, k) -> (t, k)>
#w = affine_map<(t, n, k) -> (n, k)>
#y = affine_map<(t, n, k) -> (t, n)>

// f32 W, y holds what the product adds to: the kernel, whose grid is
// empty when T >= the runtime's threshold, then one cuBLAS call on the
// first m rows (m = T then, else 0) that accumulates. The kernel comes
// first: it needs only x, the library path's steps need each other.
// CHECK-LABEL: func @f32_accumulate
// CHECK-SAME:    (%[[X:.*]]: memref<?x64xf32>, %[[W:.*]]: memref<32x64xf32>, %[[Y:.*]]: memref<?x32xf32>)
// CHECK:      %[[T:.*]] = memref.dim %[[X]], %c0
// CHECK:      %[[MIN:.*]] = rwkv_gpu.blas_min_tokens 32
// CHECK:      %[[USE:.*]] = arith.cmpi uge, %[[T]], %[[MIN]]
// CHECK:      %[[GY:.*]] = arith.maxui
// CHECK:      %[[GRIDY:.*]] = arith.select %[[USE]], %c0{{.*}}, %[[GY]]
// CHECK:      gpu.launch blocks({{.*}}) in ({{.*}}, {{.*}} = %[[GRIDY]], {{.*}})
// CHECK:        gpu.shuffle
// CHECK:      %[[M:.*]] = arith.select %[[USE]], %{{.*}}, %c0
// CHECK:      %[[YS:.*]] = memref.subview %[[Y]][0, 0] [%[[M]], 32] [1, 1]
// CHECK:      %[[XS:.*]] = memref.subview %[[X]][0, 0] [%[[M]], 64] [1, 1]
// CHECK:      rwkv_gpu.gemm %[[XS]], %[[W]], %[[YS]] accumulate
// CHECK-NOT:  linalg.generic
func.func @f32_accumulate(%x: memref<?x64xf32>, %w: memref<32x64xf32>, %y: memref<?x32xf32>) {
  linalg.generic {indexing_maps = [#x, #w, #y],
                  iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w : memref<?x64xf32>, memref<32x64xf32>)
      outs(%y : memref<?x32xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %m = arith.mulf %a, %b : f32
    %s = arith.addf %acc, %m : f32
    linalg.yield %s : f32
  }
  return
}

// bf16 W, y filled with 0 just before (the fill goes): x's first m rows
// are split into bf16 hi + lo by an element-wise generic (a kernel later,
// with no blocks when m = 0), then y = hi W^T and y += lo W^T; the kernel
// writes 0 + sum when it runs.
// CHECK-LABEL: func @bf16_filled
// CHECK-SAME:    (%[[X:.*]]: memref<?x64xf32>,
// CHECK-NOT:  linalg.fill
// CHECK:      %[[USE:.*]] = arith.cmpi uge
// CHECK:      arith.select %[[USE]]
// CHECK:      gpu.launch
// CHECK-NOT:  memref.load %{{.*}} : memref<?x32xf32>
// CHECK:      %[[M:.*]] = arith.select %[[USE]]
// CHECK:      %[[YS:.*]] = memref.subview
// CHECK:      %[[XS:.*]] = memref.subview %[[X]][0, 0] [%[[M]], 64] [1, 1]
// CHECK:      %[[HI:.*]] = memref.alloc(%[[M]]) : memref<?x64xbf16>
// CHECK:      %[[LO:.*]] = memref.alloc(%[[M]]) : memref<?x64xbf16>
// CHECK:      linalg.generic {{.*}} ins(%[[XS]] : {{.*}}) outs(%[[HI]], %[[LO]] :
// CHECK:      ^bb0(%[[V:.*]]: f32,
// CHECK:        %[[H:.*]] = arith.truncf %[[V]] : f32 to bf16
// CHECK:        %[[HF:.*]] = arith.extf %[[H]]
// CHECK:        %[[R:.*]] = arith.subf %[[V]], %[[HF]]
// CHECK:        %[[L:.*]] = arith.truncf %[[R]]
// CHECK:        linalg.yield %[[H]], %[[L]]
// CHECK:      rwkv_gpu.gemm %[[HI]], %{{.*}}, %[[YS]] :
// CHECK:      rwkv_gpu.gemm %[[LO]], %{{.*}}, %[[YS]] accumulate :
// CHECK:      memref.dealloc %[[HI]]
// CHECK:      memref.dealloc %[[LO]]
// CHECK:      return
func.func @bf16_filled(%x: memref<?x64xf32>, %w: memref<32x64xbf16>) -> memref<?x32xf32> {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %t = memref.dim %x, %c0 : memref<?x64xf32>
  %y = memref.alloc(%t) : memref<?x32xf32>
  linalg.fill ins(%zero : f32) outs(%y : memref<?x32xf32>)
  linalg.generic {indexing_maps = [#x, #w, #y],
                  iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w : memref<?x64xf32>, memref<32x64xbf16>)
      outs(%y : memref<?x32xf32>) {
  ^bb0(%a: f32, %b: bf16, %acc: f32):
    %e = arith.extf %b : bf16 to f32
    %m = arith.mulf %a, %e : f32
    %s = arith.addf %acc, %m : f32
    linalg.yield %s : f32
  }
  return %y : memref<?x32xf32>
}

// Left to the kernel alone: f16 W (f16 activations could overflow), and
// y starting at a value cuBLAS cannot add (1.0, folded into the kernel).
// CHECK-LABEL: func @f16
// CHECK-NOT:  rwkv_gpu
// CHECK:      gpu.launch
// CHECK-LABEL: func @filled_one
// CHECK-NOT:  rwkv_gpu
// CHECK:      gpu.launch
func.func @f16(%x: memref<?x64xf32>, %w: memref<32x64xf16>, %y: memref<?x32xf32>) {
  linalg.generic {indexing_maps = [#x, #w, #y],
                  iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w : memref<?x64xf32>, memref<32x64xf16>)
      outs(%y : memref<?x32xf32>) {
  ^bb0(%a: f32, %b: f16, %acc: f32):
    %e = arith.extf %b : f16 to f32
    %m = arith.mulf %a, %e : f32
    %s = arith.addf %acc, %m : f32
    linalg.yield %s : f32
  }
  return
}

func.func @filled_one(%x: memref<?x64xf32>, %w: memref<32x64xf32>, %y: memref<?x32xf32>) {
  %one = arith.constant 1.0 : f32
  linalg.fill ins(%one : f32) outs(%y : memref<?x32xf32>)
  linalg.generic {indexing_maps = [#x, #w, #y],
                  iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w : memref<?x64xf32>, memref<32x64xf32>)
      outs(%y : memref<?x32xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %m = arith.mulf %a, %b : f32
    %s = arith.addf %acc, %m : f32
    linalg.yield %s : f32
  }
  return
}

// A residual out = a + x W^T (y set to 0, read only by the add): the
// library path writes the product into y's first m rows, then the add runs
// over the first m rows of y, a and out (a kernel later, with no blocks
// when m = 0); the kernel path adds a itself.
// CHECK-LABEL: func @residual
// CHECK-SAME:    (%[[X:.*]]: memref<?x64xf32>, %[[W:.*]]: memref<32x64xf32>, %[[A:.*]]: memref<?x32xf32>)
// CHECK:      %[[Y:.*]] = memref.alloc
// CHECK:      %[[OUT:.*]] = memref.alloc
// CHECK:      gpu.launch
// CHECK:        memref.load %[[A]]
// CHECK:        memref.store %{{.*}}, %[[OUT]]
// CHECK:      %[[M:.*]] = arith.select
// CHECK:      %[[YS:.*]] = memref.subview %[[Y]][0, 0] [%[[M]], 32] [1, 1]
// CHECK:      rwkv_gpu.gemm %{{.*}}, %[[W]], %[[YS]] :
// CHECK:      %[[YS2:.*]] = memref.subview %[[Y]][0, 0] [%[[M]], 32] [1, 1]
// CHECK:      %[[AS:.*]] = memref.subview %[[A]][0, 0] [%[[M]], 32] [1, 1]
// CHECK:      %[[OS:.*]] = memref.subview %[[OUT]][0, 0] [%[[M]], 32] [1, 1]
// CHECK:      linalg.generic {{.*}} ins(%[[YS2]], %[[AS]] : {{.*}}) outs(%[[OS]] :
// CHECK:        arith.addf
// CHECK-NOT:  linalg.generic
// CHECK:      return %[[OUT]]
func.func @residual(%x: memref<?x64xf32>, %w: memref<32x64xf32>, %a: memref<?x32xf32>) -> memref<?x32xf32> {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %t = memref.dim %x, %c0 : memref<?x64xf32>
  %y = memref.alloc(%t) : memref<?x32xf32>
  linalg.fill ins(%zero : f32) outs(%y : memref<?x32xf32>)
  linalg.generic {indexing_maps = [#x, #w, #y],
                  iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w : memref<?x64xf32>, memref<32x64xf32>)
      outs(%y : memref<?x32xf32>) {
  ^bb0(%p: f32, %q: f32, %acc: f32):
    %m = arith.mulf %p, %q : f32
    %s = arith.addf %acc, %m : f32
    linalg.yield %s : f32
  }
  %out = memref.alloc(%t) : memref<?x32xf32>
  linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>],
                  iterator_types = ["parallel", "parallel"]}
      ins(%y, %a : memref<?x32xf32>, memref<?x32xf32>)
      outs(%out : memref<?x32xf32>) {
  ^bb0(%p: f32, %q: f32, %o: f32):
    %s = arith.addf %p, %q : f32
    linalg.yield %s : f32
  }
  memref.dealloc %y : memref<?x32xf32>
  return %out : memref<?x32xf32>
}

// BAD: blas-min-tokens >= 1
