//===- Importer.h - ONNX graphs to upstream MLIR ----------------*- C++ -*-===//
//
// Converts the main graph of an ONNX model into one function of upstream
// dialects (linalg, tensor, arith, math) on static shapes:
//
//   func @<graph>(memref<input>..., memref<output>...)
//
// with the C interface. Inputs are read, outputs are written in place;
// initializers larger than a few elements become dense_resource blobs, which
// rwkv-externalize-weights later moves into weights.bin. The module records
// the graph's signature in the `onnx.graphs` attribute for the artifact
// manifest.
//
//===----------------------------------------------------------------------===//

#ifndef MODRWKV_ONNX_IMPORTER_H
#define MODRWKV_ONNX_IMPORTER_H

#include "modrwkv/Onnx/Model.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"

#include <set>

namespace modrwkv::onnxfe {

constexpr llvm::StringLiteral kGraphsAttrName = "onnx.graphs";

struct ImportOptions {
  /// Graph inputs replaced by these values at compile time (their data
  /// decides shapes, e.g. the `shape` operand of Reshape in the backend
  /// tests, where every operand is a graph input).
  std::map<std::string, Tensor> boundInputs;
  /// Import as `func private @<symbol>(tensor...) -> (tensor...)` instead:
  /// a tower that other IR calls (mm.encoder_call) and that is inlined into
  /// its caller. `onnx.graphs` still describes its inputs and outputs.
  bool callable = false;
  std::string symbol; ///< for callable imports; "" = the graph's name
};

/// Why an import failed, so that callers can tell "not supported" from
/// "broken input".
struct ImportFailure {
  enum Kind { Unsupported, NeedsConstant, Invalid };
  Kind kind = Invalid;
  std::string message;
  /// For NeedsConstant: graph inputs whose values decide a shape.
  std::set<std::string> inputs;
};

/// Imports `model` into `context`; on failure returns null and fills
/// `failure` (every unsupported node listed at once).
mlir::OwningOpRef<mlir::ModuleOp> importModel(mlir::MLIRContext &context,
                                              const Model &model,
                                              const ImportOptions &options,
                                              ImportFailure &failure);

} // namespace modrwkv::onnxfe

#endif // MODRWKV_ONNX_IMPORTER_H
