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
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/DenseSet.h"

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

/// A new f32 dense_resource `key` of `type` whose values `fill` writes
/// (type.getNumElements() floats), and the same as a constant.
mlir::DenseResourceElementsAttr
makeBlob(mlir::ShapedType type, llvm::StringRef key,
         llvm::function_ref<void(float *)> fill);
mlir::Value makeBlobConstant(mlir::OpBuilder &b, mlir::Location loc,
                             mlir::ShapedType type, llvm::StringRef key,
                             llvm::function_ref<void(float *)> fill);

/// A dense_resource constant `key` holding the elements of `value` (ints
/// and floats of whole bytes, and i1 as a byte each, as memrefs store
/// them); nullopt for other element types.
std::optional<mlir::Value> resourceCopy(mlir::OpBuilder &b, mlir::Location loc,
                                        mlir::DenseElementsAttr value,
                                        llvm::StringRef key);

/// Counts the ops under a root that name each dense_resource blob, so that
/// a pass replacing weights by narrowed or merged copies frees each original
/// as soon as its last constant goes, not when the context dies: the peak
/// memory of a compile then holds one copy of the weights, not two.
class BlobReleaser {
public:
  explicit BlobReleaser(mlir::Operation *root);

  /// Erases the constant defining `value` when nothing uses it, and frees
  /// its blob's data when no op counted names the blob any more (and it is
  /// not held).
  void eraseIfUnused(mlir::Value value);

  /// Keeps `attr`'s data until release(attr), which frees it if no op
  /// names it by then: for copies written after the IR is rewritten.
  void hold(mlir::DenseResourceElementsAttr attr);
  void release(mlir::DenseResourceElementsAttr attr);

private:
  void freeIfUnnamed(void *entry);

  llvm::DenseMap<void *, unsigned> naming; ///< blob entry -> ops naming it
  llvm::DenseSet<void *> held;
};

} // namespace modrwkv

#endif // MODRWKV_PASSES_LIB_BLOBS_H
