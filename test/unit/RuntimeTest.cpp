//===- RuntimeTest.cpp - the runtime C API --------------------------------===//

#include "modrwkv/runtime.h"
#include "Fixtures.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

namespace {

struct ModelDeleter {
  void operator()(modrwkv_model *m) const { modrwkv_model_free(m); }
};
struct StateDeleter {
  void operator()(modrwkv_state *s) const { modrwkv_state_free(s); }
};
using Model = std::unique_ptr<modrwkv_model, ModelDeleter>;
using State = std::unique_ptr<modrwkv_state, StateDeleter>;

Model loadArtifact() {
  Model m(modrwkv_model_load(fixture("artifact").c_str()));
  EXPECT_TRUE(m) << modrwkv_last_error();
  return m;
}

TEST(Runtime, LoadErrorsAreReported) {
  EXPECT_EQ(modrwkv_model_load("/nonexistent/artifact"), nullptr);
  EXPECT_NE(std::string(modrwkv_last_error()).find("/nonexistent/artifact"),
            std::string::npos);
  EXPECT_EQ(modrwkv_model_load(nullptr), nullptr);
  EXPECT_EQ(modrwkv_state_create(nullptr), nullptr);
}

TEST(Runtime, BadCallsFailCleanly) {
  Model m = loadArtifact();
  ASSERT_TRUE(m);
  State s(modrwkv_state_create(m.get()));
  EXPECT_EQ(modrwkv_state_logits(s.get()), nullptr); // nothing fed yet
  int32_t token = 1;
  EXPECT_EQ(modrwkv_prefill(m.get(), s.get(), &token, 0, nullptr), -1);
  EXPECT_EQ(modrwkv_prefill(m.get(), s.get(), nullptr, 1, nullptr), -1);
  EXPECT_EQ(modrwkv_decode(m.get(), s.get(), -1, nullptr), -1);
  EXPECT_NE(std::string(modrwkv_last_error()).find("outside the vocabulary"),
            std::string::npos);
  EXPECT_EQ(modrwkv_prefill(nullptr, s.get(), &token, 1, nullptr), -1);
  // A text-only artifact has no placeholder and takes no modality rows.
  EXPECT_EQ(modrwkv_model_placeholder(m.get()), -1);
  float row[64] = {};
  EXPECT_EQ(
      modrwkv_prefill_features(m.get(), s.get(), &token, 1, row, 1, nullptr),
      -1);
  EXPECT_NE(std::string(modrwkv_last_error()).find("not a multimodal artifact"),
            std::string::npos);
  // An initial state must fill the WKV state exactly.
  EXPECT_EQ(modrwkv_model_set_initial_state(m.get(), nullptr, 4), -1);
  std::vector<float> wrong(7);
  EXPECT_EQ(modrwkv_model_set_initial_state(m.get(), wrong.data(), 7), -1);
  EXPECT_NE(std::string(modrwkv_last_error()).find("7 floats"),
            std::string::npos);
}

TEST(Runtime, FreshStatesStartFromTheInitialState) {
  Model m = loadArtifact();
  ASSERT_TRUE(m);
  // The fixture: 2 layers x 1 head. A state saved before any token holds
  // the initial state; after a reset to zeros, fresh states are zero again.
  std::vector<float> initial(2 * 64 * 64);
  for (size_t i = 0; i < initial.size(); ++i)
    initial[i] = float(i % 13) - 6.0f;
  ASSERT_EQ(modrwkv_model_set_initial_state(m.get(), initial.data(),
                                            int64_t(initial.size())),
            0)
      << modrwkv_last_error();
  std::string path = ::testing::TempDir() + "fresh.state";
  auto wkvOfFresh = [&] {
    State s(modrwkv_state_create(m.get()));
    EXPECT_EQ(modrwkv_state_save(s.get(), path.c_str()), 0);
    std::FILE *f = std::fopen(path.c_str(), "rb");
    std::vector<float> wkv(initial.size());
    // Header (8 + 6 x 8 bytes), then att_shift and ffn_shift [2][64].
    std::fseek(f, 56 + 2 * 2 * 64 * sizeof(float), SEEK_SET);
    EXPECT_EQ(std::fread(wkv.data(), sizeof(float), wkv.size(), f), wkv.size());
    std::fclose(f);
    return wkv;
  };
  EXPECT_EQ(wkvOfFresh(), initial);
  ASSERT_EQ(modrwkv_model_set_initial_state(m.get(), nullptr, 0), 0);
  EXPECT_EQ(wkvOfFresh(), std::vector<float>(initial.size(), 0.0f));
}

TEST(Runtime, DecodeMatchesPrefillAndStateRoundTrips) {
  Model m = loadArtifact();
  ASSERT_TRUE(m);
  int64_t vocab = modrwkv_model_vocab_size(m.get());
  ASSERT_EQ(vocab, 40);
  // Longer than one prefill chunk, so the runtime's chunking is exercised.
  std::vector<int32_t> tokens;
  for (int i = 0; i < 300; ++i)
    tokens.push_back((i * 7 + 3) % vocab);
  State a(modrwkv_state_create(m.get())), b(modrwkv_state_create(m.get()));
  std::vector<float> all(tokens.size() * vocab), step(vocab);
  ASSERT_EQ(modrwkv_prefill(m.get(), a.get(), tokens.data(), tokens.size(),
                            all.data()),
            0)
      << modrwkv_last_error();
  for (size_t i = 0; i < tokens.size(); ++i) {
    ASSERT_EQ(modrwkv_decode(m.get(), b.get(), tokens[i], step.data()), 0);
    for (int64_t v = 0; v < vocab; ++v)
      ASSERT_NEAR(step[v], all[i * vocab + v], 1e-4f) << "token " << i;
  }
  const float *last = modrwkv_state_logits(a.get());
  ASSERT_NE(last, nullptr);
  EXPECT_EQ(last[0], all[(tokens.size() - 1) * vocab]);

  // Save, restore into a fresh state, continue both: identical.
  std::string path = testing::TempDir() + "/runtime-test.state";
  ASSERT_EQ(modrwkv_state_save(a.get(), path.c_str()), 0);
  State c(modrwkv_state_create(m.get())), d(modrwkv_state_create(m.get()));
  ASSERT_EQ(modrwkv_state_load(c.get(), path.c_str()), 0)
      << modrwkv_last_error();
  ASSERT_EQ(modrwkv_state_copy(d.get(), a.get()), 0);
  std::vector<float> fromA(vocab), fromC(vocab), fromD(vocab);
  ASSERT_EQ(modrwkv_decode(m.get(), a.get(), 5, fromA.data()), 0);
  ASSERT_EQ(modrwkv_decode(m.get(), c.get(), 5, fromC.data()), 0);
  ASSERT_EQ(modrwkv_decode(m.get(), d.get(), 5, fromD.data()), 0);
  EXPECT_EQ(fromA, fromC);
  EXPECT_EQ(fromA, fromD);

  // A truncated state file is refused and leaves the state untouched.
  std::FILE *f = std::fopen(path.c_str(), "r+b");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(ftruncate(fileno(f), 100), 0);
  std::fclose(f);
  EXPECT_EQ(modrwkv_state_load(c.get(), path.c_str()), -1);
  ASSERT_EQ(modrwkv_decode(m.get(), c.get(), 6, fromC.data()), 0);
  ASSERT_EQ(modrwkv_decode(m.get(), a.get(), 6, fromA.data()), 0);
  EXPECT_EQ(fromA, fromC);
  std::remove(path.c_str());
}

struct BatchDeleter {
  void operator()(modrwkv_batch *b) const { modrwkv_batch_free(b); }
};
using Batch = std::unique_ptr<modrwkv_batch, BatchDeleter>;

// Batched decode against the one-sequence path: three sequences with
// different prompts, put into slots, advanced together, give each the
// logits and the state that decoding it alone gives.
TEST(Runtime, BatchDecodeMatchesSequences) {
  Model m = loadArtifact();
  ASSERT_TRUE(m);
  int64_t vocab = modrwkv_model_vocab_size(m.get());
  const int slots = 3, steps = 4;
  std::vector<State> alone, prefilled;
  Batch batch(modrwkv_batch_create(m.get(), slots));
  ASSERT_TRUE(batch) << modrwkv_last_error();
  EXPECT_EQ(modrwkv_batch_slots(batch.get()), slots);
  EXPECT_EQ(modrwkv_batch_logits(batch.get()), nullptr);
  for (int i = 0; i < slots; ++i) {
    std::vector<int32_t> prompt;
    for (int t = 0; t < 5 + 7 * i; ++t)
      prompt.push_back((t * 11 + i * 5 + 1) % vocab);
    alone.emplace_back(modrwkv_state_create(m.get()));
    ASSERT_EQ(modrwkv_prefill(m.get(), alone.back().get(), prompt.data(),
                              prompt.size(), nullptr),
              0);
    ASSERT_EQ(modrwkv_batch_put(batch.get(), i, alone.back().get()), 0)
        << modrwkv_last_error();
  }
  std::vector<float> want(vocab);
  for (int step = 0; step < steps; ++step) {
    int32_t tokens[slots];
    for (int i = 0; i < slots; ++i)
      tokens[i] = (step * 13 + i * 3 + 2) % vocab;
    ASSERT_EQ(modrwkv_decode_batch(m.get(), batch.get(), tokens), 0)
        << modrwkv_last_error();
    const float *got = modrwkv_batch_logits(batch.get());
    ASSERT_NE(got, nullptr);
    for (int i = 0; i < slots; ++i) {
      ASSERT_EQ(modrwkv_decode(m.get(), alone[i].get(), tokens[i], want.data()),
                0);
      for (int64_t v = 0; v < vocab; ++v)
        ASSERT_NEAR(got[i * vocab + v], want[v], 1e-4f)
            << "slot " << i << " step " << step;
    }
  }
  // A slot taken out continues like the sequence decoded alone.
  State out(modrwkv_state_create(m.get()));
  ASSERT_EQ(modrwkv_batch_get(batch.get(), 1, out.get()), 0);
  std::vector<float> fromSlot(vocab), fromAlone(vocab);
  ASSERT_EQ(modrwkv_decode(m.get(), out.get(), 7, fromSlot.data()), 0);
  ASSERT_EQ(modrwkv_decode(m.get(), alone[1].get(), 7, fromAlone.data()), 0);
  for (int64_t v = 0; v < vocab; ++v)
    ASSERT_NEAR(fromSlot[v], fromAlone[v], 1e-4f);

  // Bad calls: unknown slots, tokens outside the vocabulary, no slots.
  EXPECT_EQ(modrwkv_batch_put(batch.get(), slots, out.get()), -1);
  EXPECT_NE(std::string(modrwkv_last_error()).find("slot 3 is outside [0, 3)"),
            std::string::npos);
  EXPECT_EQ(modrwkv_batch_get(batch.get(), -1, out.get()), -1);
  int32_t bad[slots] = {0, int32_t(vocab), 1};
  EXPECT_EQ(modrwkv_decode_batch(m.get(), batch.get(), bad), -1);
  EXPECT_NE(std::string(modrwkv_last_error()).find("at slot 1"),
            std::string::npos);
  EXPECT_EQ(modrwkv_batch_create(m.get(), 0), nullptr);
}

} // namespace

