//===- Buffers.cpp - views of buffers -------------------------------------===//

#include "Buffers.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Interfaces/FunctionInterfaces.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Interfaces/ViewLikeInterface.h"

using namespace mlir;

namespace modrwkv {

Value rootBuffer(Value memref) {
  while (auto view = memref.getDefiningOp<ViewLikeOpInterface>())
    memref = view.getViewSource();
  return memref;
}

llvm::SmallPtrSet<Value, 8> aliases(Value buffer) {
  llvm::SmallPtrSet<Value, 8> set;
  SmallVector<Value> work = {buffer};
  while (!work.empty()) {
    Value v = work.pop_back_val();
    if (!set.insert(v).second)
      continue;
    for (Operation *user : v.getUsers())
      if (auto view = dyn_cast<ViewLikeOpInterface>(user);
          view && view.getViewSource() == v)
        llvm::append_range(work, user->getResults());
  }
  return set;
}

bool touches(Operation *op, const llvm::SmallPtrSet<Value, 8> &set) {
  return llvm::any_of(set, [&](Value v) {
    return llvm::any_of(v.getUsers(),
                        [&](Operation *user) { return op->isAncestor(user); });
  });
}

/// Buffers whose identity is their root: allocations, and the arguments of
/// a function.
static bool knownRoot(Value buffer) {
  if (auto arg = dyn_cast<BlockArgument>(buffer)) {
    Block *owner = arg.getOwner();
    return owner->isEntryBlock() &&
           isa<FunctionOpInterface>(owner->getParentOp());
  }
  return isa<gpu::AllocOp, memref::AllocOp, memref::AllocaOp>(
      buffer.getDefiningOp());
}

Access accessOf(Operation *root) {
  Access access;
  root->walk([&](Operation *op) {
    if (op->hasTrait<OpTrait::HasRecursiveMemoryEffects>() ||
        isa<gpu::TerminatorOp>(op))
      return;
    auto iface = dyn_cast<MemoryEffectOpInterface>(op);
    if (!iface) {
      access.unknown = true;
      return;
    }
    SmallVector<MemoryEffects::EffectInstance> effects;
    iface.getEffects(effects);
    for (const MemoryEffects::EffectInstance &effect : effects) {
      Value value = effect.getValue();
      if (!value) {
        access.unknown = true;
        continue;
      }
      Value buffer = rootBuffer(value);
      Operation *def = buffer.getDefiningOp();
      // Memory that lives and dies inside the op (a kernel's allocas).
      if (def && def != root && root->isAncestor(def))
        continue;
      if (!knownRoot(buffer)) {
        access.unknown = true;
        continue;
      }
      if (isa<MemoryEffects::Read>(effect.getEffect()))
        access.reads.insert(buffer);
      else
        access.writes.insert(buffer); // write, free, allocate
    }
  });
  return access;
}

bool conflict(const Access &a, const Access &b) {
  if (a.unknown || b.unknown)
    return true;
  auto meets = [](const llvm::SmallPtrSet<Value, 4> &x,
                  const llvm::SmallPtrSet<Value, 4> &y) {
    return llvm::any_of(x, [&](Value v) { return y.contains(v); });
  };
  return meets(a.writes, b.writes) || meets(a.writes, b.reads) ||
         meets(a.reads, b.writes);
}

} // namespace modrwkv
