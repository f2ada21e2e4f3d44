//===- Buffers.cpp - views of buffers -------------------------------------===//

#include "Buffers.h"

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

} // namespace modrwkv
