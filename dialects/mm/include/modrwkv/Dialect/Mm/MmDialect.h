//===- MmDialect.h - the `mm` dialect ---------------------------*- C++ -*-===//
//
// ModRWKV's multimodal operations on tensors; see MmOps.td for the math.
//
//===----------------------------------------------------------------------===//

#ifndef MODRWKV_DIALECT_MM_MMDIALECT_H
#define MODRWKV_DIALECT_MM_MMDIALECT_H

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Dialect.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "modrwkv/Dialect/Mm/MmDialect.h.inc"

#define GET_OP_CLASSES
#include "modrwkv/Dialect/Mm/MmOps.h.inc"

namespace modrwkv::mm {
/// The length of a window product's output: (n + 2 padding - k) / stride + 1,
/// dynamic if n is, and < 1 if the sequence is shorter than the window.
int64_t windowOutputLength(int64_t n, int64_t kernel, int64_t stride,
                           int64_t padding);

/// Floating-point operations (a multiply-add counts 2) of the products in an
/// `mm.compress` or `mm.adapter`, 0 for other ops; nullopt where a size is
/// dynamic.
std::optional<int64_t> productFlops(mlir::Operation *op);
} // namespace modrwkv::mm

#endif // MODRWKV_DIALECT_MM_MMDIALECT_H
