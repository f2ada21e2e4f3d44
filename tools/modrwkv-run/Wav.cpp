//===- Wav.cpp - RIFF/WAVE reader for modrwkv-run -------------------------===//

#include "Wav.h"

#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>

namespace {

uint32_t le(const uint8_t *p, int bytes) {
  uint32_t v = 0;
  for (int i = bytes - 1; i >= 0; --i)
    v = (v << 8) | p[i];
  return v;
}

constexpr uint16_t kPcm = 1, kFloat = 3, kExtensible = 0xFFFE;

struct Format {
  uint16_t tag = 0, channels = 0, blockAlign = 0, bits = 0;
  uint32_t rate = 0;
};

/// One sample of `bits` at `p`, scaled to [-1, 1).
double sampleAt(const uint8_t *p, const Format &f) {
  if (f.tag == kFloat) {
    if (f.bits == 32) {
      float v;
      std::memcpy(&v, p, 4);
      return v;
    }
    double v;
    std::memcpy(&v, p, 8);
    return v;
  }
  switch (f.bits) {
  case 8:
    return (double(p[0]) - 128.0) / 128.0;
  case 16:
    return double(int16_t(le(p, 2))) / 32768.0;
  case 24:
    // Sign-extend the 24-bit value through the top of a 32-bit word.
    return double(int32_t(le(p, 3) << 8) >> 8) / 8388608.0;
  default:
    return double(int32_t(le(p, 4))) / 2147483648.0;
  }
}

bool checkFormat(const Format &f, std::string &why) {
  if (f.tag != kPcm && f.tag != kFloat) {
    why = "audio format " + std::to_string(f.tag) +
          " is compressed or unknown (uncompressed PCM or IEEE float only)";
    return false;
  }
  bool bitsOk = f.tag == kPcm ? (f.bits == 8 || f.bits == 16 || f.bits == 24 ||
                                 f.bits == 32)
                              : (f.bits == 32 || f.bits == 64);
  if (!bitsOk) {
    why = std::to_string(f.bits) + "-bit " + (f.tag == kPcm ? "PCM" : "float") +
          " samples are not supported";
    return false;
  }
  if (f.channels == 0) {
    why = "the fmt chunk says 0 channels";
    return false;
  }
  if (f.blockAlign != f.channels * (f.bits / 8)) {
    why = "block align " + std::to_string(f.blockAlign) + " does not match " +
          std::to_string(f.channels) + " channels of " +
          std::to_string(f.bits) + " bits";
    return false;
  }
  if (f.rate == 0) {
    why = "sample rate 0 Hz in the fmt chunk";
    return false;
  }
  return true;
}

} // namespace

bool parseWav(const uint8_t *data, size_t size, const std::string &name,
              Clip &clip, std::string &error) {
  auto fail = [&](const std::string &why) {
    error = name + ": not a usable WAV file: " + why;
    return false;
  };
  if (size < 12 || std::memcmp(data, "RIFF", 4) != 0 ||
      std::memcmp(data + 8, "WAVE", 4) != 0)
    return fail("no RIFF/WAVE header");
  Format f;
  bool haveFormat = false;
  size_t at = 12;
  while (at + 8 <= size) {
    const uint8_t *chunk = data + at;
    uint64_t length = le(chunk + 4, 4);
    size_t body = at + 8, left = size - body;
    if (std::memcmp(chunk, "fmt ", 4) == 0) {
      if (length < 16 || length > left)
        return fail("fmt chunk of " + std::to_string(length) + " bytes");
      const uint8_t *p = data + body;
      f.tag = le(p, 2);
      f.channels = le(p + 2, 2);
      f.rate = le(p + 4, 4);
      f.blockAlign = le(p + 12, 2);
      f.bits = le(p + 14, 2);
      // WAVE_FORMAT_EXTENSIBLE keeps the real tag in its sub-format GUID.
      if (f.tag == kExtensible) {
        if (length < 40)
          return fail("extensible fmt chunk of " + std::to_string(length) +
                      " bytes (40 expected)");
        f.tag = le(p + 24, 2);
      }
      std::string why;
      if (!checkFormat(f, why))
        return fail(why);
      haveFormat = true;
    } else if (std::memcmp(chunk, "data", 4) == 0) {
      if (!haveFormat)
        return fail("data chunk before the fmt chunk");
      // Writers streaming to a pipe leave the size at 0xFFFFFFFF.
      if (length == 0xFFFFFFFFu)
        length = left;
      if (length > left)
        return fail("truncated: the data chunk holds " +
                    std::to_string(length) + " bytes, the file has " +
                    std::to_string(left) + " after its header");
      size_t frames = length / f.blockAlign, bytes = f.bits / 8;
      clip.rate = f.rate;
      clip.samples.assign(frames, 0.0);
      const uint8_t *p = data + body;
      for (size_t i = 0; i < frames; ++i) {
        double sum = 0.0;
        for (unsigned c = 0; c < f.channels; ++c, p += bytes)
          sum += sampleAt(p, f);
        if (!std::isfinite(sum))
          return fail("sample " + std::to_string(i) + " is not finite");
        clip.samples[i] = sum / f.channels;
      }
      return true;
    }
    // Chunks are padded to an even size.
    uint64_t next = uint64_t(body) + length + (length & 1);
    if (next > size)
      break;
    at = size_t(next);
  }
  return fail(haveFormat ? "no data chunk" : "no fmt chunk");
}

bool readWav(const std::string &path, Clip &clip, std::string &error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = path + ": cannot open the audio file";
    return false;
  }
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                             std::istreambuf_iterator<char>());
  return parseWav(bytes.data(), bytes.size(), path, clip, error);
}
