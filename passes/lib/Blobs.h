//===- Blobs.h - f32 weights held by dense_resource constants ---*- C++ -*-===//
//
// Passes that compute on weights at compile time (Bone merging, adapter
// folding) read and create f32 dense_resource constants through these.
//
//===----------------------------------------------------------------------===//

#ifndef MODRWKV_PASSES_LIB_BLOBS_H
#define MODRWKV_PASSES_LIB_BLOBS_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/Builders.h"

#include <optional>

namespace modrwkv {

/// The f32 data and key of a dense_resource constant.
struct Blob {
  llvm::ArrayRef<float> data;
  llvm::StringRef key;
  mlir::ShapedType type;
};

/// The blob behind `v`, if `v` is an f32 dense_resource constant.
std::optional<Blob> blobOf(mlir::Value v);

/// A new f32 dense_resource constant `key` of `type` whose values `fill`
/// writes (type.getNumElements() floats).
mlir::Value makeBlobConstant(mlir::OpBuilder &b, mlir::Location loc,
                             mlir::ShapedType type, llvm::StringRef key,
                             llvm::function_ref<void(float *)> fill);

/// A dense_resource constant `key` holding the elements of `value` (ints
/// and floats of whole bytes, and i1 as a byte each, as memrefs store
/// them); nullopt for other element types.
std::optional<mlir::Value> resourceCopy(mlir::OpBuilder &b, mlir::Location loc,
                                        mlir::DenseElementsAttr value,
                                        llvm::StringRef key);

} // namespace modrwkv

#endif // MODRWKV_PASSES_LIB_BLOBS_H
