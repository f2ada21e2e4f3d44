//===- ReaderTest.cpp - checkpoint readers --------------------------------===//

#include "Fixtures.h"
#include "modrwkv/Checkpoint/Config.h"
#include "modrwkv/Checkpoint/Tensor.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

using namespace modrwkv::checkpoint;

namespace {

float convertOne(DType dtype, uint32_t bits) {
  uint8_t bytes[4];
  std::memcpy(bytes, &bits, 4);
  float out;
  convertToF32(dtype, bytes, 1, 1, &out);
  return out;
}

TEST(Dtype, Bfloat16IsTheHighHalfOfFloat32) {
  EXPECT_EQ(convertOne(DType::BF16, 0x3f80), 1.0f);
  EXPECT_EQ(convertOne(DType::BF16, 0xc040), -3.0f);
  EXPECT_TRUE(std::isinf(convertOne(DType::BF16, 0x7f80)));
}

TEST(Dtype, Float16AllClasses) {
  EXPECT_EQ(convertOne(DType::F16, 0x3c00), 1.0f);
  EXPECT_EQ(convertOne(DType::F16, 0xc000), -2.0f);
  EXPECT_EQ(convertOne(DType::F16, 0x7bff), 65504.0f); // largest normal
  EXPECT_EQ(convertOne(DType::F16, 0x0001), std::ldexp(1.0f, -24)); // subnormal
  EXPECT_EQ(convertOne(DType::F16, 0x03ff), std::ldexp(1023.0f, -24));
  EXPECT_EQ(convertOne(DType::F16, 0x8000), -0.0f);
  EXPECT_TRUE(std::signbit(convertOne(DType::F16, 0x8000)));
  EXPECT_TRUE(std::isinf(convertOne(DType::F16, 0xfc00)));
  EXPECT_TRUE(std::isnan(convertOne(DType::F16, 0x7e00)));
}

TEST(Dtype, StridedConversion) {
  float src[6] = {1, 2, 3, 4, 5, 6}, dst[3];
  convertToF32(DType::F32, reinterpret_cast<uint8_t *>(src), 3, 2, dst);
  EXPECT_EQ(dst[0], 1);
  EXPECT_EQ(dst[1], 3);
  EXPECT_EQ(dst[2], 5);
}

std::string safetensors(const std::string &header, const std::string &data) {
  std::string out(8, '\0');
  uint64_t n = header.size();
  std::memcpy(out.data(), &n, 8);
  return out + header + data;
}

TEST(Safetensors, ReadsShapesDtypesAndFileOrder) {
  std::string data(4 + 4, '\0');
  float one = 1.5f;
  std::memcpy(data.data() + 4, &one, 4);
  uint16_t bf[2] = {0x4000, 0xbf80}; // 2, -1
  std::memcpy(data.data(), bf, 4);
  auto tensors = readSafetensorsBuffer(
      safetensors(R"({"z":{"dtype":"BF16","shape":[2],"data_offsets":[0,4]},)"
                  R"("a":{"dtype":"F32","shape":[1,1],"data_offsets":[4,8]},)"
                  R"("__metadata__":{"format":"pt"}})",
                  data),
      "mem.safetensors");
  ASSERT_TRUE(bool(tensors)) << llvm::toString(tensors.takeError());
  ASSERT_EQ(tensors->size(), 2u);
  EXPECT_EQ(tensors->begin()->first, "z"); // data order, not JSON order
  Tensor &z = tensors->find("z")->second;
  EXPECT_EQ(z.bf16, (std::vector<uint16_t>{0x4000, 0xbf80})); // kept raw
  EXPECT_TRUE(z.data.empty());
  EXPECT_EQ(z.values(), (std::vector<float>{2, -1}));
  EXPECT_TRUE(z.bf16.empty());
  EXPECT_EQ(tensors->find("a")->second.shape, (std::vector<int64_t>{1, 1}));
  EXPECT_EQ(tensors->find("a")->second.data[0], 1.5f);
}

TEST(Tensor, StoresStridedBf16RawAndOthersAsF32) {
  uint16_t src[6] = {0x3f80, 0, 0x4000, 0, 0xc040, 0}; // 1, 2, -3 at stride 2
  Tensor t;
  t.sourceDType = DType::BF16;
  t.allocate(4);
  t.store(1, reinterpret_cast<const uint8_t *>(src), 3, 2);
  EXPECT_EQ(t.bf16, (std::vector<uint16_t>{0, 0x3f80, 0x4000, 0xc040}));
  EXPECT_EQ(t.values(), (std::vector<float>{0, 1, 2, -3}));
  Tensor h;
  h.sourceDType = DType::F16;
  h.allocate(2);
  uint16_t half[2] = {0x3c00, 0xc000}; // 1, -2
  h.store(0, reinterpret_cast<const uint8_t *>(half), 2, 1);
  EXPECT_TRUE(h.bf16.empty());
  EXPECT_EQ(h.data, (std::vector<float>{1, -2}));
}

TEST(Safetensors, ErrorsNameFileAndTensor) {
  auto result = readSafetensorsBuffer(
      safetensors(R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})",
                  std::string(8, '\0')),
      "m.safetensors");
  ASSERT_FALSE(bool(result));
  std::string message = llvm::toString(result.takeError());
  EXPECT_NE(message.find("m.safetensors"), std::string::npos) << message;
  EXPECT_NE(message.find("'w'"), std::string::npos) << message;
}

TEST(Pth, ViewsWithOffsetsAndStridesMatchThePlainFile) {
  // views-fp16.pth holds transposed views into larger storages; the same
  // values saved plainly are in plain-fp16.safetensors.
  auto views = readCheckpoint(fixture("views-fp16.pth"));
  auto plain = readCheckpoint(fixture("plain-fp16.safetensors"));
  ASSERT_TRUE(bool(views)) << llvm::toString(views.takeError());
  ASSERT_TRUE(bool(plain)) << llvm::toString(plain.takeError());
  ASSERT_EQ(views->size(), plain->size());
  for (auto &[name, tensor] : *plain) {
    auto it = views->find(name);
    ASSERT_NE(it, views->end()) << name;
    EXPECT_EQ(it->second.shape, tensor.shape) << name;
    EXPECT_EQ(it->second.values(), tensor.values()) << name;
    EXPECT_EQ(it->second.sourceDType, DType::F16) << name;
  }
}

TEST(Config, InferredFromShapes) {
  auto tensors = readCheckpoint(fixture("seed.pth"));
  ASSERT_TRUE(bool(tensors)) << llvm::toString(tensors.takeError());
  auto config = inferConfig(*tensors, "seed.pth");
  ASSERT_TRUE(bool(config)) << llvm::toString(config.takeError());
  EXPECT_EQ(config->layers, 2);
  EXPECT_EQ(config->width, 64);
  EXPECT_EQ(config->heads, 1);
  EXPECT_EQ(config->vocab, 40);
  EXPECT_EQ(config->ffn, 256);
  EXPECT_EQ(config->rankDecay, 3);
  EXPECT_EQ(config->rankIclr, 5);
  EXPECT_EQ(config->rankValue, 2);
  EXPECT_EQ(config->rankGate, 7);
}

TEST(Config, BothFormatsReadTheSameTensors) {
  auto pth = readCheckpoint(fixture("seed.pth"));
  auto st = readCheckpoint(fixture("seed.safetensors"));
  ASSERT_TRUE(bool(pth) && bool(st));
  ASSERT_EQ(pth->size(), st->size());
  for (auto &[name, tensor] : *pth)
    EXPECT_EQ(st->find(name)->second.values(), tensor.values()) << name;
}

} // namespace
