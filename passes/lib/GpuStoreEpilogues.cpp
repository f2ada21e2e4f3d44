//===- GpuStoreEpilogues.cpp - element-wise readers into their writer -----===//
//
// A kernel built before the loop nests (a layer's group norm) writes a
// buffer that one element-wise loop nest then reads point by point (the
// output gate). That loop nest would be a kernel of its own, one more
// dependent launch per layer; here the writer computes it at each store.
//
//===----------------------------------------------------------------------===//

#include "modrwkv/Passes/Passes.h"

#include "Buffers.h"
#include "GpuBuilders.h"

#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Transforms/RegionUtils.h"

namespace modrwkv {
#define GEN_PASS_DEF_RWKVGPUSTOREEPILOGUES
#include "modrwkv/Passes/Passes.h.inc"
} // namespace modrwkv

using namespace mlir;
using modrwkv::rootBuffer;

namespace {

/// A reader `op` of the buffer `y`, which `writer` fills with stores: `use`
/// reads y (or `view`, an expand_shape of it) at the loop point.
struct Fusion {
  gpu::LaunchOp writer;
  linalg::GenericOp op;
  OpOperand *use;
  memref::ExpandShapeOp view; ///< null when `use` reads y itself
  SmallVector<memref::StoreOp> stores;
};

/// The loop point of `op` for y's indices `at`: through `view`, each group
/// of expanded dims takes the source index delinearized by the sizes of
/// the group's dims after the first (static).
SmallVector<Value> pointOf(OpBuilder &b, Location loc,
                           memref::ExpandShapeOp view, ValueRange at) {
  if (!view)
    return SmallVector<Value>(at);
  auto type = view.getResultType();
  SmallVector<Value> point(type.getRank());
  for (auto [source, group] : llvm::enumerate(view.getReassociationIndices())) {
    Value rest = at[source];
    for (int64_t d = group.size() - 1; d > 0; --d) {
      Value size =
          arith::ConstantIndexOp::create(b, loc, type.getDimSize(group[d]));
      point[group[d]] = arith::RemUIOp::create(b, loc, rest, size);
      rest = arith::DivUIOp::create(b, loc, rest, size);
    }
    point[group.front()] = rest;
  }
  return point;
}

/// A memref.dim at a constant index: it has a value without the buffer.
bool constantDim(Operation *op) {
  auto dim = dyn_cast<memref::DimOp>(op);
  return dim && dim.getConstantIndex();
}

/// Replaces the memref.dim users of `shaped` by `sizes` (its sizes).
void replaceDims(Value shaped, ArrayRef<OpFoldResult> sizes) {
  for (Operation *user : llvm::make_early_inc_range(shaped.getUsers()))
    if (auto dim = dyn_cast<memref::DimOp>(user)) {
      OpBuilder b(dim);
      dim.replaceAllUsesWith(getValueOrCreateConstantIndexOp(
          b, dim.getLoc(), sizes[*dim.getConstantIndex()]));
      dim.erase();
    }
}

/// `f` as a fusion, when it is one (see the pass description).
bool legal(Fusion &f, Value y) {
  linalg::GenericOp op = f.op;
  if (!modrwkv::appliesAtPoint(op, f.use))
    return false;
  if (f.view) {
    auto type = f.view.getResultType();
    for (const ReassociationIndices &group : f.view.getReassociationIndices())
      for (int64_t d : ArrayRef<int64_t>(group).drop_front())
        if (type.isDynamicDim(d))
          return false;
  }
  // y: written only by the writer's stores into y itself, read by nothing
  // else but the reader (and its view), freed after.
  bool onlyStores = true;
  for (Operation *user : y.getUsers()) {
    if (f.writer->isAncestor(user)) {
      auto store = dyn_cast<memref::StoreOp>(user);
      onlyStores &= store && store.getMemref() == y;
      if (store)
        f.stores.push_back(store);
      continue;
    }
    if (user == op.getOperation() || user == f.view.getOperation() ||
        isa<memref::DeallocOp>(user) || constantDim(user))
      continue;
    return false;
  }
  if (!onlyStores || f.stores.empty() ||
      (f.view && !llvm::all_of(f.view->getUsers(), [&](Operation *user) {
         return user == op.getOperation() || constantDim(user);
       })))
    return false;
  // The writer moves to the reader: nothing between touches what it does;
  // the reader's other buffers are not the writer's outputs, its outputs
  // nothing the writer touches.
  modrwkv::Access writer = modrwkv::accessOf(f.writer);
  if (writer.unknown)
    return false;
  for (Operation *between = f.writer->getNextNode(); between != op;
       between = between->getNextNode())
    if (!isMemoryEffectFree(between) &&
        modrwkv::conflict(writer, modrwkv::accessOf(between)))
      return false;
  for (OpOperand &operand : op->getOpOperands()) {
    Value root = rootBuffer(operand.get());
    if (&operand == f.use)
      continue;
    if ((root != y && writer.writes.contains(root)) ||
        (op.isDpsInit(&operand) && writer.reads.contains(root)))
      return false;
  }
  return true;
}

/// Each store of v at `at` becomes the reader's body at the point, with v
/// for y and its other inputs loaded there, storing its results.
void fuse(Fusion &f) {
  linalg::GenericOp op = f.op;
  f.writer->moveBefore(op);
  for (memref::StoreOp store : f.stores) {
    OpBuilder b(store);
    Location loc = store.getLoc();
    SmallVector<Value> point = pointOf(b, loc, f.view, store.getIndices());
    modrwkv::applyAtPoint(b, loc, op, f.use, store.getValueToStore(), point);
    store.erase();
  }
}

struct RwkvGpuStoreEpiloguesPass
    : public modrwkv::impl::RwkvGpuStoreEpiloguesBase<
          RwkvGpuStoreEpiloguesPass> {
  void runOnOperation() override {
    SmallVector<linalg::GenericOp> readers;
    getOperation().walk([&](linalg::GenericOp op) {
      if (!op->getParentOfType<gpu::LaunchOp>())
        readers.push_back(op);
    });
    for (linalg::GenericOp op : readers) {
      for (OpOperand *input : op.getDpsInputOperands()) {
        Value read = input->get();
        auto view = read.getDefiningOp<memref::ExpandShapeOp>();
        Value y = view ? view.getSrc() : read;
        if (!y.getDefiningOp<memref::AllocOp>())
          continue;
        // The one kernel that writes y, before the reader in its block.
        gpu::LaunchOp writer;
        for (Operation *user : y.getUsers())
          if (auto launch = user->getParentOfType<gpu::LaunchOp>())
            writer = launch;
        if (!writer || writer->getBlock() != op->getBlock() ||
            !writer->isBeforeInBlock(op))
          continue;
        Fusion f{writer, op, input, view, {}};
        if (!legal(f, y))
          continue;
        fuse(f);
        auto alloc = y.getDefiningOp<memref::AllocOp>();
        op.erase();
        if (view) {
          replaceDims(view, view.getMixedOutputShape());
          view.erase();
        }
        replaceDims(y, alloc.getMixedSizes());
        for (Operation *user : llvm::make_early_inc_range(y.getUsers()))
          user->erase(); // its deallocations
        alloc->erase();
        break;
      }
    }
  }
};

} // namespace
