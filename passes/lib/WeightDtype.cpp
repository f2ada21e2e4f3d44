//===- WeightDtype.cpp - bf16 storage for matrix weights ------------------===//

#include "modrwkv/Dialect/Rwkv/RwkvDialect.h"
#include "modrwkv/Passes/Passes.h"

#include "mlir/IR/DialectResourceBlobManager.h"

#include <cstring>

namespace modrwkv {
#define GEN_PASS_DEF_RWKVWEIGHTDTYPE
#include "modrwkv/Passes/Passes.h.inc"
} // namespace modrwkv

using namespace mlir;
using namespace modrwkv::rwkv;

namespace {

/// Round to nearest even; NaN stays NaN.
uint16_t toBf16(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  if ((bits & 0x7fffffff) > 0x7f800000)
    return uint16_t((bits >> 16) | 0x40);
  bits += 0x7fff + ((bits >> 16) & 1);
  return uint16_t(bits >> 16);
}

struct RwkvWeightDtypePass
    : public modrwkv::impl::RwkvWeightDtypeBase<RwkvWeightDtypePass> {
  using Base::Base;

  void runOnOperation() override {
    if (dtype == "f32")
      return;
    if (dtype != "bf16") {
      getOperation().emitError("rwkv-weight-dtype: unsupported dtype '")
          << dtype << "' (f32, bf16)";
      return signalPassFailure();
    }
    // One bf16 copy per f32 resource, however many ops use it.
    llvm::DenseMap<Attribute, Attribute> converted;
    getOperation().walk([&](Operation *op) {
      OpOperand *weight = nullptr;
      if (auto linear = dyn_cast<LinearOp>(op)) {
        if (!linear.getAdapter())
          weight = &linear.getWeightMutable();
      } else if (auto embedding = dyn_cast<EmbeddingOp>(op)) {
        weight = &embedding.getTableMutable();
      }
      if (!weight)
        return;
      auto constant = weight->get().getDefiningOp<arith::ConstantOp>();
      auto attr = constant
                      ? dyn_cast<DenseResourceElementsAttr>(constant.getValue())
                      : nullptr;
      if (!attr || !attr.getElementType().isF32() ||
          !attr.getRawHandle().getBlob())
        return;
      Attribute &bf16 = converted[attr];
      if (!bf16) {
        ArrayRef<char> bytes = attr.getRawHandle().getBlob()->getData();
        auto type = cast<ShapedType>(attr.getType());
        size_t n = type.getNumElements();
        if (bytes.size() != n * sizeof(float))
          return;
        AsmResourceBlob blob =
            HeapAsmResourceBlob::allocate(n * 2, alignof(uint16_t), true);
        auto *out = reinterpret_cast<uint16_t *>(blob.getMutableData().data());
        const auto *in = reinterpret_cast<const float *>(bytes.data());
        for (size_t i = 0; i < n; ++i)
          out[i] = toBf16(in[i]);
        bf16 = DenseResourceElementsAttr::get(
            type.clone(BFloat16Type::get(&getContext())),
            (attr.getRawHandle().getKey() + ".bf16").str(), std::move(blob));
      }
      OpBuilder b(op);
      weight->set(
          arith::ConstantOp::create(b, op->getLoc(), cast<TypedAttr>(bf16)));
    });
  }
};

} // namespace
