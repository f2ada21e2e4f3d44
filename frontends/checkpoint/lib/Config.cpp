//===- Config.cpp - RWKV-7 model configuration from tensor shapes ---------===//

#include "modrwkv/Checkpoint/Config.h"

#include "llvm/ADT/StringSet.h"
#include "llvm/Support/FormatVariadic.h"

using namespace llvm;

namespace modrwkv::checkpoint {
namespace {

constexpr int64_t kHeadSize = 64;

class Checker {
public:
  Checker(const TensorMap &tensors, StringRef path)
      : tensors(tensors), path(path) {}

  Error fail(const Twine &message) const {
    return createStringError(inconvertibleErrorCode(),
                             (path + ": " + message).str());
  }

  const Tensor *find(StringRef name) const {
    auto it = tensors.find(name.str());
    return it == tensors.end() ? nullptr : &it->second;
  }

  /// Requires `name` with exactly `shape`.
  Error expect(StringRef name, ArrayRef<int64_t> shape) {
    const Tensor *t = find(name);
    if (!t)
      return fail("missing tensor '" + name + "' (expected shape " +
                  shapeString(shape) + ")");
    used.insert(name);
    if (ArrayRef<int64_t>(t->shape) != shape)
      return fail("tensor '" + name + "' has shape " + shapeString(t->shape) +
                  ", expected " + shapeString(shape));
    return Error::success();
  }

  /// Requires a per-channel vector: C elements, any leading 1s ([1,1,C]).
  Error expectVector(StringRef name, int64_t c) {
    const Tensor *t = find(name);
    if (!t)
      return fail("missing tensor '" + name + "' (expected " +
                  std::to_string(c) + " channels)");
    used.insert(name);
    bool ok = !t->shape.empty() && t->shape.back() == c;
    for (size_t i = 0; ok && i + 1 < t->shape.size(); ++i)
      ok = t->shape[i] == 1;
    if (!ok)
      return fail("tensor '" + name + "' has shape " + shapeString(t->shape) +
                  ", expected [1, 1, " + std::to_string(c) + "] or [" +
                  std::to_string(c) + "]");
    return Error::success();
  }

  /// Dimension `dim` of a rank-2 tensor, used to infer a size.
  Expected<int64_t> dimOf(StringRef name, unsigned dim) const {
    const Tensor *t = find(name);
    if (!t)
      return fail("missing tensor '" + name + "'");
    if (t->shape.size() != 2)
      return fail("tensor '" + name + "' has shape " + shapeString(t->shape) +
                  ", expected a matrix");
    return t->shape[dim];
  }

