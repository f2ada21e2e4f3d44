//===- ExternalizeWeights.cpp - weights as views of one mapped buffer -----===//
//
// Compiled code must not embed weights: the runtime maps weights.bin and
// passes its base address. This pass gives each function that uses
// dense_resource constants a leading `memref<?xi8>` argument, replaces the
// constants by typed views at aligned offsets, and records the layout in the
// module so that the artifact writer can pack the blobs.
//
//===----------------------------------------------------------------------===//

#include "modrwkv/Passes/Passes.h"

#include "Blobs.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectResourceBlobManager.h"

#include <limits>

namespace modrwkv {
#define GEN_PASS_DEF_RWKVEXTERNALIZEWEIGHTS
#include "modrwkv/Passes/Passes.h.inc"
} // namespace modrwkv

using namespace mlir;
using namespace modrwkv;

namespace {

struct RwkvExternalizeWeightsPass
    : public modrwkv::impl::RwkvExternalizeWeightsBase<
          RwkvExternalizeWeightsPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (alignment <= 0 || (alignment & (alignment - 1))) {
      module.emitError("alignment must be a power of two, got ") << alignment;
      return signalPassFailure();
    }
    if (module->hasAttr(kWeightsAttrName)) {
      module.emitError("module already has externalized weights");
      return signalPassFailure();
    }
    MLIRContext *ctx = &getContext();
    // One layout for the whole module: a resource used by several functions
    // is stored once.
    llvm::MapVector<Attribute, int64_t> offsets;
    int64_t end = 0;
    auto bytesOf = [](DenseResourceElementsAttr value) {
      auto type = cast<ShapedType>(value.getType());
      return type.getNumElements() * type.getElementTypeBitWidth() / 8;
    };
    // The offset of `value`, laid out at the end the first time.
    auto place = [&](DenseResourceElementsAttr value) {
      auto [it, inserted] = offsets.try_emplace(value, end);
      if (inserted)
        end = llvm::alignTo(end + bytesOf(value), alignment);
      return it->second;
    };

    for (auto func : module.getOps<func::FuncOp>()) {
      if (func.isExternal())
        continue;
      SmallVector<arith::ConstantOp> constants;
      func.walk([&](arith::ConstantOp op) {
        if (isa<DenseResourceElementsAttr>(op.getValue())) {
          constants.push_back(op);
          return;
        }
        auto value = dyn_cast<DenseElementsAttr>(op.getValue());
        if (!inlineConstants || !value || !isa<RankedTensorType>(op.getType()))
          return;
        OpBuilder b(op);
        std::optional<Value> copy =
            resourceCopy(b, op.getLoc(), value, "constant");
        if (!copy)
          return;
        op.replaceAllUsesWith(*copy);
        op.erase();
        constants.push_back(copy->getDefiningOp<arith::ConstantOp>());
      });
      if (constants.empty())
        continue;

      auto bufferType =
          MemRefType::get({ShapedType::kDynamic}, IntegerType::get(ctx, 8));
      if (failed(func.insertArgument(0, bufferType, DictionaryAttr(),
                                     func.getLoc()))) {
        func.emitError("cannot add the weight-buffer argument");
        return signalPassFailure();
      }
      BlockArgument buffer = func.getArgument(0);

      OpBuilder b(ctx);
      int64_t first = std::numeric_limits<int64_t>::max(), last = 0;
      for (arith::ConstantOp op : constants) {
        auto value = cast<DenseResourceElementsAttr>(op.getValue());
        auto type = cast<RankedTensorType>(value.getType());
        b.setInsertionPoint(op);
        Location loc = op.getLoc();
        int64_t at = place(value);
        first = std::min(first, at);
        last = std::max(last, at + bytesOf(value));
        Value offset = arith::ConstantIndexOp::create(b, loc, at);
        auto viewType = MemRefType::get(type.getShape(), type.getElementType());
        Value view = memref::ViewOp::create(b, loc, viewType, buffer, offset,
                                            ValueRange{});
        Value tensor = bufferization::ToTensorOp::create(
            b, loc, type, view, /*restrict=*/true, /*writable=*/false);
        op.replaceAllUsesWith(tensor);
        op.erase();
      }
      // The bytes this function reads: a device runtime uploads only those
      // for an encoder graph beside the language model.
      func.setArgAttr(0, kWeightsBufferAttrName,
                      DenseI64ArrayAttr::get(ctx, {first, last}));
    }

    // Data that only the runtime reads (a learned initial state) is laid
    // out after the weights.
    if (auto states =
            module->getAttrOfType<ArrayAttr>(rwkv::kInitialStateAttrName)) {
      for (Attribute a : states) {
        auto value = dyn_cast<DenseResourceElementsAttr>(a);
        if (!value) {
          module.emitError("'") << rwkv::kInitialStateAttrName
                                << "' holds a non-resource value " << a;
          return signalPassFailure();
        }
        place(value);
      }
    }

    SmallVector<Attribute> table;
    for (auto [value, offset] : offsets) {
      auto resource = cast<DenseResourceElementsAttr>(value);
      NamedAttribute entries[] = {
          NamedAttribute(
              StringAttr::get(ctx, "name"),
              StringAttr::get(ctx, resource.getRawHandle().getKey())),
          NamedAttribute(StringAttr::get(ctx, "offset"),
                         IntegerAttr::get(IntegerType::get(ctx, 64), offset)),
          NamedAttribute(StringAttr::get(ctx, "value"), resource)};
      table.push_back(DictionaryAttr::get(ctx, entries));
    }
    module->setAttr(kWeightsAttrName, ArrayAttr::get(ctx, table));
  }
};

} // namespace
