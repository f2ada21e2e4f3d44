//===- Modality.cpp - images and clips into a multimodal prompt -----------===//

#include "Audio.h"
#include "Generate.h"
#include "Image.h"

#include "modrwkv/graph.h"

#include <fstream>
#include <memory>

int encodeMedia(const std::string &artifact, const std::vector<Medium> &media,
                Encoded &out) {
  std::ifstream in(artifact + "/manifest.json");
  nlohmann::json manifest =
      nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (!manifest.is_object() || !manifest.contains("multimodal"))
    return fail(artifact + ": not a multimodal artifact (compile the "
                           "checkpoint with --encoder to give it images or "
                           "audio)");
  const nlohmann::json &mm = manifest["multimodal"];
  out.splice = mm.value("splice", "placeholder");
  out.placeholder = mm.value("placeholder", -1);
  out.begin = mm.value("begin", -1);
  out.end = mm.value("end", -1);

  std::unique_ptr<modrwkv_graphs, void (*)(modrwkv_graphs *)> graphs(
      modrwkv_graphs_load(artifact.c_str()), modrwkv_graphs_free);
  if (!graphs)
    return fail(modrwkv_last_error());
  for (const Medium &medium : media) {
    nlohmann::json preprocess = mm.value("preprocess", nlohmann::json::object())
                                    .value(medium.modality, nlohmann::json());
    int64_t graph = modrwkv_graphs_find(graphs.get(), medium.modality.c_str());
    modrwkv_tensor_info input{}, output{};
    if (!preprocess.is_object() || graph < 0 ||
        modrwkv_graph_input(graphs.get(), graph, 0, &input) != 0 ||
        modrwkv_graph_output(graphs.get(), graph, 0, &output) != 0 ||
        output.rank != 2)
      return fail(medium.path + ": the artifact " + artifact + " has no " +
                  medium.modality + " encoder");
    std::vector<float> values;
    std::string error;
    bool ok = medium.modality == "audio"
                  ? loadAudio(medium.path, preprocess, values, error)
                  : loadImage(medium.path, preprocess, values, error);
    if (!ok)
      return fail(error);
    if (int64_t(values.size() * sizeof(float)) != input.bytes)
      return fail(medium.path + ": preprocessing made " +
                  std::to_string(values.size()) + " values, the " +
                  medium.modality + " graph takes " +
                  std::to_string(input.bytes / 4));
    std::vector<float> rows(output.shape[0] * output.shape[1]);
    const void *inputs[] = {values.data()};
    void *outputs[] = {rows.data()};
    if (modrwkv_graph_run(graphs.get(), graph, inputs, outputs) != 0)
      return fail(modrwkv_last_error());
    out.features.insert(out.features.end(), rows.begin(), rows.end());
    out.rowsPerItem.push_back(output.shape[0]);
  }
  return 0;
}

std::vector<int32_t> modalityTokens(const Encoded &encoded) {
  std::vector<int32_t> tokens;
  for (int64_t rows : encoded.rowsPerItem) {
    if (encoded.splice != "prefix")
      tokens.push_back(encoded.begin);
    tokens.insert(tokens.end(), rows, encoded.placeholder);
    if (encoded.splice != "prefix")
      tokens.push_back(encoded.end);
  }
  return tokens;
}
