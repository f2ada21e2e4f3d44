//===- FuzzTest.cpp - mutated checkpoints never crash the readers ---------===//
//
// Deterministic mutation fuzzing of the .pth (zip + pickle) and safetensors
// readers and the config inference: every mutant must either read or fail
// with an error naming the file; a crash or a hang fails the test run.
//
//===----------------------------------------------------------------------===//

#include "Fixtures.h"
#include "Mutate.h"
#include "modrwkv/Checkpoint/Config.h"
#include "modrwkv/Checkpoint/Tensor.h"

#include "llvm/Support/MemoryBuffer.h"

#include <gtest/gtest.h>


using namespace modrwkv::checkpoint;

namespace {

std::string load(const std::string &path) {
  auto buffer = llvm::MemoryBuffer::getFile(path);
  EXPECT_TRUE(bool(buffer)) << path;
  return buffer ? (*buffer)->getBuffer().str() : std::string();
}

void fuzz(const std::string &seedPath, bool pth, int iterations) {
  std::string seed = load(seedPath);
  ASSERT_FALSE(seed.empty());
  std::mt19937_64 rng(0x5eed);
  int readOk = 0, configOk = 0;
  for (int i = 0; i < iterations; ++i) {
    std::string mutant = mutate(seed, rng);
    auto tensors = pth ? readPthBuffer(mutant, "mutant")
                       : readSafetensorsBuffer(mutant, "mutant");
    if (!tensors) {
      std::string message = llvm::toString(tensors.takeError());
      ASSERT_EQ(message.rfind("mutant: ", 0), 0u) << message;
      continue;
    }
    ++readOk;
    auto config = inferConfig(*tensors, "mutant");
    if (config)
      ++configOk;
    else
      ASSERT_EQ(llvm::toString(config.takeError()).rfind("mutant: ", 0), 0u);
  }
  // Mutations of weight bytes keep the file readable: the fuzzer reaches
  // past the parsers into the config checks.
  EXPECT_GT(readOk, 0);
  EXPECT_LT(readOk, iterations);
  testing::Test::RecordProperty("read_ok", readOk);
  testing::Test::RecordProperty("config_ok", configOk);
}

TEST(Fuzz, PthReaderSurvivesMutants) { fuzz(fixture("seed.pth"), true, 3000); }

TEST(Fuzz, SafetensorsReaderSurvivesMutants) {
  fuzz(fixture("seed.safetensors"), false, 3000);
}

TEST(Fuzz, RandomBytes) {
  std::mt19937_64 rng(7);
  for (int i = 0; i < 2000; ++i) {
    std::string bytes(rng() % 512, '\0');
    for (char &c : bytes)
      c = char(rng());
    if (i % 2) // make some look like the real thing
      bytes.replace(0, std::min<size_t>(4, bytes.size()), "PK\x03\x04");
    auto pth = readPthBuffer(bytes, "random");
    auto st = readSafetensorsBuffer(bytes, "random");
    EXPECT_FALSE(bool(pth));
    EXPECT_FALSE(bool(st));
    llvm::consumeError(pth.takeError());
    llvm::consumeError(st.takeError());
  }
}

} // namespace
