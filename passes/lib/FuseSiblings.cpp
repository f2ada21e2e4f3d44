//===- FuseSiblings.cpp - adjacent element-wise generics as one -----------===//
//
// After the producer-consumer fusion, a layer still has runs of independent
// element-wise generics over the same domain: the six token-shift lerps
// read the same two rows and each write their own. On the GPU each one is a
// kernel launch; merged, a run is one kernel with several outputs.
//
//===----------------------------------------------------------------------===//

#include "modrwkv/Passes/Passes.h"

#include "Buffers.h"

#include "mlir/IR/IRMapping.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Interfaces/ValueBoundsOpInterface.h"

namespace modrwkv {
#define GEN_PASS_DEF_RWKVFUSESIBLINGS
#include "modrwkv/Passes/Passes.h.inc"
} // namespace modrwkv

using namespace mlir;
using modrwkv::rootBuffer;

namespace {

bool elementwise(linalg::GenericOp op) {
  return op.hasPureBufferSemantics() &&
         op.getNumParallelLoops() == op.getNumLoops() &&
         llvm::all_of(op.getDpsInitsMutable(), [&](OpOperand &out) {
           return op.getMatchingIndexingMap(&out).isIdentity();
         });
}

/// Whether `next` can join `group`: the same loop domain (its first output
/// has the shape of the group's), and every buffer one of them writes is
/// touched by the others only as the same SSA value at the same point
/// (identity maps), so running them point by point in one loop keeps each
/// read before the write of that point.
bool joins(ArrayRef<linalg::GenericOp> group, linalg::GenericOp next) {
  linalg::GenericOp first = group.front();
  if (!elementwise(next) || next.getNumLoops() != first.getNumLoops())
    return false;
  Value a = first.getDpsInits()[0], b = next.getDpsInits()[0];
  auto aType = cast<MemRefType>(a.getType()),
       bType = cast<MemRefType>(b.getType());
  if (aType.getShape() != bType.getShape())
    return false;
  for (int64_t d = 0; d < aType.getRank(); ++d) {
    if (!aType.isDynamicDim(d))
      continue;
    FailureOr<bool> equal = ValueBoundsConstraintSet::areEqual({a, d}, {b, d});
    if (failed(equal) || !*equal)
      return false;
  }
  SmallVector<linalg::GenericOp> all(group);
  all.push_back(next);
  llvm::SmallPtrSet<Value, 8> writtenRoots;
  for (linalg::GenericOp writer : all)
    for (Value written : writer.getDpsInits())
      if (!writtenRoots.insert(rootBuffer(written)).second)
        return false; // written twice
  // Loads in a body (an indexed token shift's) must not see the run's
  // writes; bodies that write memory are not merged.
  for (linalg::GenericOp op : all) {
    bool clash = false;
    op.getBlock()->walk([&](Operation *inner) {
      if (isMemoryEffectFree(inner))
        return;
      auto load = dyn_cast<memref::LoadOp>(inner);
      clash |= !load || writtenRoots.contains(rootBuffer(load.getMemref()));
    });
    if (clash)
      return false;
  }
  for (linalg::GenericOp writer : all)
    for (Value written : writer.getDpsInits())
      for (linalg::GenericOp other : all)
        for (OpOperand &use : other->getOpOperands()) {
          if (rootBuffer(use.get()) != rootBuffer(written))
            continue;
          if (use.get() != written ||
              !other.getMatchingIndexingMap(&use).isIdentity())
            return false;
        }
  return true;
}

/// Ops a run may step over: they touch no buffer's contents (the buffers
/// of the later ops of a run are allocated between them).
bool neutral(Operation &op) {
  return isMemoryEffectFree(&op) || isa<memref::AllocOp>(op);
}

/// One generic for the run, in place of its last op (where every operand
/// is defined): the inputs of all (each once per map), their outputs, and
/// their bodies one after the other. A generic loads its operands before
/// its body runs, so a value an earlier body of the run wrote at this point
/// is taken from that body instead of loaded.
void merge(ArrayRef<linalg::GenericOp> group) {
  linalg::GenericOp first = group.front();
  OpBuilder b(group.back());
  SmallVector<Value> inputs, outputs;
  SmallVector<AffineMap> inputMaps, outputMaps;
  SmallVector<std::pair<Value, AffineMap>> seen;
  for (linalg::GenericOp op : group)
    for (OpOperand *in : op.getDpsInputOperands()) {
      std::pair<Value, AffineMap> key{in->get(), op.getMatchingIndexingMap(in)};
      if (llvm::is_contained(seen, key))
        continue;
      seen.push_back(key);
      inputs.push_back(key.first);
      inputMaps.push_back(key.second);
    }
  for (linalg::GenericOp op : group)
    for (OpOperand &out : op.getDpsInitsMutable()) {
      outputs.push_back(out.get());
      outputMaps.push_back(op.getMatchingIndexingMap(&out));
    }
  SmallVector<AffineMap> maps(inputMaps);
  maps.append(outputMaps);
  linalg::GenericOp::create(
      b, first.getLoc(), TypeRange{}, inputs, outputs, maps,
      first.getIteratorTypesArray(),
      [&](OpBuilder &nb, Location loc, ValueRange args) {
        SmallVector<Value> results;
        llvm::DenseMap<Value, Value> written; ///< buffer -> value stored
        auto current = [&](Value buffer, Value loaded) {
          Value stored = written.lookup(buffer);
          return stored ? stored : loaded;
        };
        unsigned outIndex = inputs.size();
        for (linalg::GenericOp op : group) {
          IRMapping mapping;
          for (OpOperand *in : op.getDpsInputOperands()) {
            std::pair<Value, AffineMap> key{in->get(),
                                            op.getMatchingIndexingMap(in)};
            mapping.map(
                op.getMatchingBlockArgument(in),
                current(in->get(), args[llvm::find(seen, key) - seen.begin()]));
          }
          for (OpOperand &out : op.getDpsInitsMutable()) {
            mapping.map(op.getMatchingBlockArgument(&out),
                        current(out.get(), args[outIndex]));
            ++outIndex;
          }
          for (Operation &bodyOp : op.getBlock()->without_terminator())
            nb.clone(bodyOp, mapping);
          for (auto [out, v] :
               llvm::zip(op.getDpsInits(),
                         op.getBlock()->getTerminator()->getOperands())) {
            results.push_back(mapping.lookupOrDefault(v));
            written[out] = results.back();
          }
        }
        linalg::YieldOp::create(nb, loc, results);
      });
  for (linalg::GenericOp op : group)
    op.erase();
}

struct RwkvFuseSiblingsPass
    : public modrwkv::impl::RwkvFuseSiblingsBase<RwkvFuseSiblingsPass> {
  using Base::Base;

  void runOnOperation() override {
    SmallVector<SmallVector<linalg::GenericOp>> runs;
    getOperation().walk([&](Block *block) {
      if (block->getParentOp()->getParentOfType<gpu::LaunchOp>() ||
          isa<gpu::LaunchOp>(block->getParentOp()))
        return;
      SmallVector<linalg::GenericOp> run;
      auto flush = [&] {
        if (run.size() > 1)
          runs.push_back(run);
        run.clear();
      };
      for (Operation &op : *block) {
        auto generic = dyn_cast<linalg::GenericOp>(op);
        if (generic && !run.empty() && joins(run, generic)) {
          run.push_back(generic);
          continue;
        }
        if (!generic && neutral(op))
          continue;
        flush();
        if (generic && elementwise(generic))
          run.push_back(generic);
      }
      flush();
    });
    for (const auto &run : runs)
      merge(run);
  }
};

} // namespace
