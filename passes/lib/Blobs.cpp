//===- Blobs.cpp - f32 weights held by dense_resource constants -----------===//

#include "Blobs.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectResourceBlobManager.h"

using namespace mlir;

namespace modrwkv {

std::optional<Blob> blobOf(Value v) {
  auto constant = v.getDefiningOp<arith::ConstantOp>();
  if (!constant)
    return std::nullopt;
  auto attr = dyn_cast<DenseResourceElementsAttr>(constant.getValue());
  if (!attr || !attr.getElementType().isF32())
    return std::nullopt;
  AsmResourceBlob *blob = attr.getRawHandle().getBlob();
  if (!blob)
    return std::nullopt;
  ArrayRef<char> bytes = blob->getData();
  auto type = cast<ShapedType>(attr.getType());
  if (bytes.size() != size_t(type.getNumElements()) * sizeof(float))
    return std::nullopt;
  return Blob{ArrayRef<float>(reinterpret_cast<const float *>(bytes.data()),
                              type.getNumElements()),
              attr.getRawHandle().getKey(), type};
}

Value makeBlobConstant(OpBuilder &b, Location loc, ShapedType type,
                       StringRef key, llvm::function_ref<void(float *)> fill) {
  AsmResourceBlob blob = HeapAsmResourceBlob::allocate(
      type.getNumElements() * sizeof(float), alignof(float), true);
  fill(reinterpret_cast<float *>(blob.getMutableData().data()));
  auto attr = DenseResourceElementsAttr::get(type, key, std::move(blob));
  return arith::ConstantOp::create(b, loc, attr);
}

} // namespace modrwkv
