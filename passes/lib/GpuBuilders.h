//===- GpuBuilders.h - pieces shared by the warp kernels --------*- C++ -*-===//
//
// rwkv-gpu-matmul, rwkv-gpu-reductions and rwkv-lower-norms-gpu give a warp
// one output (a W row, a reduced row, a normalized row): its lanes stride
// the reduced axis, then sum their partial results with shuffles.
//
//===----------------------------------------------------------------------===//

#ifndef MODRWKV_PASSES_LIB_GPUBUILDERS_H
#define MODRWKV_PASSES_LIB_GPUBUILDERS_H

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/IR/Builders.h"

#include <optional>

namespace modrwkv {

constexpr int64_t kWarp = 32;

/// An index constant at `b`'s insertion point (each region builds its own:
/// a constant from an enclosing builder may land after its use).
mlir::Value indexConstant(mlir::OpBuilder &b, mlir::Location loc,
                          int64_t value);

/// A launch of `warps` warps per block whose warp w of block (x, y) owns
/// item x * warps + w, for `items` items (grid x: enough blocks, grid y:
/// `gridY`). `body` builds where the item is in range: the whole warp takes
/// that branch, so shuffles inside see every lane.
struct WarpLaunch {
  mlir::gpu::LaunchOp launch;
  mlir::Value item, lane;
  mlir::OpBuilder body;
};
WarpLaunch createWarpLaunch(mlir::OpBuilder &b, mlir::Location loc,
                            mlir::Value items, mlir::Value gridY,
                            int64_t warps);

/// A read-only buffer view of `tensor` with any offset and row strides
/// (slices of larger activations stay views), for a kernel built on
/// tensors (its outputs: new buffers, back as bufferization.to_tensor).
mlir::Value toBuffer(mlir::OpBuilder &b, mlir::Location loc,
                     mlir::Value tensor);

/// The sum of the f32 `value` over the 32 lanes of the warp, in every lane
/// (a shuffle-xor tree; every lane of the warp must reach it).
mlir::Value warpSum(mlir::OpBuilder &b, mlir::Location loc, mlir::Value value);

/// `consumer` adds into every element of the buffer `y`. When the last op
/// before it that touches `y` (through any view) sets all of `y` to one
/// scalar v (a linalg.fill of `y`, or a linalg.copy into `y` from a buffer
/// that holds v: filled with it and not written since), that op is erased
/// (and the fill of the copied buffer too when nothing else reads it) and
/// v is returned: the consumer writes v + sum instead of loading y. Each
/// such initialization is a kernel launch on the GPU.
std::optional<mlir::Value> takeScalarInit(mlir::Operation *consumer,
                                          mlir::Value y);

/// Whether applyAtPoint can apply `op` with the element of `use` given: a
/// linalg.generic on buffers, every loop parallel, a body that reads no
/// memory, every operand read at a permutation of the loop dims or a part
/// of them, the outputs and `use` at the loop point, and no other operand
/// on `use`'s buffer.
bool appliesAtPoint(mlir::linalg::GenericOp op, mlir::OpOperand *use);

/// The body of `op` (an element-wise linalg.generic on buffers whose
/// operands are read at permutations of its loop dims or parts of them) at
/// the loop point `point`, built at `b`: `value` stands for operand `use`,
/// the other inputs the body uses are loaded there, and its results are
/// stored into its outputs there. A kernel that makes `use`'s element
/// applies `op` so instead of storing it.
void applyAtPoint(mlir::OpBuilder &b, mlir::Location loc,
                  mlir::linalg::GenericOp op, mlir::OpOperand *use,
                  mlir::Value value, llvm::ArrayRef<mlir::Value> point);

} // namespace modrwkv

#endif // MODRWKV_PASSES_LIB_GPUBUILDERS_H
