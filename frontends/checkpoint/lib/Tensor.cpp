//===- Tensor.cpp - dtype conversion and format dispatch ------------------===//

#include "modrwkv/Checkpoint/Tensor.h"

#include "llvm/Support/MemoryBuffer.h"

#include <cstring>

using namespace llvm;

namespace modrwkv::checkpoint {

size_t dtypeSize(DType dtype) { return dtype == DType::F32 ? 4 : 2; }

const char *dtypeName(DType dtype) {
  switch (dtype) {
  case DType::F32:
    return "float32";
  case DType::F16:
    return "float16";
  case DType::BF16:
    return "bfloat16";
  }
  return "?";
}

std::string shapeString(ArrayRef<int64_t> shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

void transpose(const float *src, int64_t rows, int64_t cols, float *dst) {
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j)
      dst[j * rows + i] = src[i * cols + j];
}

int64_t Tensor::numElements() const {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

static float halfToFloat(uint16_t h) {
  uint32_t sign = uint32_t(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1f, mant = h & 0x3ff, bits;
  if (exp == 0x1f) {
    bits = sign | 0x7f800000 | (mant << 13); // inf / nan
  } else if (exp != 0) {
    bits = sign | ((exp + 112) << 23) | (mant << 13);
  } else if (mant == 0) {
    bits = sign;
  } else { // subnormal: normalize
    int shift = 0;
    while (!(mant & 0x400)) {
      mant <<= 1;
      ++shift;
    }
    bits = sign | (uint32_t(113 - shift) << 23) | ((mant & 0x3ff) << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

void convertToF32(DType dtype, const uint8_t *src, int64_t count,
                  int64_t stride, float *dst) {
  size_t step = dtypeSize(dtype) * stride;
  for (int64_t i = 0; i < count; ++i, src += step) {
    uint32_t bits;
    uint16_t half;
    switch (dtype) {
    case DType::F32:
      std::memcpy(&dst[i], src, 4);
      break;
    case DType::BF16:
      std::memcpy(&half, src, 2);
      bits = uint32_t(half) << 16;
      std::memcpy(&dst[i], &bits, 4);
      break;
    case DType::F16:
      std::memcpy(&half, src, 2);
      dst[i] = halfToFloat(half);
      break;
    }
  }
}

namespace {
/// Maps `path` and hands its bytes to `read`.
Expected<TensorMap>
withFile(StringRef path, function_ref<Expected<TensorMap>(StringRef)> read) {
  auto buffer = MemoryBuffer::getFile(path, /*IsText=*/false,
                                      /*RequiresNullTerminator=*/false);
  if (!buffer)
    return createStringError(buffer.getError(), "%s: cannot open: %s",
                             path.str().c_str(),
                             buffer.getError().message().c_str());
  return read((*buffer)->getBuffer());
}
} // namespace

Expected<TensorMap> readCheckpoint(StringRef path) {
  return withFile(path, [&](StringRef bytes) -> Expected<TensorMap> {
    if (bytes.starts_with("PK\x03\x04"))
      return readPthBuffer(bytes, path);
    if (bytes.size() >= 9 && bytes[8] == '{')
      return readSafetensorsBuffer(bytes, path);
    return createStringError(
        inconvertibleErrorCode(),
        "%s: not a PyTorch .pth (zip) or .safetensors checkpoint",
        path.str().c_str());
  });
}

Expected<TensorMap> readPth(StringRef path) {
  return withFile(path, [&](StringRef b) { return readPthBuffer(b, path); });
}

Expected<TensorMap> readSafetensors(StringRef path) {
  return withFile(path,
                  [&](StringRef b) { return readSafetensorsBuffer(b, path); });
}

} // namespace modrwkv::checkpoint
