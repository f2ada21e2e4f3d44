//===- Audio.h - audio files to encoder input for modrwkv-run ---*- C++ -*-===//
//
// A WAV clip becomes the tower's input as the encoder's preprocessing (the
// manifest's multimodal.preprocess.audio) says:
//   resampling   to the tower's rate with a Hann-windowed sinc (width 6
//                zero crossings, cutoff 0.99 x the lower Nyquist rate), the
//                filter of torchaudio.functional.resample;
//   "waveform"   (WavLM, wav2vec 2.0) the samples, optionally normalized to
//                zero mean and unit variance, zero-padded to the tower's
//                length: [1, samples];
//   "log-mel"    (Whisper) zero-padded or cut to the tower's window, a
//                periodic Hann STFT (reflect-padded, centered), power, the
//                Slaney mel filter bank, log10 floored at 1e-10, clamped to
//                8 below the maximum, (x + 4) / 4: [1, bins, frames].
//
//===----------------------------------------------------------------------===//

#ifndef MODRWKV_TOOLS_RUN_AUDIO_H
#define MODRWKV_TOOLS_RUN_AUDIO_H

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

/// `x` sampled at `from` Hz, resampled to `to` Hz: ceil(n * to / from)
/// samples.
std::vector<double> resample(const std::vector<double> &x, int64_t from,
                             int64_t to);

struct LogMelConfig {
  int64_t rate = 16000, nFft = 400, hop = 160, bins = 80, frames = 3000;
};

/// Whisper's log-mel spectrogram of `x` (already at `config.rate`, at most
/// frames * hop samples), bins-major: [bins][frames].
std::vector<float> logMel(const std::vector<double> &x,
                          const LogMelConfig &config);

/// Reads `path` and prepares it as `preprocess` says. Returns false with
/// `error` naming the file on failure.
bool loadAudio(const std::string &path, const nlohmann::json &preprocess,
               std::vector<float> &values, std::string &error);

#endif // MODRWKV_TOOLS_RUN_AUDIO_H
