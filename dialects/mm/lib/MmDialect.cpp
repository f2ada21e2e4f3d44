//===- MmDialect.cpp - the `mm` dialect -----------------------------------===//

#include "modrwkv/Dialect/Mm/MmDialect.h"

using namespace mlir;
using namespace modrwkv::mm;

#include "modrwkv/Dialect/Mm/MmDialect.cpp.inc"

void MmDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "modrwkv/Dialect/Mm/MmOps.cpp.inc"
      >();
}
