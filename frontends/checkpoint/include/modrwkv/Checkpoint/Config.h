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

#include <optional>

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
  /// A state-tuned checkpoint (RWKV-PEFT state tuning) has a learned initial
  /// WKV state per layer, `blocks.N.att.time_state` [H, 64 value, 64 key]:
  /// every fresh RNN state starts from it instead of zeros.
  bool initialState = false;
};

/// The name of layer `layer`'s learned initial WKV state.
std::string initialStateName(int64_t layer);

/// Reads a state-tuning file (what RWKV-PEFT's state tuning saves: only
/// `blocks.N.att.time_state` [H, 64, 64] for N = 0 .. L-1) and returns its
/// states concatenated, [L][H][64 value][64 key]. Another tensor, a missing
/// layer or a shape that differs is an error naming the file and tensor.
/// `layers` / `heads` receive L and H.
llvm::Expected<std::vector<float>>
readInitialState(llvm::StringRef path, int64_t &layers, int64_t &heads);

/// Renames a checkpoint in flash-linear-attention's layout (RWKV7ForCausalLM,
/// as the Hugging Face `fla-hub/rwkv7-*` models store it:
/// `model.layers.N.attn.r_proj.weight`, LoRA paths as `w_lora.lora.{0,2}`,
/// the token-shift mixes fused as `attn.x_x`) to the released names,
/// transposing the LoRA matrices; other checkpoints are left as they are.
/// An unknown tensor is an error naming `path` and the tensor.
llvm::Error toReleasedNames(TensorMap &tensors, llvm::StringRef path);

/// Infers the configuration and checks every tensor against it. `path`
/// names the file in error messages.
llvm::Expected<ModelConfig> inferConfig(const TensorMap &tensors,
                                        llvm::StringRef path);

/// What a model folder's config.json (fla's RWKV7Config) states; 0 where it
/// states nothing.
struct HfConfig {
  std::string path; ///< of config.json
  int64_t width = 0, layers = 0, vocab = 0, headSize = 0, ffn = 0;
  int64_t rankDecay = 0, rankIclr = 0, rankValue = 0, rankGate = 0;
  bool tieWordEmbeddings = false;
};

/// The config.json of the model folder `path`; nullopt for a file or a
/// folder without one. What the compiler does not implement (softmax
/// attention layers, another norm_eps or activation, post-norm blocks) is an
/// error naming the file.
llvm::Expected<std::optional<HfConfig>> readHfConfig(llvm::StringRef path);

/// With tie_word_embeddings and no lm_head.weight, the head is a copy of
/// the embedding table (fla names, before toReleasedNames).
llvm::Error tieWordEmbeddings(const HfConfig &hf, TensorMap &tensors);

/// Checks the sizes config.json states against those of the weights.
llvm::Error checkHfConfig(const HfConfig &hf, const ModelConfig &cfg);

} // namespace modrwkv::checkpoint

#endif // MODRWKV_CHECKPOINT_CONFIG_H
