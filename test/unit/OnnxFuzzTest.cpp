//===- OnnxFuzzTest.cpp - mutated ONNX models never crash the frontend ----===//
//
// Deterministic mutation fuzzing of the ONNX reader (protobuf and textual
// syntax), shape inference and the importer: every mutant either imports
// into a module that verifies, or fails with a message naming the file.
//
//===----------------------------------------------------------------------===//

#include "Fixtures.h"
#include "Mutate.h"

#include "modrwkv/Onnx/Importer.h"

#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/InitAllDialects.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"

#include <gtest/gtest.h>

#include <fstream>

using namespace modrwkv::onnxfe;

namespace {

void fuzz(const std::string &seedPath, const std::string &suffix,
          int iterations) {
  auto buffer = llvm::MemoryBuffer::getFile(seedPath);
  ASSERT_TRUE(bool(buffer)) << seedPath;
  std::string seed = (*buffer)->getBuffer().str();
  llvm::SmallString<128> path;
  ASSERT_FALSE(llvm::sys::fs::createTemporaryFile("mutant", suffix, path));
  std::mt19937_64 rng(0x0a11);
  mlir::DialectRegistry registry;
  mlir::registerAllDialects(registry);
  int imported = 0;
  for (int i = 0; i < iterations; ++i) {
    std::string mutant = mutate(seed, rng);
    std::ofstream(path.c_str(), std::ios::binary) << mutant;
    auto model = readModel(path.c_str());
    if (!model) {
      std::string message = llvm::toString(model.takeError());
      ASSERT_EQ(message.rfind(path.c_str(), 0), 0u) << message;
      continue;
    }
    mlir::MLIRContext context(registry);
    ImportFailure failure;
    auto module = importModel(context, *model, {}, failure);
    if (!module) {
      ASSERT_EQ(failure.message.rfind(path.c_str(), 0), 0u) << failure.message;
      continue;
    }
    ASSERT_TRUE(mlir::succeeded(mlir::verify(*module)));
    ++imported;
  }
  llvm::sys::fs::remove(path);
  EXPECT_GT(imported, 0);
  EXPECT_LT(imported, iterations);
  testing::Test::RecordProperty("imported", imported);
}

TEST(OnnxFuzz, BinaryModelSurvivesMutants) {
  fuzz(fixture("onnx/weights.onnx"), ".onnx", 1500);
}

TEST(OnnxFuzz, TextualModelSurvivesMutants) {
  fuzz(MODRWKV_SOURCE_DIR "/test/OnnxImporter/Inputs/encoder.onnxtxt",
       ".onnxtxt", 1500);
}

// If, Loop and Scan: mutated sub-graphs (names, shapes, attributes).
TEST(OnnxFuzz, ControlFlowModelSurvivesMutants) {
  fuzz(fixture("onnx/control-flow/model.onnx"), ".onnx", 1500);
}

// String tensors: string_data counts, casts from and to text.
TEST(OnnxFuzz, StringModelSurvivesMutants) {
  fuzz(fixture("onnx/strings/model.onnx"), ".onnx", 1500);
}

TEST(OnnxFuzz, TextualControlFlowModelSurvivesMutants) {
  fuzz(MODRWKV_SOURCE_DIR "/test/OnnxImporter/Inputs/control-flow.onnxtxt",
       ".onnxtxt", 1500);
}

} // namespace
