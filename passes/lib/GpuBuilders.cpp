//===- GpuBuilders.cpp - pieces shared by the warp kernels ----------------===//

#include "GpuBuilders.h"

#include "Buffers.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Interfaces/ViewLikeInterface.h"

using namespace mlir;

namespace modrwkv {

Value indexConstant(OpBuilder &b, Location loc, int64_t value) {
  return arith::ConstantIndexOp::create(b, loc, value);
}

WarpLaunch createWarpLaunch(OpBuilder &b, Location loc, Value items,
                            Value gridY, int64_t warps) {
  Value c1 = indexConstant(b, loc, 1);
  std::optional<int64_t> known = getConstantIntValue(items);
  Value gridX =
      known ? indexConstant(b, loc,
                            std::max<int64_t>((*known + warps - 1) / warps, 1))
            : arith::MaxUIOp::create(
                  b, loc,
                  arith::CeilDivUIOp::create(b, loc, items,
                                             indexConstant(b, loc, warps)),
                  c1)
                  .getResult();
  auto launch = gpu::LaunchOp::create(
      b, loc, gridX, gridY, c1, indexConstant(b, loc, kWarp * warps), c1, c1);
  OpBuilder kb = OpBuilder::atBlockBegin(&launch.getBody().front());
  Value tid = launch.getThreadIds().x;
  Value warp =
      arith::DivUIOp::create(kb, loc, tid, indexConstant(kb, loc, kWarp));
  Value lane =
      arith::RemUIOp::create(kb, loc, tid, indexConstant(kb, loc, kWarp));
  Value item = arith::AddIOp::create(
      kb, loc,
      arith::MulIOp::create(kb, loc, launch.getBlockIds().x,
                            indexConstant(kb, loc, warps)),
      warp);
  Value inRange =
      arith::CmpIOp::create(kb, loc, arith::CmpIPredicate::ult, item, items);
  auto guard = scf::IfOp::create(kb, loc, inRange, /*withElse=*/false);
  gpu::TerminatorOp::create(kb, loc);
  return {launch, item, lane, OpBuilder::atBlockBegin(guard.thenBlock())};
}

Value toBuffer(OpBuilder &b, Location loc, Value tensor) {
  auto type = cast<RankedTensorType>(tensor.getType());
  SmallVector<int64_t> strides(type.getRank(), ShapedType::kDynamic);
  strides.back() = 1;
  auto layout =
      StridedLayoutAttr::get(b.getContext(), ShapedType::kDynamic, strides);
  auto memrefType =
      MemRefType::get(type.getShape(), type.getElementType(), layout);
  return bufferization::ToBufferOp::create(b, loc, memrefType, tensor,
                                           /*read_only=*/true);
}

Value warpSum(OpBuilder &b, Location loc, Value value) {
  for (int32_t offset = kWarp / 2; offset > 0; offset /= 2) {
    auto shuffle = gpu::ShuffleOp::create(b, loc, value, offset, kWarp,
                                          gpu::ShuffleMode::XOR);
    value = arith::AddFOp::create(b, loc, value, shuffle.getShuffleResult());
  }
  return value;
}

namespace {

/// Whether `op` only reads the buffers of `set` (a copy from them, or a
/// linalg op with them among its inputs only).
bool onlyReads(Operation *op, const llvm::SmallPtrSet<Value, 8> &set) {
  auto linalgOp = dyn_cast<linalg::LinalgOp>(op);
  return linalgOp && linalgOp.hasPureBufferSemantics() &&
         llvm::none_of(linalgOp.getDpsInits(),
                       [&](Value v) { return set.contains(v); });
}

/// The scalar `source` holds at `copy`: the value of its last fill, when
/// nothing between that fill and `copy` writes it.
std::optional<std::pair<linalg::FillOp, Value>> heldScalar(Operation *copy,
                                                           Value source) {
  llvm::SmallPtrSet<Value, 8> set = aliases(source);
  for (Operation *op = copy->getPrevNode(); op; op = op->getPrevNode()) {
    if (!touches(op, set) || isa<ViewLikeOpInterface>(op))
      continue;
    if (auto fill = dyn_cast<linalg::FillOp>(op);
        fill && fill.getOutputs()[0] == source)
      return std::make_pair(fill, fill.getInputs()[0]);
    if (!onlyReads(op, set))
      return std::nullopt;
  }
  return std::nullopt;
}

} // namespace

std::optional<Value> takeScalarInit(Operation *consumer, Value y) {
  llvm::SmallPtrSet<Value, 8> set = aliases(y);
  Operation *init = consumer->getPrevNode();
  while (init && (!touches(init, set) || isa<ViewLikeOpInterface>(init)))
    init = init->getPrevNode();
  if (!init)
    return std::nullopt;
  if (auto fill = dyn_cast<linalg::FillOp>(init);
      fill && fill.getOutputs()[0] == y) {
    Value v = fill.getInputs()[0];
    fill.erase();
    return v;
  }
  auto copy = dyn_cast<linalg::CopyOp>(init);
  if (!copy || copy.getOutputs()[0] != y)
    return std::nullopt;
  Value source = copy.getInputs()[0];
  auto held = heldScalar(copy, source);
  if (!held)
    return std::nullopt;
  copy.erase();
  linalg::FillOp fill = held->first;
  Value v = held->second;
  llvm::SmallPtrSet<Value, 8> sourceSet = aliases(source);
  bool read = llvm::any_of(sourceSet, [&](Value alias) {
    return llvm::any_of(alias.getUsers(), [&](Operation *user) {
      return user != fill.getOperation() &&
             !isa<memref::DeallocOp, ViewLikeOpInterface>(user);
    });
  });
  if (!read)
    fill.erase();
  return v;
}

bool appliesAtPoint(linalg::GenericOp op, OpOperand *use) {
  if (!op.hasPureBufferSemantics() ||
      op.getNumParallelLoops() != op.getNumLoops() ||
      !llvm::all_of(op.getBlock()->without_terminator(), [](Operation &inner) {
        return isMemoryEffectFree(&inner);
      }))
    return false;
  Value buffer = rootBuffer(use->get());
  for (OpOperand &operand : op->getOpOperands()) {
    AffineMap map = op.getMatchingIndexingMap(&operand);
    if (!map.isProjectedPermutation() ||
        ((op.isDpsInit(&operand) || &operand == use) && !map.isIdentity()) ||
        (&operand != use && rootBuffer(operand.get()) == buffer))
      return false;
  }
  return !op.isDpsInit(use);
}

void applyAtPoint(OpBuilder &b, Location loc, linalg::GenericOp op,
                  OpOperand *use, Value value, ArrayRef<Value> point) {
  auto indices = [&](OpOperand &operand) {
    SmallVector<Value> result;
    for (AffineExpr e : op.getMatchingIndexingMap(&operand).getResults())
      result.push_back(point[cast<AffineDimExpr>(e).getPosition()]);
    return result;
  };
  IRMapping mapping;
  for (OpOperand &operand : op->getOpOperands()) {
    BlockArgument arg = op.getMatchingBlockArgument(&operand);
    if (&operand == use)
      mapping.map(arg, value);
    else if (!arg.use_empty())
      mapping.map(
          arg, memref::LoadOp::create(b, loc, operand.get(), indices(operand)));
  }
  for (Operation &inner : op.getBlock()->without_terminator())
    b.clone(inner, mapping);
  for (auto [out, v] : llvm::zip(op.getDpsInitsMutable(),
                                 op.getBlock()->getTerminator()->getOperands()))
    memref::StoreOp::create(b, loc, mapping.lookupOrDefault(v), out.get(),
                            indices(out));
}

} // namespace modrwkv
