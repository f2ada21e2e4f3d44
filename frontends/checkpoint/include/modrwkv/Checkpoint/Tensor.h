//===- Tensor.h - tensors read from checkpoint files ------------*- C++ -*-===//
//
// Checkpoint readers return every tensor converted to contiguous fp32 (the
// compiler's reference precision), keyed by name. Every failure is an
// llvm::Error whose message names the file and, where one is involved, the
// tensor; no reader aborts or reads out of bounds on malformed input.
//
//===----------------------------------------------------------------------===//

#ifndef MODRWKV_CHECKPOINT_TENSOR_H
#define MODRWKV_CHECKPOINT_TENSOR_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/MapVector.h"
#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace modrwkv::checkpoint {

enum class DType { F32, F16, BF16 };

/// The error "<path>: <message>", as every reader reports one.
llvm::Error fileError(llvm::StringRef path, const llvm::Twine &message);

/// Bytes per element of a storage dtype.
size_t dtypeSize(DType dtype);
const char *dtypeName(DType dtype);

/// "[2, 64, 64]", for messages.
std::string shapeString(llvm::ArrayRef<int64_t> shape);

/// Writes the transpose of the row-major `rows` x `cols` matrix `src` to
/// `dst` (`cols` x `rows`).
template <typename T>
void transpose(const T *src, int64_t rows, int64_t cols, T *dst) {
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j)
      dst[j * rows + i] = src[i * cols + j];
}

struct Tensor {
  DType sourceDType = DType::F32;
  std::vector<int64_t> shape;
  /// Row-major, contiguous values. Readers keep a bfloat16 tensor's raw
  /// elements in `bf16` (half the memory; the importer stores matrix
  /// weights that way) and convert others to fp32 in `data`.
  std::vector<float> data;
  std::vector<uint16_t> bf16;

  int64_t numElements() const;
  /// The fp32 values: widens `bf16` (exactly) into `data` first.
  std::vector<float> &values();
  /// Sizes the storage for `count` elements of `sourceDType`, then
  /// `store` reads `count` of them from `src` (element stride `stride`,
  /// little endian) to position `at`.
  void allocate(int64_t count);
  void store(int64_t at, const uint8_t *src, int64_t count, int64_t stride);
};

/// Name -> tensor, in file order.
using TensorMap =
    llvm::MapVector<std::string, Tensor, std::map<std::string, unsigned>>;

/// Converts `count` elements starting at `src` (little endian), read with
/// element stride `stride`, to fp32.
void convertToF32(DType dtype, const uint8_t *src, int64_t count,
                  int64_t stride, float *dst);

/// Told each part of the input a buffer reader has converted, so that a
/// caller that mapped the file can drop those pages while reading goes on:
/// the fp32 copies, not the file, then make up the reader's peak memory.
using ConsumedBytes = llvm::function_ref<void(llvm::StringRef)>;

/// Reads a PyTorch `.pth` (torch.save zip archive) state dict.
llvm::Expected<TensorMap> readPth(llvm::StringRef path);
llvm::Expected<TensorMap> readPthBuffer(llvm::StringRef bytes,
                                        llvm::StringRef path,
                                        ConsumedBytes consumed = {});

/// Reads a `.safetensors` file.
llvm::Expected<TensorMap> readSafetensors(llvm::StringRef path);
llvm::Expected<TensorMap> readSafetensorsBuffer(llvm::StringRef bytes,
                                                llvm::StringRef path,
                                                ConsumedBytes consumed = {});

/// Reads a Hugging Face model folder's weights: model.safetensors, the
/// shards model.safetensors.index.json lists (each tensor in the shard the
/// index names, none missing), or pytorch_model.bin.
llvm::Expected<TensorMap> readModelFolder(llvm::StringRef dir);

/// Reads either format, chosen from the file's first bytes, or a model
/// folder.
llvm::Expected<TensorMap> readCheckpoint(llvm::StringRef path);

} // namespace modrwkv::checkpoint

#endif // MODRWKV_CHECKPOINT_TENSOR_H
