//===- Modality.cpp - images into a multimodal artifact's prompt ----------===//

#include "Generate.h"
#include "Image.h"

#include "modrwkv/graph.h"

#include <fstream>
#include <memory>

int encodeImages(const std::string &artifact,
                 const std::vector<std::string> &images, Encoded &out) {
  std::ifstream in(artifact + "/manifest.json");
  nlohmann::json manifest =
      nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (!manifest.is_object() || !manifest.contains("multimodal"))
    return fail(artifact + ": not a multimodal artifact (compile the "
                           "checkpoint with --encoder to give it images)");
  const nlohmann::json &mm = manifest["multimodal"];
  nlohmann::json preprocess = mm.value("preprocess", nlohmann::json::object())
                                  .value("image", nlohmann::json());
  if (!preprocess.is_object())
    return fail(artifact + ": the artifact has no image encoder");
  out.splice = mm.value("splice", "placeholder");
  out.placeholder = mm.value("placeholder", -1);
  out.begin = mm.value("begin", -1);
  out.end = mm.value("end", -1);

  std::unique_ptr<modrwkv_graphs, void (*)(modrwkv_graphs *)> graphs(
      modrwkv_graphs_load(artifact.c_str()), modrwkv_graphs_free);
  if (!graphs)
    return fail(modrwkv_last_error());
  int64_t graph = modrwkv_graphs_find(graphs.get(), "image");
  modrwkv_tensor_info input{}, output{};
  if (graph < 0 || modrwkv_graph_input(graphs.get(), graph, 0, &input) != 0 ||
      modrwkv_graph_output(graphs.get(), graph, 0, &output) != 0 ||
      output.rank != 2)
    return fail(artifact + ": the artifact has no image graph");
  for (const std::string &path : images) {
    std::vector<float> pixels;
    std::string error;
    if (!loadImage(path, preprocess, pixels, error))
      return fail(error);
    if (int64_t(pixels.size() * sizeof(float)) != input.bytes)
      return fail(
          path + ": preprocessing made " + std::to_string(pixels.size()) +
          " values, the image graph takes " + std::to_string(input.bytes / 4));
    std::vector<float> rows(output.shape[0] * output.shape[1]);
    const void *inputs[] = {pixels.data()};
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
