//===- Wav.h - RIFF/WAVE reader for modrwkv-run -----------------*- C++ -*-===//
//
// Reads uncompressed WAV files: PCM 8/16/24/32-bit integers and IEEE float
// 32/64-bit, plain or WAVE_FORMAT_EXTENSIBLE, any number of channels. The
// channels are averaged to mono; integers are scaled to [-1, 1) by 2^(bits-1)
// (8-bit PCM is unsigned, offset 128), as Python's wave + numpy and
// torchaudio do. Anything else is an error naming the file and the field.
//
//===----------------------------------------------------------------------===//

#ifndef MODRWKV_TOOLS_RUN_WAV_H
#define MODRWKV_TOOLS_RUN_WAV_H

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

struct Clip {
  int64_t rate = 0;            ///< samples per second, as the header says
  std::vector<double> samples; ///< mono
};

/// Parses the bytes of a WAV file; `name` prefixes errors.
bool parseWav(const uint8_t *data, size_t size, const std::string &name,
              Clip &clip, std::string &error);

/// Reads and parses the file at `path`.
bool readWav(const std::string &path, Clip &clip, std::string &error);

#endif // MODRWKV_TOOLS_RUN_WAV_H
