//===- ArtifactFiles.h - an artifact directory, opened ----------*- C++ -*-===//
//
// Shared by the language-model and graph runtimes: the checked manifest,
// the loaded model.so and the private mapping of weights.bin.
//
//===----------------------------------------------------------------------===//

#ifndef MODRWKV_RUNTIME_ARTIFACTFILES_H
#define MODRWKV_RUNTIME_ARTIFACTFILES_H

#include <nlohmann/json.hpp>

#include <cstdint>
#include <initializer_list>
#include <string>

namespace modrwkv::runtime {

class ArtifactFiles {
public:
  ArtifactFiles() = default;
  ArtifactFiles(const ArtifactFiles &) = delete;
  ArtifactFiles &operator=(const ArtifactFiles &) = delete;
  ~ArtifactFiles();

  /// Opens `dir`, whose manifest must declare one of the entry ABIs `abis`
  /// for the CPU, or for CUDA when `cuda` is given: that runs before
  /// model.so is loaded (its constructors load the kernels), told whether
  /// the kernels are host code for the CUDA emulator and whether products
  /// may call cuBLAS (kernels.cublas). Throws Failure naming the file at
  /// fault.
  void open(const std::string &dir, std::initializer_list<const char *> abis,
            void (*cuda)(bool hostKernels, bool blas) = nullptr);
  /// A symbol of model.so; throws if missing.
  void *symbol(const std::string &name) const;

  std::string dir, manifestPath, libraryPath;
  nlohmann::json manifest;
  void *library = nullptr;
  /// weights.bin, mapped writable but private (copy-on-write).
  void *weights = nullptr;
  size_t weightBytes = 0;
};

/// MLIR's C-interface descriptor of a contiguous rank-R memref, as words:
/// allocated, aligned, offset, sizes[R], strides[R].
struct Descriptor {
  Descriptor(void *data, const int64_t *shape, int64_t rank);
  void *get() { return words.data(); }
  std::vector<int64_t> words;
};

} // namespace modrwkv::runtime

#endif // MODRWKV_RUNTIME_ARTIFACTFILES_H
