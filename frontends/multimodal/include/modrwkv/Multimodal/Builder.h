//===- Builder.h - an encoder entry for a ModRWKV model ---------*- C++ -*-===//
//
// Joins an encoder tower (an ONNX graph imported as a callable function) and
// a checkpoint's projector to the language-model module:
//
//   func @encode_<modality>(memref<tower input>..., memref<n' x C> features)
//     = adapter(compress(tower(inputs)))   (mm ops)
//
// The compression and the adapter type come from the projector's shapes and
// the tower's feature width; the entry is recorded in `onnx.graphs` so that
// the artifact lists it beside the language model.
//
//===----------------------------------------------------------------------===//

#ifndef MODRWKV_MULTIMODAL_BUILDER_H
#define MODRWKV_MULTIMODAL_BUILDER_H

#include "modrwkv/Multimodal/Projector.h"

#include "mlir/IR/BuiltinOps.h"

namespace modrwkv::multimodal {

/// Token ids of ModRWKV prompts: modality rows sit between kBegin and kEnd,
/// one kPlaceholder per row.
constexpr int32_t kBegin = 65530, kEnd = 65531, kPlaceholder = 65532;

/// Module attribute describing the multimodal side for the manifest:
/// {splice = "prefix"|"placeholder", placeholder, begin, end}.
constexpr llvm::StringLiteral kSpliceAttrName = "mm.splice";

struct EncoderOptions {
  std::string modality = "image"; ///< the graph's name in the artifact
  int64_t stack = 0;    ///< frames per adapter row; 0 = from the widths
  int64_t stride = -1;  ///< conv compression stride; -1 = kernel - 1
  int64_t padding = -1; ///< conv compression padding; -1 = by adapter type
};

/// Moves the single function of `tower` into `lm` and adds the encoder
/// entry. Returns false with `error` set on a mismatch (widths, dynamic
/// shapes, tower outputs).
bool addEncoder(mlir::ModuleOp lm, mlir::ModuleOp tower, Projector &&p,
                const EncoderOptions &options, std::string &error);

} // namespace modrwkv::multimodal

#endif // MODRWKV_MULTIMODAL_BUILDER_H
