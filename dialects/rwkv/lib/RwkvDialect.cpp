//===- RwkvDialect.cpp - the `rwkv` dialect -------------------------------===//

#include "modrwkv/Dialect/Rwkv/RwkvDialect.h"

using namespace mlir;
using namespace modrwkv::rwkv;

#include "modrwkv/Dialect/Rwkv/RwkvDialect.cpp.inc"

void RwkvDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "modrwkv/Dialect/Rwkv/RwkvOps.cpp.inc"
      >();
}
