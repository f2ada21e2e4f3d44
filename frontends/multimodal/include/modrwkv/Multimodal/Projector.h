//===- Projector.h - the ModRWKV adapter in a checkpoint --------*- C++ -*-===//
//
// A ModRWKV checkpoint holds the RWKV-7 weights and the adapter (projector)
// that maps encoder features to the model width:
//   first release: RWKV-7 keys at top level and
//     modality.world_encoder.adapter.{pre_norm,proj.0,proj.2}.{weight,bias};
//   later releases: `llm.` + RWKV-7 keys, proj.{pre_norm,mlp.0,mlp.2}.* and
//     proj.conv.weight when the token sequence is compressed.
// The tower's own weights (encoder.model.*), when saved, are not used: the
// tower comes from its ONNX export.
//
//===----------------------------------------------------------------------===//

#ifndef MODRWKV_MULTIMODAL_PROJECTOR_H
#define MODRWKV_MULTIMODAL_PROJECTOR_H

#include "modrwkv/Checkpoint/Tensor.h"

#include <optional>

namespace modrwkv::multimodal {

struct Projector {
  /// "world" (first release: features are a prefix of the prompt) or
  /// "modrwkv" (later: features replace placeholder tokens).
  std::string layout;
  checkpoint::Tensor w1, b1, w2, b2;
  std::optional<checkpoint::Tensor> normWeight, normBias, conv;

  int64_t inWidth() const { return w1.shape[1]; }
  int64_t width() const { return w2.shape[0]; }
};

/// Moves the projector out of `tensors`, drops a saved tower, and strips the
/// `llm.` prefix so that what is left is an RWKV-7 state dict. Errors name
/// `path` and the missing or misshapen key.
llvm::Expected<Projector> takeProjector(checkpoint::TensorMap &tensors,
                                        llvm::StringRef path);

} // namespace modrwkv::multimodal

#endif // MODRWKV_MULTIMODAL_PROJECTOR_H
