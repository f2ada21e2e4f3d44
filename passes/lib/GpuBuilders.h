//===- GpuBuilders.h - pieces shared by the warp kernels ---------*- C++
//-*-===//
//
// rwkv-gpu-matmul and rwkv-gpu-reductions give a warp one output (a W row,
// a reduced row): its lanes stride the reduced axis, then sum their partial
// results with shuffles.
//
//===----------------------------------------------------------------------===//

#ifndef MODRWKV_PASSES_LIB_GPUBUILDERS_H
#define MODRWKV_PASSES_LIB_GPUBUILDERS_H

#include "mlir/IR/Builders.h"

namespace modrwkv {

constexpr int64_t kWarp = 32;

/// An index constant at `b`'s insertion point (each region builds its own:
/// a constant from an enclosing builder may land after its use).
mlir::Value indexConstant(mlir::OpBuilder &b, mlir::Location loc,
                          int64_t value);

/// The sum of the f32 `value` over the 32 lanes of the warp, in every lane
/// (a shuffle-xor tree; every lane of the warp must reach it).
mlir::Value warpSum(mlir::OpBuilder &b, mlir::Location loc, mlir::Value value);

} // namespace modrwkv

#endif // MODRWKV_PASSES_LIB_GPUBUILDERS_H
