//===- Projector.cpp - the ModRWKV adapter in a checkpoint ----------------===//

#include "modrwkv/Multimodal/Projector.h"

#include "llvm/ADT/StringExtras.h"

using namespace modrwkv::checkpoint;

namespace modrwkv::multimodal {

namespace {
std::string shapeText(const std::vector<int64_t> &shape) {
  return "[" +
         llvm::join(llvm::map_range(
                        shape, [](int64_t d) { return std::to_string(d); }),
                    ", ") +
         "]";
}
} // namespace

llvm::Expected<Projector> takeProjector(TensorMap &tensors,
                                        llvm::StringRef path) {
  auto fail = [&](const llvm::Twine &message) {
    return llvm::createStringError(path + ": " + message);
  };
  Projector p;
  std::string prefix, first, second;
  if (tensors.count("proj.mlp.0.weight")) {
    p.layout = "modrwkv";
    prefix = "proj.";
    first = "mlp.0";
    second = "mlp.2";
  } else if (tensors.count("modality.world_encoder.adapter.proj.0.weight")) {
    p.layout = "world";
    prefix = "modality.world_encoder.adapter.";
    first = "proj.0";
    second = "proj.2";
  } else {
    return fail("no ModRWKV adapter in this checkpoint (expected "
                "proj.mlp.0.weight or "
                "modality.world_encoder.adapter.proj.0.weight)");
  }
  auto take = [&](const std::string &name, size_t rank,
                  bool optional =
                      false) -> llvm::Expected<std::optional<Tensor>> {
    auto it = tensors.find(prefix + name);
    if (it == tensors.end()) {
      if (optional)
        return std::nullopt;
      return fail("adapter tensor '" + prefix + name + "' is missing");
    }
    Tensor t = std::move(it->second);
    tensors.erase(it);
    if (t.shape.size() != rank)
      return fail("adapter tensor '" + prefix + name + "' has shape " +
                  shapeText(t.shape) + ", expected " + std::to_string(rank) +
                  " dimensions");
    return std::optional<Tensor>(std::move(t));
  };
  struct Slot {
    std::string name;
    size_t rank;
    bool optional;
    std::optional<Tensor> *into;
  };
  std::optional<Tensor> w1, b1, w2, b2;
  Slot slots[] = {{first + ".weight", 2, false, &w1},
                  {first + ".bias", 1, false, &b1},
                  {second + ".weight", 2, false, &w2},
                  {second + ".bias", 1, false, &b2},
                  {"pre_norm.weight", 1, true, &p.normWeight},
                  {"pre_norm.bias", 1, true, &p.normBias},
                  {"conv.weight", 3, true, &p.conv}};
  for (Slot &slot : slots) {
    auto t = take(slot.name, slot.rank, slot.optional);
    if (!t)
      return t.takeError();
    *slot.into = std::move(*t);
  }
  p.w1 = std::move(*w1);
  p.b1 = std::move(*b1);
  p.w2 = std::move(*w2);
  p.b2 = std::move(*b2);
  int64_t hidden = p.w1.shape[0];
  auto expect = [&](const Tensor &t, std::vector<int64_t> shape,
                    const std::string &name) -> llvm::Error {
    if (t.shape != shape)
      return fail("adapter tensor '" + prefix + name + "' has shape " +
                  shapeText(t.shape) + ", expected " + shapeText(shape));
    return llvm::Error::success();
  };
  if (auto e = expect(p.b1, {hidden}, first + ".bias"))
    return std::move(e);
  if (auto e = expect(p.w2, {p.w2.shape[0], hidden}, second + ".weight"))
    return std::move(e);
  if (auto e = expect(p.b2, {p.width()}, second + ".bias"))
    return std::move(e);
  if (p.normWeight.has_value() != p.normBias.has_value())
    return fail("adapter has only one of pre_norm.weight and pre_norm.bias");
  if (p.normWeight) {
    if (auto e = expect(*p.normWeight, {p.width()}, "pre_norm.weight"))
      return std::move(e);
    if (auto e = expect(*p.normBias, {p.width()}, "pre_norm.bias"))
      return std::move(e);
  }
  if (p.conv)
    if (auto e =
            expect(*p.conv, {p.inWidth(), p.conv->shape[1], p.conv->shape[2]},
                   "conv.weight"))
      return std::move(e);

  // What is left: the language model (under `llm.` in later releases), and
  // possibly a saved tower, which the ONNX export replaces.
  TensorMap rest;
  for (auto &[name, t] : tensors) {
    llvm::StringRef key = name;
    if (key.starts_with("encoder.") || key.starts_with("modality."))
      continue;
    key.consume_front("llm.");
    rest.insert({key.str(), std::move(t)});
  }
  tensors = std::move(rest);
  return std::move(p);
}

} // namespace modrwkv::multimodal
