//===- Tensor.cpp - dtype conversion and format dispatch ------------------===//

#include "modrwkv/Checkpoint/Tensor.h"

#include "llvm/ADT/ScopeExit.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MathExtras.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Process.h"

#if defined(__unix__)
#include <sys/mman.h>
#endif

#include <cstring>

using namespace llvm;

namespace modrwkv::checkpoint {

Error fileError(StringRef path, const Twine &message) {
  return createStringError(inconvertibleErrorCode(),
                           (path + ": " + message).str());
}

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

int64_t Tensor::numElements() const {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

std::vector<float> &Tensor::values() {
  if (!bf16.empty()) {
    data.resize(bf16.size());
    convertToF32(DType::BF16, reinterpret_cast<const uint8_t *>(bf16.data()),
                 int64_t(bf16.size()), 1, data.data());
    std::vector<uint16_t>().swap(bf16);
  }
  return data;
}

void Tensor::allocate(int64_t count) {
  if (sourceDType == DType::BF16)
    bf16.resize(count);
  else
    data.resize(count);
}

void Tensor::store(int64_t at, const uint8_t *src, int64_t count,
                   int64_t stride) {
  if (sourceDType != DType::BF16)
    return convertToF32(sourceDType, src, count, stride, data.data() + at);
  for (int64_t i = 0; i < count; ++i)
    std::memcpy(&bf16[at + i], src + i * stride * 2, 2);
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
using BufferReader =
    function_ref<Expected<TensorMap>(StringRef, ConsumedBytes)>;

/// Maps `path` read-only and hands its bytes to `read`, dropping the pages of
/// each part `read` reports consumed (they are read again from the file if
/// touched again).
Expected<TensorMap> withFile(StringRef path, BufferReader read) {
  auto fail = [&](std::error_code error) {
    return createStringError(error, "%s: cannot open: %s", path.str().c_str(),
                             error.message().c_str());
  };
  Expected<sys::fs::file_t> file = sys::fs::openNativeFileForRead(path);
  if (!file)
    return fail(errorToErrorCode(file.takeError()));
  llvm::scope_exit closeFile([&] { sys::fs::closeFile(*file); });
  sys::fs::file_status status;
  if (std::error_code error = sys::fs::status(*file, status))
    return fail(error);
  if (status.type() == sys::fs::file_type::directory_file)
    return fail(std::make_error_code(std::errc::is_a_directory));
  if (status.type() != sys::fs::file_type::regular_file) {
    // A pipe or device cannot be mapped: read it whole.
    auto buffer = MemoryBuffer::getOpenFile(*file, path, /*FileSize=*/-1,
                                            /*RequiresNullTerminator=*/false);
    if (!buffer)
      return fail(buffer.getError());
    return read((*buffer)->getBuffer(), {});
  }
  if (status.getSize() == 0)
    return read(StringRef(), {});
  std::error_code error;
  sys::fs::mapped_file_region region(
      *file, sys::fs::mapped_file_region::readonly, status.getSize(), 0, error);
  if (error)
    return fail(error);
  StringRef bytes(region.const_data(), region.size());
  auto consumed = [&](StringRef part) {
#if defined(__unix__)
    // Whole pages inside `part` only: a neighbour may still be unread.
    uintptr_t page = sys::Process::getPageSizeEstimate();
    uintptr_t begin = alignTo(uintptr_t(part.begin()), page);
    uintptr_t end = alignDown(uintptr_t(part.end()), page);
    if (part.begin() >= bytes.begin() && part.end() <= bytes.end() &&
        begin < end)
      ::madvise(reinterpret_cast<void *>(begin), end - begin, MADV_DONTNEED);
#endif
  };
  return read(bytes, consumed);
}
} // namespace

Expected<TensorMap> readCheckpoint(StringRef path) {
  if (sys::fs::is_directory(path))
    return readModelFolder(path);
  return withFile(
      path,
      [&](StringRef bytes, ConsumedBytes consumed) -> Expected<TensorMap> {
        if (bytes.starts_with("PK\x03\x04"))
          return readPthBuffer(bytes, path, consumed);
        if (bytes.size() >= 9 && bytes[8] == '{')
          return readSafetensorsBuffer(bytes, path, consumed);
        return fileError(path,
                         "not a PyTorch .pth (zip) or .safetensors checkpoint");
      });
}

Expected<TensorMap> readPth(StringRef path) {
  return withFile(path, [&](StringRef b, ConsumedBytes consumed) {
    return readPthBuffer(b, path, consumed);
  });
}

Expected<TensorMap> readSafetensors(StringRef path) {
  return withFile(path, [&](StringRef b, ConsumedBytes consumed) {
    return readSafetensorsBuffer(b, path, consumed);
  });
}

} // namespace modrwkv::checkpoint
