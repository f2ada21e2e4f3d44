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

DenseResourceElementsAttr makeBlob(ShapedType type, StringRef key,
                                   llvm::function_ref<void(float *)> fill) {
  AsmResourceBlob blob = HeapAsmResourceBlob::allocate(
      type.getNumElements() * sizeof(float), alignof(float), true);
  fill(reinterpret_cast<float *>(blob.getMutableData().data()));
  return DenseResourceElementsAttr::get(type, key, std::move(blob));
}

Value makeBlobConstant(OpBuilder &b, Location loc, ShapedType type,
                       StringRef key, llvm::function_ref<void(float *)> fill) {
  return arith::ConstantOp::create(b, loc, makeBlob(type, key, fill));
}

std::optional<Value> resourceCopy(OpBuilder &b, Location loc,
                                  DenseElementsAttr value, StringRef key) {
  Type element = value.getElementType();
  if (!element.isIntOrFloat())
    return std::nullopt;
  unsigned bits = element.getIntOrFloatBitWidth();
  if (bits != 1 && bits % 8 != 0)
    return std::nullopt;
  size_t width = std::max(1u, bits / 8);
  AsmResourceBlob blob = HeapAsmResourceBlob::allocate(
      value.getNumElements() * width, std::min<size_t>(width, 8), true);
  char *out = blob.getMutableData().data();
  auto put = [&](const APInt &v) {
    for (size_t i = 0; i < width; ++i)
      *out++ = char(
          v.extractBitsAsZExtValue(std::min<unsigned>(8, bits - 8 * i), 8 * i));
  };
  if (isa<FloatType>(element))
    for (const APFloat &v : value.getValues<APFloat>())
      put(v.bitcastToAPInt());
  else
    for (const APInt &v : value.getValues<APInt>())
      put(v);
  auto attr =
      DenseResourceElementsAttr::get(value.getType(), key, std::move(blob));
  return arith::ConstantOp::create(b, loc, attr).getResult();
}

using BlobEntry = DialectResourceBlobManager::BlobEntry;

BlobReleaser::BlobReleaser(Operation *root) {
  root->walk([&](Operation *op) {
    op->getAttrDictionary().walk([&](DenseResourceElementsAttr attr) {
      ++naming[attr.getRawHandle().getResource()];
    });
  });
}

void BlobReleaser::eraseIfUnused(Value value) {
  auto constant = value.getDefiningOp<arith::ConstantOp>();
  if (!constant || !constant->use_empty())
    return;
  auto attr = dyn_cast<DenseResourceElementsAttr>(constant.getValue());
  constant->erase();
  if (!attr)
    return;
  BlobEntry *entry = attr.getRawHandle().getResource();
  auto it = naming.find(entry);
  if (it != naming.end() && it->second > 0)
    --it->second;
  freeIfUnnamed(entry);
}

void BlobReleaser::hold(DenseResourceElementsAttr attr) {
  held.insert(attr.getRawHandle().getResource());
}

void BlobReleaser::release(DenseResourceElementsAttr attr) {
  BlobEntry *entry = attr.getRawHandle().getResource();
  held.erase(entry);
  freeIfUnnamed(entry);
}

void BlobReleaser::freeIfUnnamed(void *entry) {
  auto it = naming.find(entry);
  if (it != naming.end() && it->second == 0 && !held.contains(entry))
    static_cast<BlobEntry *>(entry)->setBlob(AsmResourceBlob());
}

} // namespace modrwkv
