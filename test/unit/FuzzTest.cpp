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

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/raw_ostream.h"

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

/// Writes `text` to `path`.
void save(const std::string &path, const std::string &text) {
  std::error_code error;
  llvm::raw_fd_ostream os(path, error);
  ASSERT_FALSE(error) << path;
  os << text;
}

TEST(Fuzz, ModelFolderIndexAndConfigSurviveMutants) {
  // A folder of one shard (the seed) with a valid index and config.json;
  // then mutants of the two JSON files.
  llvm::SmallString<128> dir;
  ASSERT_FALSE(llvm::sys::fs::createUniqueDirectory("modrwkv-folder", dir));
  std::string folder = dir.str().str(),
              shard = "model-00001-of-00001.safetensors";
  save(folder + "/" + shard, load(fixture("seed.safetensors")));
  auto seed = readSafetensors(fixture("seed.safetensors"));
  ASSERT_TRUE(bool(seed));
  std::string index = "{\"metadata\": {}, \"weight_map\": {";
  for (auto &[name, tensor] : *seed)
    index +=
        (index.back() == '{' ? "\"" : ", \"") + name + "\": \"" + shard + "\"";
  index += "}}";
  std::string config =
      R"({"model_type": "rwkv7", "hidden_size": 64, "num_hidden_layers": 2,)"
      R"( "head_dim": 64, "vocab_size": 40, "norm_eps": 1e-05, "attn": null,)"
      R"( "tie_word_embeddings": false})";
  auto inferred = inferConfig(*seed, "seed");
  ASSERT_TRUE(bool(inferred));
  std::mt19937_64 rng(0xf01d);
  int readOk = 0;
  for (int i = 0; i < 600; ++i) {
    bool mutateIndex = i % 2;
    save(folder + "/model.safetensors.index.json",
         mutateIndex ? mutate(index, rng) : index);
    save(folder + "/config.json", mutateIndex ? config : mutate(config, rng));
    auto expectNamesFolder = [&](llvm::Error error) {
      std::string message = llvm::toString(std::move(error));
      ASSERT_EQ(message.rfind(folder, 0), 0u) << message;
    };
    auto tensors = readModelFolder(folder);
    if (!tensors) {
      expectNamesFolder(tensors.takeError());
      continue;
    }
    auto hf = readHfConfig(folder);
    if (!hf) {
      expectNamesFolder(hf.takeError());
      continue;
    }
    ASSERT_TRUE(hf->has_value());
    if (llvm::Error e = tieWordEmbeddings(**hf, *tensors))
      expectNamesFolder(std::move(e));
    else if (llvm::Error e = checkHfConfig(**hf, *inferred))
      expectNamesFolder(std::move(e));
    else
      ++readOk;
  }
  // Some mutants (of values, of the unused metadata) still read.
  EXPECT_GT(readOk, 0);
  EXPECT_LT(readOk, 600);
  llvm::sys::fs::remove_directories(folder);
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
