// RUN: modrwkv-opt %s -split-input-file -verify-diagnostics
// Shape and type rules of rwkv_gpu.gemm.

func.func @mixed(%x: memref<?x64xf32>, %w: memref<32x64xbf16>, %y: memref<?x32xf32>) {
  // expected-error @+1 {{x and W must have one element type, got 'f32' and 'bf16'}}
  rwkv_gpu.gemm %x, %w, %y : memref<?x64xf32>, memref<32x64xbf16>, memref<?x32xf32>
  return
}

// -----

func.func @depth(%x: memref<?x48xf32>, %w: memref<32x64xf32>, %y: memref<?x32xf32>) {
  // expected-error @+1 {{x has 48 columns, W 64}}
  rwkv_gpu.gemm %x, %w, %y : memref<?x48xf32>, memref<32x64xf32>, memref<?x32xf32>
  return
}

// -----

func.func @rows(%x: memref<?x64xf32>, %w: memref<32x64xf32>, %y: memref<?x16xf32>) {
  // expected-error @+1 {{y has 16 columns, W 32 rows}}
  rwkv_gpu.gemm %x, %w, %y : memref<?x64xf32>, memref<32x64xf32>, memref<?x16xf32>
  return
}

// -----

func.func @tokens(%x: memref<4x64xf32>, %w: memref<32x64xf32>, %y: memref<5x32xf32>) {
  // expected-error @+1 {{y has 5 rows, x 4}}
  rwkv_gpu.gemm %x, %w, %y : memref<4x64xf32>, memref<32x64xf32>, memref<5x32xf32>
  return
}

// -----

func.func @stride(%x: memref<?x64xf32, strided<[128, 2]>>, %w: memref<32x64xf32>, %y: memref<?x32xf32>) {
  // expected-error @+1 {{x must have unit innermost stride}}
  rwkv_gpu.gemm %x, %w, %y : memref<?x64xf32, strided<[128, 2]>>, memref<32x64xf32>, memref<?x32xf32>
  return
}

// -----

func.func @f16(%x: memref<?x64xf16>, %w: memref<32x64xf16>, %y: memref<?x32xf32>) {
  // expected-error @+1 {{operand #0 must be 2D memref of 32-bit float or bfloat16 type values}}
  rwkv_gpu.gemm %x, %w, %y : memref<?x64xf16>, memref<32x64xf16>, memref<?x32xf32>
  return
}
