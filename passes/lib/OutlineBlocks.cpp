//===- OutlineBlocks.cpp - layers share one function per block shape -----===//

#include "modrwkv/Dialect/Rwkv/RwkvDialect.h"
#include "modrwkv/Passes/Passes.h"

#include "mlir/IR/SymbolTable.h"

#include <algorithm>
#include <tuple>

namespace modrwkv {
#define GEN_PASS_DEF_RWKVOUTLINEBLOCKS
#include "modrwkv/Passes/Passes.h.inc"
} // namespace modrwkv

using namespace mlir;
using namespace modrwkv;
using namespace modrwkv::rwkv;

namespace {

/// Row-major strides with any offset: slices of the caller's state buffers
/// (one layer's rows) bufferize to views, passed without a copy.
void setSliceLayouts(func::FuncOp callee) {
  for (auto [index, type] : llvm::enumerate(callee.getArgumentTypes())) {
    auto tensor = dyn_cast<RankedTensorType>(type);
    if (!tensor ||
        llvm::any_of(tensor.getShape().drop_front(), ShapedType::isDynamic))
      continue;
    SmallVector<int64_t> strides(tensor.getRank(), 1);
    for (int64_t d = tensor.getRank() - 2; d >= 0; --d)
      strides[d] = strides[d + 1] * tensor.getDimSize(d + 1);
    callee.setArgAttr(
        index, bufferization::BufferizationDialect::kBufferLayoutAttrName,
        StridedLayoutAttr::get(callee.getContext(), ShapedType::kDynamic,
                               strides));
  }
}

struct RwkvOutlineBlocksPass
    : public modrwkv::impl::RwkvOutlineBlocksBase<RwkvOutlineBlocksPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<Operation *> blocks;
    module.walk([&](Operation *op) {
      if (isa<TimeMixOp, ChannelMixOp>(op))
        blocks.push_back(op);
    });
    // The op's name, attributes and types fix the computation; only the
    // operand values (weights, activations, state) differ between layers.
    using Key = std::tuple<OperationName, Attribute, Type>;
    llvm::DenseMap<Key, func::FuncOp> shared;
    SymbolTable symbols(module);
    for (Operation *op : blocks) {
      auto type = FunctionType::get(&getContext(), op->getOperandTypes(),
                                    op->getResultTypes());
      func::FuncOp &callee =
          shared[{op->getName(), op->getAttrDictionary(), type}];
      if (!callee) {
        auto b = OpBuilder::atBlockEnd(module.getBody());
        std::string name = op->getName().getStringRef().str();
        std::replace(name.begin(), name.end(), '.', '_');
        callee = func::FuncOp::create(b, op->getLoc(), name, type);
        callee.setPrivate();
        setSliceLayouts(callee);
        symbols.insert(callee);
        b.setInsertionPointToStart(callee.addEntryBlock());
        // Operand i becomes argument i, even where a caller passes one value
        // twice: other callers may not.
        Operation *body = b.clone(*op);
        body->setOperands(callee.getArguments());
        func::ReturnOp::create(b, op->getLoc(), body->getResults());
      }
      OpBuilder b(op);
      auto call =
          func::CallOp::create(b, op->getLoc(), callee, op->getOperands());
      op->replaceAllUsesWith(call.getResults());
      op->erase();
    }
  }
};

} // namespace
