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

} // namespace modrwkv

#endif // MODRWKV_PASSES_LIB_BUFFERS_H