  Error unknownTensors(StringRef file) const {
    for (const auto &entry : tensors)
      if (!used.contains(entry.first))
        return fail("unknown tensor '" + entry.first + "' (shape " +
                    shapeString(entry.second.shape) + ") in " + file);
    return Error::success();
  }

private:
  const TensorMap &tensors;
  StringRef path;
  StringSet<> used;
};

} // namespace

std::string initialStateName(int64_t layer) {
  return "blocks." + std::to_string(layer) + ".att.time_state";
}

Expected<std::vector<float>> readInitialState(StringRef path, int64_t &layers,
                                              int64_t &heads) {
  auto tensors = readCheckpoint(path);
  if (!tensors)
    return tensors.takeError();
  Checker check(*tensors, path);
  const Tensor *first = check.find(initialStateName(0));
  if (!first)
    return check.fail("not a state-tuning file: no tensor '" +
                      initialStateName(0) + "'");
  heads = first->shape.empty() ? 0 : first->shape[0];
  layers = 0;
  while (check.find(initialStateName(layers)))
    ++layers;
  std::vector<float> states;
  for (int64_t l = 0; l < layers; ++l) {
    if (Error e =
            check.expect(initialStateName(l), {heads, kHeadSize, kHeadSize}))
      return std::move(e);
    const std::vector<float> &data =
        tensors->find(initialStateName(l))->second.values();
    states.insert(states.end(), data.begin(), data.end());
  }
  if (Error e = check.unknownTensors("a state-tuning file"))
    return std::move(e);
  return states;
}

Expected<ModelConfig> inferConfig(const TensorMap &tensors, StringRef path) {
  Checker check(tensors, path);
  if (!check.find("blocks.0.att.r_k")) {
    for (StringRef old : {"blocks.0.att.time_mix_k", "blocks.0.att.time_maa_k",
                          "blocks.0.att.time_decay"})
      if (check.find(old))
        return check.fail("not an RWKV-7 (x070) checkpoint: it has '" + old +
                          "' (RWKV-4/5/6) and no 'blocks.0.att.r_k'");
    if (!check.find("emb.weight"))
      return check.fail("not an RWKV checkpoint: missing tensor 'emb.weight'");
    return check.fail("not an RWKV-7 (x070) checkpoint: missing tensor "
                      "'blocks.0.att.r_k'");
  }

  ModelConfig cfg;
  auto vocab = check.dimOf("emb.weight", 0),
       width = check.dimOf("emb.weight", 1);
  if (!vocab)
    return vocab.takeError();
  if (!width)
    return width.takeError();
  cfg.vocab = *vocab;
  cfg.width = *width;
  while (check.find(formatv("blocks.{0}.ln1.weight", cfg.layers).str()))
    ++cfg.layers;
  if (cfg.layers == 0)
    return check.fail("missing tensor 'blocks.0.ln1.weight'");

  const Tensor *rk = check.find("blocks.0.att.r_k");
  if (rk->shape.size() != 2)
    return check.fail("tensor 'blocks.0.att.r_k' has shape " +
                      shapeString(rk->shape) + ", expected [heads, head_size]");
  cfg.heads = rk->shape[0];
  cfg.headSize = rk->shape[1];
  if (cfg.headSize != 64)
    return check.fail("head size " + Twine(cfg.headSize) +
                      " (from 'blocks.0.att.r_k') is not supported; RWKV-7 "
                      "uses 64");
  if (cfg.heads * cfg.headSize != cfg.width)
    return check.fail("heads x head size = " + Twine(cfg.heads) + " x " +
                      Twine(cfg.headSize) + " does not match width " +
                      Twine(cfg.width) + " of 'emb.weight'");

  for (auto [rank, name] : {std::pair{&cfg.rankDecay, "blocks.0.att.w1"},
                            std::pair{&cfg.rankIclr, "blocks.0.att.a1"},
                            std::pair{&cfg.rankGate, "blocks.0.att.g1"}}) {
    auto r = check.dimOf(name, 1);
    if (!r)
      return r.takeError();
    *rank = *r;
  }
  // The value-residual LoRA is used from layer 1 on (layer 0's is unused).
  StringRef valueLoRA = cfg.layers > 1 ? "blocks.1.att.v1" : "blocks.0.att.v1";
  if (check.find(valueLoRA)) {
    auto r = check.dimOf(valueLoRA, 1);
    if (!r)
      return r.takeError();
    cfg.rankValue = *r;
  } else if (cfg.layers > 1) {
    return check.fail("missing tensor '" + valueLoRA + "'");
  }
  auto ffn = check.dimOf("blocks.0.ffn.key.weight", 0);
  if (!ffn)
    return ffn.takeError();
  cfg.ffn = *ffn;

  cfg.initialState = check.find(initialStateName(0)) != nullptr;
  int64_t c = cfg.width;
  auto all = [&]() -> Error {
    if (Error e = check.expect("emb.weight", {cfg.vocab, c}))
      return e;
    if (Error e = check.expect("head.weight", {cfg.vocab, c}))
      return e;
    for (StringRef n : {"ln_out.weight", "ln_out.bias", "blocks.0.ln0.weight",
                        "blocks.0.ln0.bias"})
      if (Error e = check.expect(n, {c}))
        return e;
    for (int64_t l = 0; l < cfg.layers; ++l) {
      std::string p = "blocks." + std::to_string(l) + ".";
      for (StringRef n : {"ln1.weight", "ln1.bias", "ln2.weight", "ln2.bias",
                          "att.ln_x.weight", "att.ln_x.bias"})
        if (Error e = check.expect(p + n.str(), {c}))
          return e;
      for (StringRef n :
           {"att.x_r", "att.x_w", "att.x_k", "att.x_v", "att.x_a", "att.x_g",
            "att.w0", "att.a0", "att.k_k", "att.k_a", "ffn.x_k"})
        if (Error e = check.expectVector(p + n.str(), c))
          return e;
      if (Error e = check.expect(p + "att.r_k", {cfg.heads, cfg.headSize}))
        return e;
      for (StringRef n : {"att.receptance.weight", "att.key.weight",
                          "att.value.weight", "att.output.weight"})
        if (Error e = check.expect(p + n.str(), {c, c}))
          return e;
      for (auto [lora, rank] :
           {std::pair{"w", cfg.rankDecay}, std::pair{"a", cfg.rankIclr},
            std::pair{"g", cfg.rankGate}}) {
        if (Error e = check.expect(p + "att." + lora + "1", {c, rank}))
          return e;
        if (Error e = check.expect(p + "att." + lora + "2", {rank, c}))
          return e;
      }
      bool needsValue = l > 0;
      if (needsValue || check.find(p + "att.v0")) {
        if (Error e = check.expectVector(p + "att.v0", c))
          return e;
        if (Error e = check.expect(p + "att.v1", {c, cfg.rankValue}))
          return e;
        if (Error e = check.expect(p + "att.v2", {cfg.rankValue, c}))
          return e;
      }
      if (Error e = check.expect(p + "ffn.key.weight", {cfg.ffn, c}))
        return e;
      if (Error e = check.expect(p + "ffn.value.weight", {c, cfg.ffn}))
        return e;
      // All layers or none: a partial set is a damaged state-tuning merge.
      if (cfg.initialState || check.find(initialStateName(l))) {
        if (!cfg.initialState)
          return check.fail("tensor '" + initialStateName(l) + "' without '" +
                            initialStateName(0) +
                            "': a state-tuned checkpoint has a "
                            "learned initial state in every layer");
        if (Error e = check.expect(initialStateName(l),
                                   {cfg.heads, cfg.headSize, cfg.headSize}))
          return e;
      }
    }
    return check.unknownTensors("an RWKV-7 checkpoint");
  };
  if (Error e = all())
    return std::move(e);
  return cfg;
}

} // namespace modrwkv::checkpoint
