//===- RwkvGpuDialect.h - the `rwkv_gpu` dialect ----------------*- C++ -*-===//
//
// GPU library calls in CUDA host code; see RwkvGpuOps.td.
//
//===----------------------------------------------------------------------===//

#ifndef MODRWKV_DIALECT_RWKVGPU_RWKVGPUDIALECT_H
#define MODRWKV_DIALECT_RWKVGPU_RWKVGPUDIALECT_H

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Dialect.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "modrwkv/Dialect/RwkvGpu/RwkvGpuDialect.h.inc"

#define GET_OP_CLASSES
#include "modrwkv/Dialect/RwkvGpu/RwkvGpuOps.h.inc"

#endif // MODRWKV_DIALECT_RWKVGPU_RWKVGPUDIALECT_H
