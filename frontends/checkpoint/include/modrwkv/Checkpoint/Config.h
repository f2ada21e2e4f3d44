//===- Config.h - RWKV-7 model configuration from tensor shapes -*- C++ -*-===//
//
// The configuration of an RWKV-7 (x070) checkpoint is read off its tensors'
// names and shapes; nothing about released sizes is assumed. Validation is
// complete: every tensor the model needs must be present with the right
// shape, and a tensor the model does not know is an error.
//
//===----------------------------------------------------------------------===//

#ifndef MODRWKV_CHECKPOINT_CONFIG_H
#define MODRWKV_CHECKPOINT_CONFIG_H

#include "modrwkv/Checkpoint/Tensor.h"

namespace modrwkv::checkpoint {

struct ModelConfig {
  int64_t layers = 0;
  int64_t width = 0; ///< C
  int64_t heads = 0; ///< H, with C = H * headSize
  int64_t headSize = 0;
  int64_t vocab = 0;
  int64_t ffn = 0;       ///< F, the channel-mix hidden width
  int64_t rankDecay = 0; ///< LoRA ranks of w, a, v and g
  int64_t rankIclr = 0;
  int64_t rankValue = 0;
  int64_t rankGate = 0;
};

/// Infers the configuration and checks every tensor against it. `path`
/// names the file in error messages.
llvm::Expected<ModelConfig> inferConfig(const TensorMap &tensors,
                                        llvm::StringRef path);

} // namespace modrwkv::checkpoint

#endif // MODRWKV_CHECKPOINT_CONFIG_H
