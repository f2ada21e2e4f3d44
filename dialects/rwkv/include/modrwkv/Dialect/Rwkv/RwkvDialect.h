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

#endif // MODRWKV_DIALECT_RWKV_RWKVDIALECT_H
