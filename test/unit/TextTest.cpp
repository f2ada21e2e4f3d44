//===- TextTest.cpp - tokenizer, streaming decoder, sampler ---------------===//

#include "modrwkv/text.h"
#include "Fixtures.h"
#include "modrwkv/runtime.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <vector>

namespace {

struct TokenizerDeleter {
  void operator()(modrwkv_tokenizer *t) const { modrwkv_tokenizer_free(t); }
};
using Tokenizer = std::unique_ptr<modrwkv_tokenizer, TokenizerDeleter>;

const modrwkv_tokenizer *world() {
  static Tokenizer t(modrwkv_tokenizer_load(MODRWKV_DEFAULT_VOCAB));
  EXPECT_TRUE(t) << modrwkv_last_error();
  return t.get();
}

std::vector<int32_t> encode(const std::string &s) {
  std::vector<int32_t> ids(s.size());
  ids.resize(
      modrwkv_tokenize(world(), s.data(), int64_t(s.size()), ids.data()));
  return ids;
}

std::string decode(const std::vector<int32_t> &ids) {
  std::string out;
  for (int32_t id : ids) {
    const char *bytes;
    int64_t n = modrwkv_token_bytes(world(), id, &bytes);
    EXPECT_GE(n, 0) << id;
    out.append(bytes, n > 0 ? n : 0);
  }
  return out;
}

TEST(Tokenizer, WorldVocabulary) {
  ASSERT_NE(world(), nullptr);
  EXPECT_EQ(modrwkv_tokenizer_vocab_size(world()), 65530);
  const char *bytes;
  EXPECT_EQ(modrwkv_token_bytes(world(), 0, &bytes), 0); // end of document
  EXPECT_EQ(modrwkv_token_bytes(world(), 65529, &bytes), 128);
  EXPECT_EQ(modrwkv_token_bytes(world(), 65530, &bytes), -1);
}

// Expected ids from test/e2e/tokenizer_reference.py, an independent
// implementation of the same rule (Python literal parsing, longest match by
// trying every length).
TEST(Tokenizer, FixedStringsMatchTheReference) {
  EXPECT_EQ(encode("Hello, world!"),
            (std::vector<int32_t>{33155, 45, 40213, 34}));
  EXPECT_EQ(encode("User: 你好，世界\n\nAssistant:"),
            (std::vector<int32_t>{24281, 59, 33, 10464, 11685, 19137, 10267,
                                  14610, 261, 5585, 41693, 59}));
  EXPECT_EQ(
      encode("Привет, мир! Ελληνικά ٱلْعَرَبِيَّة 日本語のテキスト "
             "🙂👍"),
      (std::vector<int32_t>{
          27858, 27950, 27930, 45,    32732, 2810,  34,    5022, 27812, 2727,
          2733,  27806, 2717,  33,    218,   178,   2948,  2960, 2942,  2956,
          2934,  2956,  2925,  2958,  2954,  2956,  2959,  2926, 33,    13053,
          13205, 16592, 10138, 10199, 10177, 43480, 32845, 28333}));
  EXPECT_EQ(
      encode(std::string("\x00\xff\xfe invalid \xc3\x28 utf8 \xe2\x82", 22)),
      (std::vector<int32_t>{1, 256, 255, 52045, 33, 196, 41, 22684, 57, 33,
                            3008}));
  EXPECT_EQ(encode("    def f(x):\n        return x ** 2\n"),
            (std::vector<int32_t>{19250, 7334, 337, 41, 121, 501, 54807, 42178,
                                  355, 3448, 285, 11}));
  EXPECT_EQ(encode(""), std::vector<int32_t>{});
  EXPECT_EQ(encode("\n\n"), std::vector<int32_t>{261});
}

TEST(Tokenizer, RoundTripsRandomBytes) {
  std::mt19937_64 rng(3);
  for (int i = 0; i < 2000; ++i) {
    std::string s(rng() % 300, '\0');
    for (char &c : s) // mostly ASCII and UTF-8 lead/continuation bytes
      c = char(rng() % 3 ? 0x20 + rng() % 95 : rng());
    ASSERT_EQ(decode(encode(s)), s);
  }
}

TEST(Tokenizer, RoundTripsMultilingualText) {
  std::string text = "Tiếng Việt, हिन्दी, 한국어, עברית, ภาษาไทย, Ελληνικά, "
                     "emoji 👩‍👩‍👧 and combining e\xcc\x81\n\ttabs";
  EXPECT_EQ(decode(encode(text)), text);
}

TEST(Tokenizer, BadVocabularies) {
  EXPECT_EQ(modrwkv_tokenizer_load("/nonexistent.txt"), nullptr);
  EXPECT_NE(std::string(modrwkv_last_error()).find("/nonexistent.txt"),
            std::string::npos);
  std::string path = testing::TempDir() + "/bad-vocab.txt";
  auto expectError = [&](const std::string &content, const std::string &what) {
    std::ofstream(path) << content;
    EXPECT_EQ(modrwkv_tokenizer_load(path.c_str()), nullptr) << content;
    EXPECT_NE(std::string(modrwkv_last_error()).find(what), std::string::npos)
        << modrwkv_last_error();
  };
  expectError("1 'a' 2\n", "the line says 2");
  expectError("1 'a\n", "expected '<id> <literal> <length>'");
  expectError("1 'a' 1\n", "no single-byte token for byte 0");
  expectError("1 '\\q' 1\n", "unsupported escape");
  expectError("x 'a' 1\n", "bad id or length");
}

TEST(Decoder, HoldsBackIncompleteUtf8) {
  // "€" is E2 82 AC: feed it one byte token at a time (ids are byte + 1).
  std::unique_ptr<modrwkv_decoder, void (*)(modrwkv_decoder *)> d(
      modrwkv_decoder_create(world()), modrwkv_decoder_free);
  const char *text;
  EXPECT_EQ(modrwkv_decoder_push(d.get(), 'a' + 1, &text), 1);
  EXPECT_EQ(modrwkv_decoder_push(d.get(), 0xe2 + 1, &text), 0);
  EXPECT_EQ(modrwkv_decoder_push(d.get(), 0x82 + 1, &text), 0);
  ASSERT_EQ(modrwkv_decoder_push(d.get(), 0xac + 1, &text), 3);
  EXPECT_EQ(std::string(text, 3), "\xe2\x82\xac");
  // An invalid continuation releases the held bytes as they are.
  EXPECT_EQ(modrwkv_decoder_push(d.get(), 0xe2 + 1, &text), 0);
  ASSERT_EQ(modrwkv_decoder_push(d.get(), 'b' + 1, &text), 2);
  EXPECT_EQ(std::string(text, 2), "\xe2"
                                  "b");
  // Whatever is held at the end comes out on flush.
  EXPECT_EQ(modrwkv_decoder_push(d.get(), 0xf0 + 1, &text), 0);
  ASSERT_EQ(modrwkv_decoder_flush(d.get(), &text), 1);
  EXPECT_EQ(text[0], '\xf0');
  EXPECT_EQ(modrwkv_decoder_push(d.get(), 70000, &text), -1);
}

struct SamplerDeleter {
  void operator()(modrwkv_sampler *s) const { modrwkv_sampler_free(s); }
};
using Sampler = std::unique_ptr<modrwkv_sampler, SamplerDeleter>;

Sampler makeSampler(float temperature, float topP, int32_t topK,
                    float presence = 0, float frequency = 0,
                    uint64_t seed = 1) {
  modrwkv_sampler_params p = modrwkv_sampler_defaults();
  p.temperature = temperature;
  p.top_p = topP;
  p.top_k = topK;
  p.presence_penalty = presence;
  p.frequency_penalty = frequency;
  p.seed = seed;
  return Sampler(modrwkv_sampler_create(&p, 5));
}

TEST(Sampler, Defaults) {
  modrwkv_sampler_params p = modrwkv_sampler_defaults();
  EXPECT_EQ(p.temperature, 1.0f);
  EXPECT_EQ(p.top_p, 0.85f);
  EXPECT_EQ(p.top_k, 0);
  EXPECT_EQ(p.presence_penalty, 0.2f);
  EXPECT_EQ(p.frequency_penalty, 0.2f);
  EXPECT_EQ(p.penalty_decay, 0.996f);
  EXPECT_EQ(p.repetition_penalty, 1.0f);
}

TEST(Sampler, GreedyAndPenalties) {
  float logits[5] = {0.1f, 2.0f, 1.9f, -1.0f, 0.0f};
  Sampler greedy = makeSampler(0, 1, 0, /*presence=*/0.5f, /*frequency=*/0);
  EXPECT_EQ(modrwkv_sample(greedy.get(), logits), 1);
  modrwkv_sampler_accept(greedy.get(), 1, 1);
  EXPECT_EQ(modrwkv_sample(greedy.get(), logits), 2); // 2.0 - 0.5 < 1.9
  // Multiplicative repetition penalty: 2.0 / 1.5 < 1.9 after one use.
  modrwkv_sampler_params p = modrwkv_sampler_defaults();
  p.temperature = 0;
  p.presence_penalty = p.frequency_penalty = 0;
  p.repetition_penalty = 1.5f;
  Sampler repeat(modrwkv_sampler_create(&p, 5));
  EXPECT_EQ(modrwkv_sample(repeat.get(), logits), 1);
  modrwkv_sampler_accept(repeat.get(), 1, 1);
  EXPECT_EQ(modrwkv_sample(repeat.get(), logits), 2);
  Sampler topK = makeSampler(1, 1, 1);
  for (int i = 0; i < 20; ++i)
    EXPECT_EQ(modrwkv_sample(topK.get(), logits), 1);
}

TEST(Sampler, TopPKeepsTheSmallestHeadReachingP) {
  // probs ~ {0.64, 0.24, 0.09, 0.03, ~0}: top_p 0.7 keeps ids 0 and 1.
  float logits[5] = {3.0f, 2.0f, 1.0f, 0.0f, -20.0f};
  Sampler s = makeSampler(1, 0.7f, 0);
  int counts[5] = {};
  for (int i = 0; i < 4000; ++i)
    ++counts[modrwkv_sample(s.get(), logits)];
  EXPECT_EQ(counts[2] + counts[3] + counts[4], 0);
  EXPECT_NEAR(counts[0] / 4000.0,
              std::exp(3.0) / (std::exp(3.0) + std::exp(2.0)), 0.03);
}

TEST(Sampler, MatchesSoftmaxWithTemperature) {
  float logits[5] = {1.0f, 0.5f, 0.0f, -0.5f, -1.0f};
  for (float t : {1.0f, 0.5f, 2.0f}) {
    Sampler s = makeSampler(t, 1, 0);
    std::vector<int> counts(5);
    const int draws = 40000;
    for (int i = 0; i < draws; ++i)
      ++counts[modrwkv_sample(s.get(), logits)];
    double z = 0;
    for (float l : logits)
      z += std::exp(l / t);
    for (int k = 0; k < 5; ++k)
      EXPECT_NEAR(counts[k] / double(draws), std::exp(logits[k] / t) / z, 0.01)
          << "temperature " << t << " token " << k;
  }
}

TEST(Sampler, SeedDeterminesTheDraws) {
  float logits[5] = {0.3f, 0.2f, 0.1f, 0.0f, -0.1f};
  Sampler a = makeSampler(1, 1, 0, 0, 0, 42),
          b = makeSampler(1, 1, 0, 0, 0, 42),
          c = makeSampler(1, 1, 0, 0, 0, 43);
  std::vector<int32_t> da, db, dc;
  for (int i = 0; i < 64; ++i) {
    da.push_back(modrwkv_sample(a.get(), logits));
    db.push_back(modrwkv_sample(b.get(), logits));
    dc.push_back(modrwkv_sample(c.get(), logits));
  }
  EXPECT_EQ(da, db);
  EXPECT_NE(da, dc);
}

TEST(Sampler, RejectsBadParameters) {
  modrwkv_sampler_params p = modrwkv_sampler_defaults();
  p.top_p = 0;
  EXPECT_EQ(modrwkv_sampler_create(&p, 5), nullptr);
  p = modrwkv_sampler_defaults();
  p.temperature = -1;
  EXPECT_EQ(modrwkv_sampler_create(&p, 5), nullptr);
  p = modrwkv_sampler_defaults();
  p.repetition_penalty = 0.5f;
  EXPECT_EQ(modrwkv_sampler_create(&p, 5), nullptr);
}

} // namespace