// The allocation functions the runtime exports to compiled code.
extern "C" void *_mlir_memref_to_llvm_alloc(size_t size);
extern "C" void *_mlir_memref_to_llvm_aligned_alloc(size_t alignment,
                                                    size_t size);
extern "C" void _mlir_memref_to_llvm_free(void *block);

namespace {

bool aligned(const void *p, uintptr_t alignment) {
  return reinterpret_cast<uintptr_t>(p) % alignment == 0;
}

TEST(Runtime, ScratchBlocksAreReusedWhileAnArtifactIsOpen) {
  Model m = loadArtifact();
  ASSERT_TRUE(m);
  constexpr size_t kMiB = size_t(1) << 20;
  void *a = _mlir_memref_to_llvm_alloc(kMiB);
  ASSERT_NE(a, nullptr);
  EXPECT_TRUE(aligned(a, 64));
  std::memset(a, 1, kMiB);
  _mlir_memref_to_llvm_free(a);
  // The same size, and a smaller one above half the block, get it back.
  void *b = _mlir_memref_to_llvm_alloc(kMiB);
  EXPECT_EQ(b, a);
  _mlir_memref_to_llvm_free(b);
  void *c = _mlir_memref_to_llvm_alloc(kMiB * 3 / 4);
  EXPECT_EQ(c, a);
  // Taken: another request gets another block; one below half does not
  // take the cached block.
  void *d = _mlir_memref_to_llvm_alloc(kMiB);
  EXPECT_NE(d, a);
  _mlir_memref_to_llvm_free(c);
  void *e = _mlir_memref_to_llvm_alloc(kMiB / 4);
  EXPECT_NE(e, a);
  // Small and over-aligned blocks come and go through the C library.
  void *f = _mlir_memref_to_llvm_alloc(100);
  void *g = _mlir_memref_to_llvm_aligned_alloc(4096, 3 * kMiB);
  ASSERT_NE(f, nullptr);
  ASSERT_NE(g, nullptr);
  EXPECT_TRUE(aligned(f, 64));
  EXPECT_TRUE(aligned(g, 4096));
  std::memset(g, 2, 3 * kMiB);
  EXPECT_EQ(_mlir_memref_to_llvm_aligned_alloc(96, 64), nullptr);
  for (void *p : {d, e, f, g})
    _mlir_memref_to_llvm_free(p);
  _mlir_memref_to_llvm_free(nullptr);
}

} // namespace
