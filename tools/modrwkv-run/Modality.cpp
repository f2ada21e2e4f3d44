//===- Modality.cpp - images and clips into a multimodal prompt -----------===//

#include "Audio.h"
#include "Generate.h"
#include "Image.h"

#include "modrwkv/graph.h"

#include <fstream>
#include <map>
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
    out.modalities.push_back(medium.modality);
  }
  return 0;
}

bool promptWithMedia(const std::string &text, const Encoded &media,
                     const modrwkv_tokenizer *tokenizer,
                     std::vector<int32_t> &tokens, std::vector<float> &rows,
                     std::string &error) {
  size_t count = media.rowsPerItem.size();
  std::vector<size_t> firstRow(count + 1, 0);
  for (size_t i = 0; i < count; ++i)
    firstRow[i + 1] = firstRow[i] + size_t(media.rowsPerItem[i]);
  size_t width = firstRow[count] ? media.features.size() / firstRow[count] : 0;
  auto addText = [&](const std::string &part) {
    std::vector<int32_t> ids(part.size());
    ids.resize(modrwkv_tokenize(tokenizer, part.data(), int64_t(part.size()),
                                ids.data()));
    tokens.insert(tokens.end(), ids.begin(), ids.end());
  };
  auto addMedium = [&](size_t i) {
    bool framed = media.splice != "prefix";
    if (framed)
      tokens.push_back(media.begin);
    tokens.insert(tokens.end(), media.rowsPerItem[i], media.placeholder);
    if (framed)
      tokens.push_back(media.end);
    rows.insert(rows.end(), media.features.begin() + firstRow[i] * width,
                media.features.begin() + firstRow[i + 1] * width);
  };

  // The media of each kind in command-line order, and the markers in the
  // text (position, kind).
  std::map<std::string, std::vector<size_t>> queued;
  for (size_t i = 0; i < count; ++i)
    queued[media.modalities[i]].push_back(i);
  std::vector<std::pair<size_t, std::string>> markers;
  for (const char *kind : {"image", "audio"}) {
    std::string marker = std::string("<") + kind + ">";
    for (size_t at = text.find(marker); at != std::string::npos;
         at = text.find(marker, at + marker.size()))
      markers.push_back({at, kind});
  }
  if (markers.empty()) {
    for (size_t i = 0; i < count; ++i)
      addMedium(i);
    addText(text);
    return true;
  }
  for (const char *kind : {"image", "audio"}) {
    size_t marked =
        std::count_if(markers.begin(), markers.end(),
                      [&](const auto &m) { return m.second == kind; });
    size_t given = queued[kind].size();
    if (marked != given) {
      error = "the prompt has " + std::to_string(marked) + " <" + kind +
              "> marker" + (marked == 1 ? "" : "s") + " and " +
              std::to_string(given) + " --" + kind + " file" +
              (given == 1 ? "" : "s");
      return false;
    }
  }
  std::sort(markers.begin(), markers.end());
  std::map<std::string, size_t> next;
  size_t from = 0;
  for (const auto &[at, kind] : markers) {
    addText(text.substr(from, at - from));
    addMedium(queued[kind][next[kind]++]);
    from = at + kind.size() + 2;
  }
  addText(text.substr(from));
  return true;
}
