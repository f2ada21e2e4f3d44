//===- Image.cpp - image files to encoder input for modrwkv-run -----------===//

#include "Image.h"

#include <stb/stb_image.h>

#include <algorithm>
#include <cmath>
#include <memory>

namespace {

double triangle(double x) {
  x = std::fabs(x);
  return x < 1.0 ? 1.0 - x : 0.0;
}

/// Keys' cubic with a = -0.5, PIL's BICUBIC.
double cubic(double x) {
  constexpr double a = -0.5;
  x = std::fabs(x);
  if (x < 1.0)
    return ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0;
  if (x < 2.0)
    return (((x - 5.0) * x + 8.0) * x - 4.0) * a;
  return 0.0;
}

/// One output position of a 1-D resampling: the first input index and the
/// normalized weights.
struct Taps {
  int64_t first = 0;
  std::vector<double> weights;
};

/// PIL's coefficients: the filter is widened by the scale when shrinking
/// (antialiasing); nearest takes the input pixel under the output center,
/// the center stepped by repeated addition as PIL's ImagingScaleAffine
/// does (that rounding decides centers falling on an input pixel's edge).
std::vector<Taps> taps(int64_t in, int64_t out, const std::string &filter) {
  std::vector<Taps> all(out);
  double scale = double(in) / double(out);
  if (filter == "nearest") {
    double center = 0.5 * scale;
    for (int64_t i = 0; i < out; ++i, center += scale)
      all[i] = {std::min<int64_t>(int64_t(center), in - 1), {1.0}};
    return all;
  }
  double (*f)(double) = filter == "bicubic" ? cubic : triangle;
  double support = (filter == "bicubic" ? 2.0 : 1.0);
  double filterScale = std::max(scale, 1.0);
  support *= filterScale;
  for (int64_t i = 0; i < out; ++i) {
    double center = (i + 0.5) * scale;
    int64_t lo = std::max<int64_t>(int64_t(center - support + 0.5), 0);
    int64_t hi = std::min<int64_t>(int64_t(center + support + 0.5), in);
    Taps &t = all[i];
    t.first = lo;
    double sum = 0.0;
    for (int64_t x = lo; x < hi; ++x) {
      double w = f((x - center + 0.5) / filterScale);
      t.weights.push_back(w);
      sum += w;
    }
    for (double &w : t.weights)
      w = sum != 0.0 ? w / sum : 0.0;
  }
  return all;
}

/// Resamples the middle axis of an 8-bit [outer, in, inner] array to `out`
/// positions, rounding to 8 bits as PIL does after each pass.
std::vector<uint8_t> resampleAxis(const std::vector<uint8_t> &src,
                                  int64_t outer, int64_t in, int64_t inner,
                                  int64_t out, const std::string &filter) {
  std::vector<Taps> t = taps(in, out, filter);
  std::vector<uint8_t> dst(outer * out * inner);
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < out; ++i)
      for (int64_t j = 0; j < inner; ++j) {
        double acc = 0.0;
        for (size_t k = 0; k < t[i].weights.size(); ++k)
          acc += t[i].weights[k] * src[(o * in + t[i].first + k) * inner + j];
        dst[(o * out + i) * inner + j] =
            uint8_t(std::clamp(std::lround(acc), 0L, 255L));
      }
  return dst;
}

/// The size `preprocess.resize` asks of a height x width image (Hugging
/// Face's get_resize_output_image_size: the shortest edge to S, the other
/// scaled and truncated), the tower's input without one.
std::pair<int64_t, int64_t> resizedShape(const nlohmann::json &preprocess,
                                         int64_t height, int64_t width) {
  const nlohmann::json &resize =
      preprocess.value("resize", nlohmann::json::object());
  if (resize.contains("shortest_edge")) {
    int64_t edge = resize["shortest_edge"];
    if (width <= height)
      return {int64_t(double(edge) * height / width), edge};
    return {edge, int64_t(double(edge) * width / height)};
  }
  return {resize.value("height", preprocess.at("height").get<int64_t>()),
          resize.value("width", preprocess.at("width").get<int64_t>())};
}

/// The centered outHeight x outWidth window of an 8-bit [height, width, 3]
/// image, zeros where it reaches past the image (Hugging Face's
/// center_crop: the window starts at floor((size - crop) / 2)).
std::vector<uint8_t> centerCrop(const std::vector<uint8_t> &rgb, int64_t height,
                                int64_t width, int64_t outHeight,
                                int64_t outWidth) {
  auto start = [](int64_t size, int64_t crop) {
    int64_t d = size - crop;
    return d >= 0 ? d / 2 : -((-d + 1) / 2);
  };
  int64_t top = start(height, outHeight), left = start(width, outWidth);
  std::vector<uint8_t> out(outHeight * outWidth * 3, 0);
  for (int64_t i = 0; i < outHeight; ++i)
    for (int64_t j = 0; j < outWidth; ++j) {
      int64_t y = top + i, x = left + j;
      if (y >= 0 && y < height && x >= 0 && x < width)
        std::copy_n(&rgb[(y * width + x) * 3], 3, &out[(i * outWidth + j) * 3]);
    }
  return out;
}

} // namespace

bool loadImage(const std::string &path, const nlohmann::json &preprocess,
               std::vector<float> &pixels, std::string &error) {
  int width = 0, height = 0, channels = 0;
  std::unique_ptr<stbi_uc, void (*)(void *)> data(
      stbi_load(path.c_str(), &width, &height, &channels, 3), stbi_image_free);
  if (!data) {
    const char *reason = stbi_failure_reason();
    error = path + ": cannot read the image (" +
            (reason ? reason : "unknown error") + ")";
    return false;
  }
  try {
    int64_t outHeight = preprocess.at("height"),
            outWidth = preprocess.at("width");
    std::vector<double> mean = preprocess.at("mean"),
                        std = preprocess.at("std");
    double rescale = preprocess.at("rescale");
    std::string filter = preprocess.at("resample");
    std::vector<uint8_t> rgb(data.get(),
                             data.get() + size_t(width) * height * 3);
    auto [resizedHeight, resizedWidth] =
        resizedShape(preprocess, height, width);
    if (resizedHeight < 1 || resizedWidth < 1) {
      error = path + ": " + std::to_string(width) + "x" +
              std::to_string(height) + " is too narrow to resize";
      return false;
    }
    if (width != resizedWidth || height != resizedHeight)
      // Horizontal pass over [height, width, 3], then vertical over
      // [1, height, resizedWidth * 3].
      rgb = resampleAxis(
          resampleAxis(rgb, height, width, 3, resizedWidth, filter), 1, height,
          resizedWidth * 3, resizedHeight, filter);
    if (preprocess.value("center_crop", false) || resizedHeight != outHeight ||
        resizedWidth != outWidth)
      rgb = centerCrop(rgb, resizedHeight, resizedWidth, outHeight, outWidth);
    pixels.assign(3 * outHeight * outWidth, 0.0f);
    for (int c = 0; c < 3; ++c)
      for (int64_t i = 0; i < outHeight * outWidth; ++i)
        pixels[c * outHeight * outWidth + i] =
            float((rgb[i * 3 + c] * rescale - mean[c]) / std[c]);
  } catch (const nlohmann::json::exception &e) {
    error = "the artifact's image preprocessing is malformed: " +
            std::string(e.what());
    return false;
  }
  return true;
}
