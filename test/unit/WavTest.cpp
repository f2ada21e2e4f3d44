//===- WavTest.cpp - modrwkv-run's WAV reader -----------------------------===//
//
// Every sample format decodes to the values Python's wave/numpy would give;
// bad headers are errors naming the file; deterministic mutants of valid
// files either decode or fail with such an error, never crash.
//
//===----------------------------------------------------------------------===//

#include "Wav.h"
#include "Mutate.h"

#include <gtest/gtest.h>

#include <cstring>

namespace {

void put(std::string &s, uint32_t v, int bytes) {
  for (int i = 0; i < bytes; ++i)
    s.push_back(char((v >> (8 * i)) & 0xFF));
}

/// A WAV file with `channels` interleaved channels of `bits`-bit samples
/// given as raw little-endian words.
std::string wav(uint16_t tag, uint16_t channels, uint32_t rate, uint16_t bits,
                const std::vector<uint32_t> &words, bool extensible = false) {
  std::string fmt;
  put(fmt, extensible ? 0xFFFE : tag, 2);
  put(fmt, channels, 2);
  put(fmt, rate, 4);
  put(fmt, rate * channels * bits / 8, 4);
  put(fmt, channels * bits / 8, 2);
  put(fmt, bits, 2);
  if (extensible) {
    put(fmt, 22, 2);   // extension size
    put(fmt, bits, 2); // valid bits
    put(fmt, 0, 4);    // channel mask
    put(fmt, tag, 2);  // sub-format GUID, first two bytes
    fmt.append(14, '\0');
  }
  std::string data;
  for (uint32_t w : words)
    put(data, w, bits / 8);
  std::string body = "WAVE";
  body += "LIST";
  put(body, 3, 4);
  body += "abc";
  body.push_back('\0'); // odd chunk, padded
  body += "fmt ";
  put(body, fmt.size(), 4);
  body += fmt;
  body += "data";
  put(body, data.size(), 4);
  body += data;
  std::string file = "RIFF";
  put(file, body.size(), 4);
  return file + body;
}

Clip parse(const std::string &bytes) {
  Clip clip;
  std::string error;
  EXPECT_TRUE(parseWav(reinterpret_cast<const uint8_t *>(bytes.data()),
                       bytes.size(), "t.wav", clip, error))
      << error;
  return clip;
}

std::string parseError(const std::string &bytes) {
  Clip clip;
  std::string error;
  EXPECT_FALSE(parseWav(reinterpret_cast<const uint8_t *>(bytes.data()),
                        bytes.size(), "t.wav", clip, error));
  return error;
}

uint32_t floatBits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

TEST(Wav, SampleFormats) {
  Clip c = parse(wav(1, 1, 16000, 16, {0x7FFF, 0x8000, 0x0001}));
  EXPECT_EQ(c.rate, 16000);
  EXPECT_EQ(c.samples,
            (std::vector<double>{32767 / 32768.0, -1.0, 1 / 32768.0}));
  c = parse(wav(1, 1, 8000, 8, {0, 128, 255}));
  EXPECT_EQ(c.samples, (std::vector<double>{-1.0, 0.0, 127 / 128.0}));
  c = parse(wav(1, 1, 8000, 24, {0x800000, 0x7FFFFF, 0xFFFFFF}));
  EXPECT_EQ(c.samples,
            (std::vector<double>{-1.0, 8388607 / 8388608.0, -1 / 8388608.0}));
  c = parse(wav(1, 1, 8000, 32, {0x80000000u, 0x40000000u}));
  EXPECT_EQ(c.samples, (std::vector<double>{-1.0, 0.5}));
  c = parse(wav(3, 1, 44100, 32, {floatBits(0.25f), floatBits(-1.5f)}));
  EXPECT_EQ(c.samples, (std::vector<double>{0.25, -1.5}));
  // Stereo averages to mono; extensible headers name the format inside.
  c = parse(wav(1, 2, 48000, 16, {0x4000, 0x0000, 0xC000, 0x4000}, true));
  EXPECT_EQ(c.rate, 48000);
  EXPECT_EQ(c.samples, (std::vector<double>{0.25, 0.0}));
}

TEST(Wav, BadHeaders) {
  EXPECT_EQ(parseError("\x89PNG\r\n\x1a\n....."),
            "t.wav: not a usable WAV file: no RIFF/WAVE header");
  EXPECT_EQ(parseError(wav(1, 1, 0, 16, {1})),
            "t.wav: not a usable WAV file: sample rate 0 Hz in the fmt chunk");
  EXPECT_EQ(parseError(wav(2, 1, 8000, 16, {1})),
            "t.wav: not a usable WAV file: audio format 2 is compressed or "
            "unknown (uncompressed PCM or IEEE float only)");
  EXPECT_EQ(parseError(wav(1, 1, 8000, 12, {1})),
            "t.wav: not a usable WAV file: 12-bit PCM samples are not "
            "supported");
  std::string cut = wav(1, 1, 8000, 16, {1, 2, 3, 4});
  cut.resize(cut.size() - 3);
  EXPECT_EQ(parseError(cut), "t.wav: not a usable WAV file: truncated: the "
                             "data chunk holds 8 bytes, the file has 5 after "
                             "its header");
  EXPECT_EQ(parseError(wav(3, 1, 8000, 32, {0x7FC00000u})),
            "t.wav: not a usable WAV file: sample 0 is not finite");
}

TEST(Wav, MutantsNeverCrash) {
  std::vector<uint32_t> words;
  for (uint32_t i = 0; i < 600; ++i)
    words.push_back((i * 2654435761u) & 0xFFFF);
  std::mt19937_64 rng(0x3a7e);
  int ok = 0;
  for (const std::string &seed :
       {wav(1, 2, 44100, 16, words), wav(1, 1, 16000, 24, words, true),
        wav(3, 1, 22050, 32, std::vector<uint32_t>(300, floatBits(0.5f)))})
    for (int i = 0; i < 2000; ++i) {
      std::string mutant = mutate(seed, rng);
      Clip clip;
      std::string error;
      if (parseWav(reinterpret_cast<const uint8_t *>(mutant.data()),
                   mutant.size(), "mutant", clip, error))
        ++ok;
      else
        ASSERT_EQ(error.rfind("mutant: not a usable WAV file: ", 0), 0u)
            << error;
    }
  EXPECT_GT(ok, 0);
}

} // namespace
