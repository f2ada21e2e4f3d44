//===- RwkvGpuDialect.cpp - the `rwkv_gpu` dialect ------------------------===//

#include "modrwkv/Dialect/RwkvGpu/RwkvGpuDialect.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/OpImplementation.h"

using namespace mlir;
using namespace modrwkv::rwkv_gpu;

#include "modrwkv/Dialect/RwkvGpu/RwkvGpuDialect.cpp.inc"

void RwkvGpuDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "modrwkv/Dialect/RwkvGpu/RwkvGpuOps.cpp.inc"
      >();
}

namespace {

/// `async`? (`[` token (`,` token)* `]`)?, as gpu.launch_func spells its
/// position in a gpu.async.token chain.
ParseResult parseAsyncDependencies(
    OpAsmParser &parser, Type &tokenType,
    SmallVectorImpl<OpAsmParser::UnresolvedOperand> &dependencies) {
  if (succeeded(parser.parseOptionalKeyword("async")))
    tokenType = parser.getBuilder().getType<gpu::AsyncTokenType>();
  return parser.parseOperandList(dependencies,
                                 OpAsmParser::Delimiter::OptionalSquare);
}

void printAsyncDependencies(OpAsmPrinter &printer, Operation *, Type tokenType,
                            OperandRange dependencies) {
  if (tokenType)
    printer << "async";
  if (dependencies.empty())
    return;
  if (tokenType)
    printer << ' ';
  printer << '[';
  llvm::interleaveComma(dependencies, printer);
  printer << ']';
}

} // namespace

#define GET_OP_CLASSES
#include "modrwkv/Dialect/RwkvGpu/RwkvGpuOps.cpp.inc"

LogicalResult GemmOp::verify() {
  auto x = cast<MemRefType>(getX().getType());
  auto w = cast<MemRefType>(getW().getType());
  auto y = cast<MemRefType>(getY().getType());
  if (x.getElementType() != w.getElementType())
    return emitOpError("x and W must have one element type, got ")
           << x.getElementType() << " and " << w.getElementType();
  auto agree = [](int64_t a, int64_t b) {
    return ShapedType::isDynamic(a) || ShapedType::isDynamic(b) || a == b;
  };
  if (!agree(x.getDimSize(1), w.getDimSize(1)))
    return emitOpError("x has ")
           << x.getDimSize(1) << " columns, W " << w.getDimSize(1);
  if (!agree(y.getDimSize(1), w.getDimSize(0)))
    return emitOpError("y has ")
           << y.getDimSize(1) << " columns, W " << w.getDimSize(0) << " rows";
  if (!agree(y.getDimSize(0), x.getDimSize(0)))
    return emitOpError("y has ")
           << y.getDimSize(0) << " rows, x " << x.getDimSize(0);
  for (auto [name, type] : {std::pair{"x", x}, {"W", w}, {"y", y}})
    if (!type.isLastDimUnitStride())
      return emitOpError(name) << " must have unit innermost stride";
  return success();
}
