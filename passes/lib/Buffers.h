//===- Buffers.h - views of buffers -----------------------------*- C++ -*-===//
//
// After bufferization a buffer is reached through chains of views
// (expand_shape, subview, memref.view, ...): the passes that reason about
// which op touches which memory follow them in both directions.
//
//===----------------------------------------------------------------------===//

#ifndef MODRWKV_PASSES_LIB_BUFFERS_H
#define MODRWKV_PASSES_LIB_BUFFERS_H

#include "mlir/IR/Value.h"

#include "llvm/ADT/SmallPtrSet.h"

namespace modrwkv {

/// The buffer `memref` is a view of: a block argument or an allocation.
mlir::Value rootBuffer(mlir::Value memref);

/// `buffer` and every view of it, transitively.
llvm::SmallPtrSet<mlir::Value, 8> aliases(mlir::Value buffer);

/// Whether `op` or an op inside it (a kernel's body) uses a value of `set`.
bool touches(mlir::Operation *op, const llvm::SmallPtrSet<mlir::Value, 8> &set);

/// The buffers (roots of views) an op and the ops inside it read and write;
/// `unknown` when some effect names no buffer, or a buffer reached other
/// than through views of an allocation or a function argument (the
/// runtime passes distinct buffers), which may alias any other.
struct Access {
  llvm::SmallPtrSet<mlir::Value, 4> reads, writes;
  bool unknown = false;
};
Access accessOf(mlir::Operation *op);

/// Whether ops with accesses `a` and `b` may not swap: one writes what the
/// other touches (or either is unknown).
bool conflict(const Access &a, const Access &b);

} // namespace modrwkv

#endif // MODRWKV_PASSES_LIB_BUFFERS_H
