//===- Preprocessing.cpp - input preparation for a tower ------------------===//

#include "Preprocessing.h"

#include "modrwkv/Onnx/Importer.h"

#include <fstream>

using namespace mlir;

namespace modrwkv {

namespace {

bool imageConfig(const nlohmann::json &cfg, const std::vector<int64_t> &shape,
                 const std::string &configPath, nlohmann::json &out,
                 std::string &error) {
  int64_t height = shape[2], width = shape[3];
  bool normalize = cfg.value("do_normalize", true);
  out = {{"kind", "image"},
         {"height", height},
         {"width", width},
         {"mean", normalize
                      ? cfg.value("image_mean", std::vector<double>(3, 0.5))
                      : std::vector<double>(3, 0.0)},
         {"std", normalize ? cfg.value("image_std", std::vector<double>(3, 0.5))
                           : std::vector<double>(3, 1.0)},
         {"rescale", cfg.value("do_rescale", true)
                         ? cfg.value("rescale_factor", 1.0 / 255)
                         : 1.0}};
  int resample = cfg.value("resample", 2);
  const char *names[] = {"nearest", nullptr, "bilinear", "bicubic"};
  if (resample < 0 || resample > 3 || !names[resample]) {
    error = configPath + ": resample " + std::to_string(resample) +
            " is not supported (0 nearest, 2 bilinear, 3 bicubic)";
    return false;
  }
  out["resample"] = names[resample];
  if (out["mean"].size() != 3 || out["std"].size() != 3) {
    error = configPath + ": image_mean and image_std need 3 values";
    return false;
  }
  for (double sd : out["std"].get<std::vector<double>>())
    if (!(sd > 0)) {
      error = configPath + ": image_std must be positive";
      return false;
    }
  // Hugging Face image processors: resize to `size` ({height, width}, or
  // {shortest_edge} keeping the aspect ratio, as CLIP's), then optionally
  // crop the center to `crop_size`; what comes out must be the tower's
  // input.
  auto positive = [](const nlohmann::json &v) {
    return v.is_number_integer() && v.get<int64_t>() > 0;
  };
  auto heightWidth = [&](const nlohmann::json &v) {
    return v.is_object() && positive(v.value("height", nlohmann::json())) &&
           positive(v.value("width", nlohmann::json()));
  };
  std::string input = std::to_string(height) + "x" + std::to_string(width);
  auto isInput = [&](const char *key, const nlohmann::json &v) {
    if (v["height"] == height && v["width"] == width)
      return true;
    error = configPath + ": " + key + " " + v.dump() +
            " differs from the tower's input " + input;
    return false;
  };
  bool crop = cfg.value("do_center_crop", false);
  if (crop) {
    nlohmann::json size = cfg.value("crop_size", nlohmann::json());
    if (positive(size))
      size = {{"height", size}, {"width", size}};
    if (!heightWidth(size)) {
      error = configPath + ": do_center_crop needs crop_size {height, width}";
      return false;
    }
    if (!isInput("crop_size", size))
      return false;
  }
  out["center_crop"] = crop;
  if (!cfg.contains("size"))
    return true;
  const nlohmann::json &size = cfg["size"];
  if (size.is_object() &&
      positive(size.value("shortest_edge", nlohmann::json())) &&
      !size.contains("height")) {
    if (!crop) {
      error = configPath +
              ": size {shortest_edge} gives each image its own "
              "shape; the tower takes " +
              input + ": set do_center_crop and crop_size";
      return false;
    }
    out["resize"] = {{"shortest_edge", size["shortest_edge"]}};
    return true;
  }
  if (!heightWidth(size)) {
    error = configPath + ": size " + size.dump() +
            " is not supported (use {height, width} or {shortest_edge})";
    return false;
  }
  if (!crop && !isInput("size", size))
    return false;
  out["resize"] = {{"height", size["height"]}, {"width", size["width"]}};
  return true;
}

bool audioConfig(const nlohmann::json &cfg, const std::vector<int64_t> &shape,
                 const std::string &configPath, nlohmann::json &out,
                 std::string &error) {
  auto bad = [&](const std::string &why) {
    error = configPath + ": " + why;
    return false;
  };
  int64_t rate = cfg.value("sampling_rate", int64_t(16000));
  if (rate < 1000 || rate > 768000)
    return bad("sampling_rate " + std::to_string(rate) +
               " Hz is outside 1000..768000");
  if (shape.size() == 3) {
    int64_t bins = shape[1], frames = shape[2];
    int64_t nFft = cfg.value("n_fft", int64_t(400));
    int64_t hop = cfg.value("hop_length", int64_t(160));
    if (nFft < 2 || nFft % 2 != 0 || hop < 1)
      return bad("n_fft " + std::to_string(nFft) + " and hop_length " +
                 std::to_string(hop) + ": need an even n_fft and a hop >= 1");
    if (cfg.value("feature_size", bins) != bins)
      return bad("feature_size " + cfg["feature_size"].dump() +
                 " differs from the tower's " + std::to_string(bins) +
                 " mel bins");
    if (cfg.value("nb_max_frames", frames) != frames)
      return bad("nb_max_frames " + cfg["nb_max_frames"].dump() +
                 " differs from the tower's " + std::to_string(frames) +
                 " frames (pin the frame dim with --dim)");
    if (frames * hop <= nFft / 2)
      return bad("the tower's " + std::to_string(frames) +
                 " frames are shorter than one STFT window");
    out = {{"kind", "log-mel"},      {"sampling_rate", rate},
           {"mel_bins", bins},       {"frames", frames},
           {"n_fft", nFft},          {"hop", hop},
           {"samples", frames * hop}};
    return true;
  }
  out = {{"kind", "waveform"},
         {"sampling_rate", rate},
         {"samples", shape.back()},
         {"normalize", cfg.value("do_normalize", true)}};
  return true;
}

} // namespace

bool towerPreprocessing(ModuleOp tower, const std::string &towerPath,
                        const std::string &configPath, std::string &modality,
                        nlohmann::json &out, std::string &error) {
  auto graphs = tower->getAttrOfType<ArrayAttr>(onnxfe::kGraphsAttrName);
  auto inputs = cast<DictionaryAttr>(graphs[0]).getAs<ArrayAttr>("inputs");
  auto input = cast<DictionaryAttr>(inputs[0]);
  std::vector<int64_t> shape;
  for (Attribute dim : input.getAs<ArrayAttr>("shape"))
    shape.push_back(cast<IntegerAttr>(dim).getInt());
  bool image = shape.size() == 4 && shape[0] == 1 && shape[1] == 3;
  bool audio = (shape.size() == 3 && shape[0] == 1) ||
               (shape.size() == 2 && shape[0] == 1) || shape.size() == 1;
  if (inputs.size() != 1 || (!image && !audio) ||
      input.getAs<StringAttr>("dtype").getValue() != "float32") {
    error = towerPath + ": a tower must take one float32 input: an image "
                        "[1, 3, H, W], a log-mel spectrogram [1, bins, "
                        "frames] or a waveform [1, samples]";
    return false;
  }
  modality = image ? "image" : "audio";
  nlohmann::json cfg = nlohmann::json::object();
  if (!configPath.empty()) {
    std::ifstream in(configPath);
    if (!in) {
      error = "cannot read " + configPath;
      return false;
    }
    try {
      cfg = nlohmann::json::parse(in);
    } catch (const std::exception &e) {
      error = configPath + ": not JSON: " + e.what();
      return false;
    }
    if (!cfg.is_object()) {
      error = configPath + ": not a JSON object";
      return false;
    }
    const char *other = image ? "sampling_rate" : "image_mean";
    if (cfg.contains(other)) {
      error = configPath + ": has " + other + ", but " + towerPath + " takes " +
              (image ? "images" : "audio");
      return false;
    }
  }
  try {
    return image ? imageConfig(cfg, shape, configPath, out, error)
                 : audioConfig(cfg, shape, configPath, out, error);
  } catch (const nlohmann::json::exception &e) {
    error = configPath + ": " + e.what();
    return false;
  }
}

} // namespace modrwkv
