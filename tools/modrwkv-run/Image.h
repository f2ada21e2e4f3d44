//===- Image.h - image files to encoder input for modrwkv-run --*- C++ -*-===//
//
// Decodes PNG/JPEG/BMP (stb_image), resizes as the encoder's preprocessing
// says (to a fixed size, or the shortest edge to S) with its resampling
// filter (PIL's convolution resampling, as Hugging Face image processors use
// it), crops the center to the tower's input size, rescales and normalizes
// per channel, and lays the pixels out as [1, 3, H, W] floats.
//
//===----------------------------------------------------------------------===//

#ifndef MODRWKV_TOOLS_RUN_IMAGE_H
#define MODRWKV_TOOLS_RUN_IMAGE_H

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

/// `preprocess` is the manifest's multimodal.preprocess.image entry.
/// Returns false with `error` naming the file on failure.
bool loadImage(const std::string &path, const nlohmann::json &preprocess,
               std::vector<float> &pixels, std::string &error);

#endif // MODRWKV_TOOLS_RUN_IMAGE_H
