//===- Adapter.h - Bone (Block Affine) adapter files ------------*- C++ -*-===//
//
// Reads Bone adapters for an RWKV-7 model in the two layouts users train
// them in (see docs/bone.md):
//   - RWKV-PEFT: a .pth (or .safetensors) with `<linear>.bone` or
//     `<linear>.disha` next to the LayerNorm weights it also trained;
//     D [r, out] is `bone`, B [in/r, r, r] is `bat` with blocks (j, i) using
//     B_i (variant "bat_in");
//   - Hugging Face PEFT: a folder (or its adapter_model.safetensors) with
//     adapter_config.json; keys `base_model.model.<linear>.bone_block` or
//     `.miss_block`; B [out/r, r, r] uses B_j (variant "bat_out").
// Adapted linears are att.{receptance,key,value,output} and ffn.{key,value}.
//
//===----------------------------------------------------------------------===//

#ifndef MODRWKV_CHECKPOINT_ADAPTER_H
#define MODRWKV_CHECKPOINT_ADAPTER_H

#include "modrwkv/Checkpoint/Config.h"

#include <map>
#include <string>

namespace modrwkv::checkpoint {

struct BoneAdapter {
  std::string variant; ///< bone, bat_in or bat_out
  Tensor tensor;       ///< D [r, out] or B [blocks, r, r]
};

struct AdapterSet {
  /// Linear weight name ("blocks.0.att.key.weight") -> its adapter.
  std::map<std::string, BoneAdapter> adapters;
  /// Base tensors the adapter file replaces (e.g. LayerNorms it trained).
  TensorMap replacements;
};

/// The name adapter tensors get in the IR and the artifact:
/// "blocks.0.att.key.weight" -> "blocks.0.att.key.bone".
std::string adapterTensorName(llvm::StringRef weightName);

/// Reads an adapter and checks it against the base model's tensors. Errors
/// name the file and the tensor.
llvm::Expected<AdapterSet> readAdapter(llvm::StringRef path,
                                       const TensorMap &base);

} // namespace modrwkv::checkpoint

#endif // MODRWKV_CHECKPOINT_ADAPTER_H
