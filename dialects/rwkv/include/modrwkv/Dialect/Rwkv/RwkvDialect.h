//===- RwkvDialect.h - the `rwkv` dialect -----------------------*- C++ -*-===//
//
// RWKV-7 model-level operations on tensors; see RwkvOps.td for the math.
//
//===----------------------------------------------------------------------===//

#ifndef MODRWKV_DIALECT_RWKV_RWKVDIALECT_H
#define MODRWKV_DIALECT_RWKV_RWKVDIALECT_H

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Dialect.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "modrwkv/Dialect/Rwkv/RwkvDialect.h.inc"

namespace modrwkv::rwkv {
/// Head size of RWKV-7 (x070); the recurrence and its state assume it.
constexpr int64_t kHeadSize = 64;
} // namespace modrwkv::rwkv

#define GET_OP_CLASSES
#include "modrwkv/Dialect/Rwkv/RwkvOps.h.inc"

namespace modrwkv::rwkv {

/// A Bone adapter attached to one linear weight of an op.
struct AdapterSlot {
  mlir::OpOperand *weight; ///< the [out, in] weight it modifies
  mlir::Value adapter;
  llvm::StringRef variant; ///< bone, bat_in or bat_out
  llvm::StringRef target;  ///< projection name (block ops) or "linear"
};

/// The adapters of an rwkv.linear, rwkv.time_mix or rwkv.channel_mix op;
/// empty for other ops.
llvm::SmallVector<AdapterSlot> getAdapterSlots(mlir::Operation *op);

/// Removes every adapter of `op` (after they were merged into weights).
void dropAdapters(mlir::Operation *op);

/// Whether a carried value (a [C] / [T, C] shift or an [H, 64, 64] /
/// [T, H, 64, 64] state) is in the batched form: one row per sequence.
inline bool isBatched(mlir::Value carried) {
  return llvm::cast<mlir::ShapedType>(carried.getType()).getRank() % 2 == 0;
}

/// Module attribute of a state-tuned model: an array with the learned
/// initial WKV state of each layer, f32 dense_resource [H, 64, 64]. No code
/// reads it; rwkv-externalize-weights stores it in the weight buffer, and
/// the runtime starts every fresh state from it.
constexpr llvm::StringLiteral kInitialStateAttrName = "rwkv.initial_state";

} // namespace modrwkv::rwkv

#endif // MODRWKV_DIALECT_RWKV_RWKVDIALECT_H
