//===- SwapAdapter.cpp - modrwkv-run --adapter, --initial-state -----------===//
//
// An artifact compiled with an unmerged Bone adapter keeps the adapter (and
// the base tensors it replaced) as named weights. Another adapter of the
// same structure (targets, variants, ranks) is swapped in by overwriting
// those weights in the model's private mapping; anything else is refused.
// A state-tuning file replaces the state fresh states start from, on any
// artifact of the same shape.
//
//===----------------------------------------------------------------------===//

#include "Generate.h"

#include "modrwkv/Checkpoint/Adapter.h"
#include "modrwkv/Checkpoint/Config.h"

#include <nlohmann/json.hpp>

#include <fstream>

using namespace modrwkv::checkpoint;

int swapAdapter(modrwkv_model *model, const std::string &artifact,
                const std::string &path) {
  std::ifstream in(artifact + "/manifest.json");
  nlohmann::json manifest = nlohmann::json::parse(in, nullptr, false);
  if (manifest.is_discarded())
    return fail(artifact + "/manifest.json: cannot read");
  const nlohmann::json &slots =
      manifest["adapter"].value("tensors", nlohmann::json::object());
  bool unmerged = false;
  for (auto &[name, role] : slots.items())
    unmerged |= role != "replaces";
  if (!unmerged)
    return fail(artifact + " has no adapter to swap (compile with --adapter "
                           "and without --merge-adapter)");

  // The compiled model's tensors, by name and shape, stand in for the base
  // checkpoint when the adapter is checked.
  TensorMap shapes;
  for (const nlohmann::json &t : manifest["weights"]["tensors"])
    shapes[t["name"].get<std::string>()].shape =
        t["shape"].get<std::vector<int64_t>>();
  auto set = readAdapter(path, shapes);
  if (!set)
    return fail(llvm::toString(set.takeError()));

  std::map<std::string, Tensor *> provided;
  for (auto &[weightName, adapter] : set->adapters) {
    std::string name = adapterTensorName(weightName);
    if (!slots.contains(name))
      return fail(path + ": adapter for '" + weightName +
                  "', which the artifact was not compiled with an adapter for");
    if (slots[name] != adapter.variant)
      return fail(path + ": adapter '" + name + "' is " + adapter.variant +
                  ", the artifact's is " + slots[name].get<std::string>());
    provided[name] = &adapter.tensor;
  }
  for (auto &[name, tensor] : set->replacements)
    provided[name] = &tensor;
  for (auto &[name, role] : slots.items())
    if (!provided.count(name))
      return fail(path + ": lacks '" + name +
                  "', which the compiled adapter provided");
  for (auto &[name, tensor] : provided)
    if (modrwkv_model_set_weight(model, name.c_str(), tensor->values().data(),
                                 int64_t(tensor->values().size())) != 0)
      return fail(path + ": " + modrwkv_last_error());
  return 0;
}

int swapInitialState(modrwkv_model *model, const std::string &path) {
  int64_t layers = 0, heads = 0;
  auto states = readInitialState(path, layers, heads);
  if (!states)
    return fail(llvm::toString(states.takeError()));
  if (modrwkv_model_set_initial_state(model, states->data(),
                                      int64_t(states->size())) != 0)
    return fail(path + ": " + modrwkv_last_error());
  return 0;
}
