//===- Importer.h - RWKV-7 checkpoint to `rwkv` IR --------------*- C++ -*-===//
//
// Builds a module with one function, the ABI that every backend and the
// runtime share (see runtime.h):
//
//   func.func @forward(%tokens: memref<?xi32>,
//                      %att_shift: memref<L x C>, %ffn_shift: memref<L x C>,
//                      %wkv: memref<L x H x 64 x 64>, %logits: memref<? x V>)
//
// The body works on tensors (`bufferization.to_tensor ... restrict
// writable`) and writes the new state and the logits back with
// `bufferization.materialize_in_destination`, so that bufferization updates
// the caller's buffers in place. Weights are dense_resource constants named
// after their checkpoint tensors; LoRA matrices are stored transposed to
// [out, in] (suffix ".T"). The module carries the configuration as
// `rwkv.config`.
//
//===----------------------------------------------------------------------===//

#ifndef MODRWKV_CHECKPOINT_IMPORTER_H
#define MODRWKV_CHECKPOINT_IMPORTER_H

#include "modrwkv/Checkpoint/Adapter.h"
#include "modrwkv/Checkpoint/Config.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"

namespace modrwkv::checkpoint {

constexpr llvm::StringLiteral kEntryName = "forward";
/// One token for each of B sequences (ABI rwkv7-decode-batch-v1): like
/// kEntryName, with tokens [B], att_shift / ffn_shift [L, B, C], wkv
/// [L, B, H, 64, 64] and logits [B, V].
constexpr llvm::StringLiteral kBatchEntryName = "decode_batch";
constexpr llvm::StringLiteral kConfigAttrName = "rwkv.config";

/// Module attribute: the weights an adapter provided, name -> role (its
/// variant for Bone tensors, "replaces" for base tensors it replaced); the
/// runtime may overwrite these when it swaps adapters.
constexpr llvm::StringLiteral kAdapterAttrName = "rwkv.adapter_tensors";

/// `t` as an f32 dense_resource of `shape` named `key` (t's element order;
/// the shapes may differ by unit dims), or transposed (a 2-D `t`); with
/// `keepBf16`, a tensor read as bf16 stays bf16. The blob takes the values:
/// `t` is emptied.
mlir::DenseResourceElementsAttr tensorResource(mlir::Builder &b, Tensor &t,
                                               llvm::ArrayRef<int64_t> shape,
                                               llvm::StringRef key,
                                               bool transpose = false,
                                               bool keepBf16 = false);

/// tensorResource as an arith.constant.
mlir::Value tensorConstant(mlir::OpBuilder &b, mlir::Location loc, Tensor &t,
                           llvm::ArrayRef<int64_t> shape, llvm::StringRef key,
                           bool transpose = false, bool keepBf16 = false);

/// Consumes `tensors` (moved into resource blobs) and builds the module.
/// With `adapters`, the base tensors they replace are swapped in and each
/// adapted projection carries its Bone adapter. With a `placeholder` id
/// (>= 0) the entry takes a `memref<?xC>` of modality rows after the tokens
/// (ABI rwkv7-forward-mm-v2) and splices them in place of that token
/// (mm.splice). With `batchDecode`, the module also holds kBatchEntryName
/// (token ids only, no modality rows). With `keepBf16`, the weights of
/// products and embeddings without an adapter (neither provided by one) that
/// the checkpoint stores as bf16 stay bf16 constants, for rwkv-weight-dtype
/// to convert to a narrow storage type: the compile never holds them in f32.
mlir::OwningOpRef<mlir::ModuleOp>
importRwkv7(mlir::MLIRContext &context, const ModelConfig &config,
            TensorMap &&tensors, AdapterSet *adapters = nullptr,
            int32_t placeholder = -1, bool batchDecode = false,
            bool keepBf16 = false);

} // namespace modrwkv::checkpoint

#endif // MODRWKV_CHECKPOINT_IMPORTER_H
