//===- Preprocessing.h - input preparation for a tower ----------*- C++ -*-===//
//
// The tower's input shape says what it encodes, a Hugging Face
// preprocessor_config.json (optional) how its inputs are prepared:
//   [1, 3, H, W]       an image: size, image_mean, image_std,
//                      rescale_factor, resample (SigLIP's defaults);
//   [1, bins, frames]  a Whisper-style log-mel spectrogram: sampling_rate,
//                      feature_size, n_fft, hop_length (Whisper's
//                      defaults: 16 kHz, 400, 160);
//   [1, samples]       a raw waveform (WavLM, wav2vec 2.0): sampling_rate,
//                      do_normalize (16 kHz, normalized).
// The result is the manifest's multimodal.preprocess entry for that
// modality, which modrwkv-run follows.
//
//===----------------------------------------------------------------------===//

#ifndef MODRWKV_TOOLS_COMPILE_PREPROCESSING_H
#define MODRWKV_TOOLS_COMPILE_PREPROCESSING_H

#include "mlir/IR/BuiltinOps.h"

#include <nlohmann/json.hpp>

#include <string>

namespace modrwkv {

/// Sets `modality` ("image" or "audio") and `out` for the imported tower
/// (its onnx.graphs record). `configPath` may be empty. Returns false with
/// `error` naming the file on a mismatch or a bad config.
bool towerPreprocessing(mlir::ModuleOp tower, const std::string &towerPath,
                        const std::string &configPath, std::string &modality,
                        nlohmann::json &out, std::string &error);

} // namespace modrwkv

#endif // MODRWKV_TOOLS_COMPILE_PREPROCESSING_H
