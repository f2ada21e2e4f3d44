//===- Layouts.cpp - other RWKV-7 layouts to the released names -----------===//
//
// flash-linear-attention (fla) stores RWKV-7 as RWKV7ForCausalLM, the layout
// of the Hugging Face `fla-hub/rwkv7-*` models and of ModRWKV's later code:
// `model.layers.N.attn.r_proj.weight` for `blocks.N.att.receptance.weight`,
// each LoRA-style path as two nn.Linear layers (`w_lora.lora.0.weight` =
// w1^T, `lora.2.weight` = w2^T, `lora.2.bias` = w0), and the six token-shift
// mixes either apart (`attn.x_r` ...) or fused as `attn.x_x` [6, C] in the
// order r, w, k, v, a, g.
//
//===----------------------------------------------------------------------===//

#include "modrwkv/Checkpoint/Config.h"

#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringSwitch.h"

using namespace llvm;

namespace modrwkv::checkpoint {
namespace {

Tensor transposed(const Tensor &t) {
  Tensor out;
  out.sourceDType = t.sourceDType;
  out.shape = {t.shape[1], t.shape[0]};
  auto transposeInto = [&](const auto &from, auto &to) {
    to.resize(from.size());
    if (!from.empty())
      transpose(from.data(), t.shape[0], t.shape[1], to.data());
  };
  transposeInto(t.data, out.data);
  transposeInto(t.bf16, out.bf16);
  return out;
}

/// The released name of `rest` (what follows `model.layers.N.`), or "" when
/// fla has no such tensor. `transpose` says whether the matrix is stored
/// transposed.
std::string layerName(StringRef rest, bool &transpose) {
  transpose = false;
  auto [module, name] = rest.split('.');
  bool affine = name == "weight" || name == "bias";
  if (affine &&
      (module == "pre_norm" || module == "attn_norm" || module == "ffn_norm"))
    return (StringSwitch<StringRef>(module)
                .Case("pre_norm", "ln0")
                .Case("attn_norm", "ln1")
                .Default("ln2") +
            "." + name)
        .str();
  if (module == "ffn" &&
      (name == "x_k" || name == "key.weight" || name == "value.weight"))
    return ("ffn." + name).str();
  if (module != "attn")
    return "";
  StringRef projection = StringSwitch<StringRef>(name)
                             .Case("r_proj.weight", "receptance.weight")
                             .Case("k_proj.weight", "key.weight")
                             .Case("v_proj.weight", "value.weight")
                             .Case("o_proj.weight", "output.weight")
                             .Case("g_norm.weight", "ln_x.weight")
                             .Case("g_norm.bias", "ln_x.bias")
                             .Default("");
  if (!projection.empty())
    return ("att." + projection).str();
  // {w,a,v,g}_lora.lora.{0.weight, 2.weight, 2.bias}
  if (name.size() > 7 && name.substr(1).starts_with("_lora.lora.") &&
      StringRef("wavg").contains(name[0])) {
    StringRef part = name.drop_front(strlen("w_lora.lora."));
    char index = part == "0.weight"   ? '1'
                 : part == "2.weight" ? '2'
                 : part == "2.bias"   ? '0'
                                      : 0;
    if (!index)
      return "";
    transpose = index != '0';
    return ("att." + Twine(name[0]) + Twine(index)).str();
  }
  bool same = (name.size() == 3 && name.starts_with("x_") &&
               StringRef("rwkvag").contains(name[2])) ||
              name == "k_k" || name == "k_a" || name == "r_k" ||
              name == "time_state";
  return same ? ("att." + name).str() : "";
}

} // namespace

Error toReleasedNames(TensorMap &tensors, StringRef path) {
  if (!tensors.count("model.embeddings.weight"))
    return Error::success();
  auto fail = [&](const Twine &message) {
    return createStringError(inconvertibleErrorCode(),
                             (path + ": " + message).str());
  };
  static const StringMap<StringRef> top = {
      {"model.embeddings.weight", "emb.weight"},
      {"model.norm.weight", "ln_out.weight"},
      {"model.norm.bias", "ln_out.bias"},
      {"lm_head.weight", "head.weight"}};
  TensorMap out;
  for (auto &[key, tensor] : tensors) {
    StringRef name(key);
    auto it = top.find(name);
    if (it != top.end()) {
      out[it->second.str()] = std::move(tensor);
      continue;
    }
    StringRef rest = name;
    unsigned layer;
    if (!rest.consume_front("model.layers.") ||
        rest.consumeInteger(10, layer) || !rest.consume_front("."))
      return fail("unknown tensor '" + key +
                  "' in a flash-linear-attention RWKV-7 checkpoint");
    std::string prefix = "blocks." + std::to_string(layer) + ".";
    if (rest == "attn.x_x") {
      // The six mixes, fused: one row each, in the order r, w, k, v, a, g.
      if (tensor.shape.size() != 2 || tensor.shape[0] != 6)
        return fail("tensor '" + key + "' has shape " +
                    shapeString(tensor.shape) +
                    ", expected [6, C] (x_r, x_w, x_k, x_v, x_a, x_g)");
      int64_t c = tensor.shape[1];
      const std::vector<float> &values = tensor.values();
      for (int64_t row = 0; row < 6; ++row) {
        Tensor &mix = out[prefix + "att.x_" + "rwkvag"[row]];
        mix.sourceDType = tensor.sourceDType;
        mix.shape = {c};
        mix.data.assign(values.begin() + row * c,
                        values.begin() + (row + 1) * c);
      }
      continue;
    }
    bool transpose;
    std::string released = layerName(rest, transpose);
    if (released.empty())
      return fail("unknown tensor '" + key +
                  "' in a flash-linear-attention RWKV-7 checkpoint");
    if (transpose && tensor.shape.size() != 2)
      return fail("tensor '" + key + "' is not a matrix");
    out[prefix + released] = transpose ? transposed(tensor) : std::move(tensor);
  }
  tensors = std::move(out);
  return Error::success();
}

} // namespace modrwkv::checkpoint
