//===- Adapter.cpp - Bone (Block Affine) adapter files --------------------===//

#include "modrwkv/Checkpoint/Adapter.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Regex.h"

using namespace llvm;

namespace modrwkv::checkpoint {

std::string adapterTensorName(StringRef weightName) {
  return (weightName.drop_back(strlen("weight")) + "bone").str();
}

namespace {

/// The Hugging Face adapter_config.json beside `path` (a folder or a file in
/// it), or "" if there is none.
std::string hfConfigPath(StringRef path) {
  SmallString<256> config(path);
  if (!sys::fs::is_directory(path))
    sys::path::remove_filename(config);
  sys::path::append(config, "adapter_config.json");
  return sys::fs::exists(config) ? std::string(config) : std::string();
}

struct Layout {
  bool huggingFace;
  std::string tensorsPath;
  std::string batVariant; ///< what a 3-D adapter means in this layout
  bool configSaysBat = false;
};

Expected<Layout> detectLayout(StringRef path) {
  std::string config = hfConfigPath(path);
  if (config.empty()) {
    if (sys::fs::is_directory(path))
      return fileError(path, "a folder without adapter_config.json is not a "
                             "Hugging Face PEFT adapter");
    return Layout{false, path.str(), "bat_in"};
  }
  auto buffer = MemoryBuffer::getFile(config);
  if (!buffer)
    return fileError(config, "cannot open");
  auto json = json::parse((*buffer)->getBuffer());
  if (!json)
    return fileError(config, "bad JSON: " + toString(json.takeError()));
  const json::Object *object = json->getAsObject();
  std::optional<StringRef> type =
      object ? object->getString("peft_type") : std::nullopt;
  if (!type || (*type != "BONE" && *type != "MISS"))
    return fileError(config, "peft_type is " +
                                 (type ? *type : StringRef("missing")) +
                                 "; only BONE and MISS adapters are supported");
  Layout layout{true, "", "bat_out"};
  if (const json::Value *init = object->get("init_weights")) {
    std::optional<StringRef> mode = init->getAsString();
    if (mode && *mode == "bat")
      layout.configSaysBat = true;
    else if (mode && *mode != "bone")
      return fileError(config, "init_weights '" + *mode +
                                   "' is not supported (bone and bat are)");
  }
  SmallString<256> tensors(path);
  if (sys::fs::is_directory(path))
    sys::path::append(tensors, "adapter_model.safetensors");
  layout.tensorsPath = std::string(tensors);
  return layout;
}

/// Strips PEFT's wrapper prefixes from a Hugging Face key.
StringRef stripPrefix(StringRef key) {
  key.consume_front("base_model.model.");
  return key;
}

Error checkShape(StringRef path, StringRef name, const BoneAdapter &a,
                 const Tensor &weight) {
  const std::vector<int64_t> &s = a.tensor.shape;
  int64_t n = weight.shape[0], k = weight.shape[1];
  auto shape = [&] {
    std::string out = "[";
    for (size_t i = 0; i < s.size(); ++i)
      out += (i ? ", " : "") + std::to_string(s[i]);
    return out + "]";
  };
  if (a.variant == "bone") {
    if (s[1] != n || s[0] <= 0)
      return fileError(path, "adapter '" + name + "' has shape " + shape() +
                                 ", expected [r, " + Twine(n) +
                                 "] for a bone adapter of a [" + Twine(n) +
                                 ", " + Twine(k) + "] weight");
    return Error::success();
  }
  int64_t r = s[1];
  if (s[2] != r || r <= 0)
    return fileError(path, "adapter '" + name + "' has shape " + shape() +
                               ", expected [blocks, r, r]");
  if (k % r != 0 || n % r != 0)
    return fileError(path, "adapter '" + name + "' (bat, r = " + Twine(r) +
                               "): the [" + Twine(n) + ", " + Twine(k) +
                               "] weight is not divisible into r x r blocks");
  int64_t blocks = a.variant == "bat_in" ? k / r : n / r;
  if (s[0] != blocks)
    return fileError(path, "adapter '" + name + "' has shape " + shape() +
                               ", expected [" + Twine(blocks) + ", " +
                               Twine(r) + ", " + Twine(r) + "] (" + a.variant +
                               ")");
  return Error::success();
}

} // namespace

Expected<AdapterSet> readAdapter(StringRef path, const TensorMap &base) {
  auto layout = detectLayout(path);
  if (!layout)
    return layout.takeError();
  auto tensors = readCheckpoint(layout->tensorsPath);
  if (!tensors)
    return tensors.takeError();
  StringRef file = layout->tensorsPath;

  static const Regex adapted(
      "^blocks\\.([0-9]+)\\.(att\\.(receptance|key|value|output)|"
      "ffn\\.(key|value))$");
  AdapterSet set;
  for (auto &[rawKey, tensor] : *tensors) {
    StringRef key =
        layout->huggingFace ? stripPrefix(rawKey) : StringRef(rawKey);
    StringRef module;
    for (StringRef suffix :
         layout->huggingFace
             ? SmallVector<StringRef>{".bone_block", ".miss_block"}
             : SmallVector<StringRef>{".bone", ".disha"})
      if (key.ends_with(suffix))
        module = key.drop_back(suffix.size());
    if (module.empty()) {
      // Not an adapter: a base tensor the fine-tune also trained.
      auto it = base.find(key.str());
      if (it == base.end())
        return fileError(file,
                         "unknown tensor '" + rawKey +
                             "': neither a Bone adapter nor a tensor of the "
                             "base model");
      // Element counts: per-channel vectors are [1, 1, C] in checkpoints
      // and [C] in compiled artifacts.
      if (it->second.numElements() != tensor.numElements())
        return fileError(file,
                         "tensor '" + rawKey +
                             "' does not have the size of the base model's");
      set.replacements.insert({key.str(), std::move(tensor)});
      continue;
    }
    std::string weightName = (module + ".weight").str();
    if (!adapted.match(module))
      return fileError(file, "adapter '" + rawKey + "': Bone on '" + module +
                                 "' is not supported (att.receptance/key/value/"
                                 "output and ffn.key/value are)");
    auto weight = base.find(weightName);
    if (weight == base.end())
      return fileError(file, "adapter '" + rawKey + "' is for '" + weightName +
                                 "', which the model does not have");
    BoneAdapter adapter;
    if (tensor.shape.size() == 2)
      adapter.variant = "bone";
    else if (tensor.shape.size() == 3)
      adapter.variant = layout->batVariant;
    else
      return fileError(file,
                       "adapter '" + rawKey +
                           "' must be [r, out] (bone) or [blocks, r, r] (bat)");
    if (layout->huggingFace &&
        layout->configSaysBat != (adapter.variant != "bone"))
      return fileError(file,
                       "adapter '" + rawKey + "' is " + adapter.variant +
                           " but adapter_config.json says init_weights = " +
                           (layout->configSaysBat ? "bat" : "bone"));
    adapter.tensor = std::move(tensor);
    if (Error e = checkShape(file, rawKey, adapter, weight->second))
      return std::move(e);
    set.adapters[weightName] = std::move(adapter);
  }
  if (set.adapters.empty())
    return fileError(file,
                     "no Bone adapter tensors (keys ending " +
                         Twine(layout->huggingFace ? ".bone_block/.miss_block"
                                                   : ".bone/.disha") +
                         ")");
  return set;
}

} // namespace modrwkv::checkpoint
