//===- Folder.cpp - Hugging Face model folders ----------------------------===//
//
// A folder as `save_pretrained` writes it: the weights in model.safetensors,
// or sharded as model.safetensors.index.json ({"weight_map": {tensor:
// shard file}}) lists them, or in pytorch_model.bin (a torch.save zip); the
// architecture in config.json (fla's RWKV7Config for RWKV-7).
//
//===----------------------------------------------------------------------===//

#include "modrwkv/Checkpoint/Config.h"

#include "llvm/ADT/StringMap.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

#include <cmath>

using namespace llvm;

namespace modrwkv::checkpoint {
namespace {

std::string inFolder(StringRef dir, StringRef name) {
  SmallString<256> path(dir);
  sys::path::append(path, name);
  return path.str().str();
}

Expected<json::Value> readJson(StringRef path) {
  auto buffer = MemoryBuffer::getFile(path, /*IsText=*/true);
  if (!buffer)
    return fileError(path, "cannot open: " + buffer.getError().message());
  Expected<json::Value> value = json::parse((*buffer)->getBuffer());
  if (!value)
    return fileError(path, "bad JSON: " + toString(value.takeError()));
  return value;
}

/// The tensors of the shards the index lists, each where the index says.
Expected<TensorMap> readShards(StringRef dir, StringRef indexPath) {
  Expected<json::Value> index = readJson(indexPath);
  if (!index)
    return index.takeError();
  const json::Object *map = index->getAsObject()
                                ? index->getAsObject()->getObject("weight_map")
                                : nullptr;
  if (!map)
    return fileError(indexPath, "no \"weight_map\" object");
  StringMap<std::string> placed; // tensor -> shard
  std::vector<std::string> shards;
  for (const auto &[name, file] : *map) {
    std::optional<StringRef> shard = file.getAsString();
    // A shard is a file of this folder, nothing else.
    if (!shard || shard->empty() || shard->contains('/') ||
        shard->contains('\\') || *shard == "." || *shard == "..")
      return fileError(indexPath, "tensor '" + name.str() +
                                      "': the shard must be a file name in the "
                                      "folder");
    placed[name.str()] = shard->str();
    if (llvm::find(shards, *shard) == shards.end())
      shards.push_back(shard->str());
  }
  llvm::sort(shards); // model-00001-of-N.safetensors, ... in order
  TensorMap tensors;
  for (const std::string &shard : shards) {
    std::string shardPath = inFolder(dir, shard);
    Expected<TensorMap> part = readCheckpoint(shardPath);
    if (!part)
      return part.takeError();
    for (auto &[name, tensor] : *part) {
      auto it = placed.find(name);
      if (it == placed.end() || it->second != shard)
        return fileError(shardPath,
                         "holds tensor '" + name + "', which " + indexPath +
                             (it == placed.end() ? " does not list"
                                                 : " places in " + it->second));
      tensors.insert({name, std::move(tensor)});
    }
  }
  for (const auto &[name, shard] : placed)
    if (!tensors.count(name.str()))
      return fileError(inFolder(dir, shard), "missing tensor '" + name +
                                                 "', which " + indexPath +
                                                 " places there");
  return tensors;
}

} // namespace

Expected<TensorMap> readModelFolder(StringRef dir) {
  std::string index = inFolder(dir, "model.safetensors.index.json");
  if (sys::fs::exists(index))
    return readShards(dir, index);
  for (StringRef single : {"model.safetensors", "pytorch_model.bin"}) {
    std::string path = inFolder(dir, single);
    if (sys::fs::exists(path))
      return readCheckpoint(path);
  }
  return fileError(dir, "a model folder holds model.safetensors, "
                        "model.safetensors.index.json and its shards, or "
                        "pytorch_model.bin; this one has none of them");
}

Expected<std::optional<HfConfig>> readHfConfig(StringRef dir) {
  HfConfig out;
  out.path = inFolder(dir, "config.json");
  if (!sys::fs::is_directory(dir) || !sys::fs::exists(out.path))
    return std::nullopt;
  Expected<json::Value> value = readJson(out.path);
  if (!value)
    return value.takeError();
  const json::Object *config = value->getAsObject();
  if (!config)
    return fileError(out.path, "not a JSON object");
  auto unsupported = [&](const Twine &what) {
    return fileError(out.path, what + " is not supported");
  };
  if (std::optional<StringRef> type = config->getString("model_type"))
    if (*type != "rwkv7")
      return fileError(out.path, "model_type '" + *type +
                                     "': not an RWKV-7 (rwkv7) model");
  if (const json::Value *attn = config->get("attn"))
    if (attn->kind() != json::Value::Null)
      return unsupported("\"attn\" (softmax-attention layers among the "
                         "RWKV-7 ones)");
  if (std::optional<StringRef> act = config->getString("hidden_act"))
    if (*act != "sqrelu")
      return unsupported("hidden_act '" + *act + "' (RWKV-7 uses sqrelu)");
  if (std::optional<bool> first = config->getBoolean("norm_first"))
    if (!*first)
      return unsupported("norm_first = false");
  if (std::optional<double> eps = config->getNumber("norm_eps"))
    if (std::fabs(*eps - 1e-5) > 1e-12)
      return unsupported("norm_eps " + formatv("{0:e}", *eps) +
                         " (the layer norms use 1e-5)");
  out.tieWordEmbeddings =
      config->getBoolean("tie_word_embeddings").value_or(false);
  for (auto [field, key] : {std::pair{&out.width, "hidden_size"},
                            std::pair{&out.layers, "num_hidden_layers"},
                            std::pair{&out.vocab, "vocab_size"},
                            std::pair{&out.headSize, "head_dim"},
                            std::pair{&out.ffn, "intermediate_size"},
                            std::pair{&out.rankDecay, "decay_low_rank_dim"},
                            std::pair{&out.rankIclr, "a_low_rank_dim"},
                            std::pair{&out.rankValue, "v_low_rank_dim"},
                            std::pair{&out.rankGate, "gate_low_rank_dim"}})
    *field = config->getInteger(key).value_or(0);
  return out;
}

Error checkHfConfig(const HfConfig &hf, const ModelConfig &cfg) {
  for (auto [key, stated, inferred] :
       {std::tuple{"hidden_size", hf.width, cfg.width},
        std::tuple{"num_hidden_layers", hf.layers, cfg.layers},
        std::tuple{"vocab_size", hf.vocab, cfg.vocab},
        std::tuple{"head_dim", hf.headSize, cfg.headSize},
        std::tuple{"intermediate_size", hf.ffn, cfg.ffn},
        std::tuple{"decay_low_rank_dim", hf.rankDecay, cfg.rankDecay},
        std::tuple{"a_low_rank_dim", hf.rankIclr, cfg.rankIclr},
        std::tuple{"v_low_rank_dim", hf.rankValue,
                   cfg.layers > 1 ? cfg.rankValue : hf.rankValue},
        std::tuple{"gate_low_rank_dim", hf.rankGate, cfg.rankGate}})
    if (stated > 0 && stated != inferred)
      return fileError(hf.path, Twine(key) + " is " + Twine(stated) +
                                    ", the weights have " + Twine(inferred));
  return Error::success();
}

Error tieWordEmbeddings(const HfConfig &hf, TensorMap &tensors) {
  if (!hf.tieWordEmbeddings || tensors.count("lm_head.weight"))
    return Error::success();
  auto emb = tensors.find("model.embeddings.weight");
  if (emb == tensors.end())
    return fileError(hf.path, "tie_word_embeddings, but the weights have no "
                              "'model.embeddings.weight'");
  Tensor head = emb->second;
  tensors.insert({"lm_head.weight", std::move(head)});
  return Error::success();
}

} // namespace modrwkv::checkpoint
