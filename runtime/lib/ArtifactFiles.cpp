//===- ArtifactFiles.cpp - an artifact directory, opened ------------------===//

#include "ArtifactFiles.h"

#include <algorithm>

#include "Errors.h"
#include "Scratch.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

namespace modrwkv::runtime {

namespace {

/// model.so resolves the entry points this library exports for it (the
/// scratch allocator, CUDA's mgpu* functions) in the global scope, where
/// they are not when this library itself was opened with RTLD_LOCAL (by
/// Python's ctypes, say): promote it.
void exportEntryPoints() {
  Dl_info self{};
  if (!dladdr(reinterpret_cast<void *>(&exportEntryPoints), &self) ||
      !self.dli_fname ||
      !dlopen(self.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_GLOBAL))
    throw Failure("cannot export the runtime's entry points to model.so");
}

} // namespace

ArtifactFiles::~ArtifactFiles() {
  if (weights)
    munmap(weights, weightBytes);
  if (library) {
    dlclose(library);
    scratch::closed();
  }
}

void ArtifactFiles::open(const std::string &directory,
                         std::initializer_list<const char *> abis,
                         void (*cuda)(bool hostKernels, bool blas)) {
  dir = directory;
  manifestPath = dir + "/manifest.json";
  std::ifstream in(manifestPath);
  if (!in)
    throw Failure(manifestPath + ": cannot open (not an artifact directory?)");
  try {
    manifest = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception &e) {
    throw Failure(manifestPath + ": malformed JSON: " + e.what());
  }
  if (!manifest.is_object() ||
      manifest.value("format", "") != "modrwkv-artifact" ||
      manifest.value("version", 0) != 1)
    throw Failure(manifestPath + ": not a version-1 modrwkv artifact manifest");
  std::string abi = manifest.value("abi", "");
  if (std::find(abis.begin(), abis.end(), abi) == abis.end()) {
    std::string wanted;
    for (const char *a : abis)
      wanted += (wanted.empty() ? "'" : " or '") + std::string(a) + "'";
    throw Failure(manifestPath + ": entry ABI '" + abi +
                  "', this runtime call needs " + wanted);
  }
  std::string target = manifest.value("target", "");
  const nlohmann::json &kernels =
      manifest.value("kernels", nlohmann::json::object());
  if (target == "cuda" && cuda)
    cuda(kernels.is_object() && kernels.value("format", "ptx") == "host",
         kernels.is_object() && kernels.contains("cublas"));
  else if (target != "cpu")
    throw Failure(manifestPath + ": artifact target '" + target +
                  "' cannot run " + (cuda ? "here" : "on the CPU runtime"));

  libraryPath = dir + "/" + manifest.value("library", "model.so");
  exportEntryPoints();
  library = dlopen(libraryPath.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!library)
    throw Failure(libraryPath + ": cannot load: " + dlerror());
  scratch::opened();

  const nlohmann::json &table = manifest["weights"];
  if (!table.is_object())
    throw Failure(manifestPath + ": no weights table");
  std::string weightsPath = dir + "/" + table.value("file", "weights.bin");
  int fd = ::open(weightsPath.c_str(), O_RDONLY);
  if (fd < 0)
    throw Failure(weightsPath + ": cannot open: " + strerror(errno));
  struct stat st;
  if (fstat(fd, &st) != 0) {
    close(fd);
    throw Failure(weightsPath + ": cannot stat");
  }
  weightBytes = st.st_size;
  uint64_t expected = table.value("size", uint64_t(0));
  if (weightBytes != expected) {
    close(fd);
    throw Failure(weightsPath + ": holds " + std::to_string(weightBytes) +
                  " bytes, the manifest says " + std::to_string(expected));
  }
  if (weightBytes == 0) { // a graph without large constants
    close(fd);
    return;
  }
  // Writable but private: set_weight copies only the pages it touches.
  void *mapped =
      mmap(nullptr, weightBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  close(fd);
  if (mapped == MAP_FAILED)
    throw Failure(weightsPath + ": mmap failed: " + strerror(errno));
  weights = mapped;
}

void *ArtifactFiles::symbol(const std::string &name) const {
  void *s = dlsym(library, name.c_str());
  if (!s)
    throw Failure(libraryPath + ": no entry point '" + name + "'");
  return s;
}

Descriptor::Descriptor(void *data, const int64_t *shape, int64_t rank)
    : words(3 + 2 * rank) {
  static_assert(sizeof(void *) == sizeof(int64_t), "64-bit targets only");
  std::memcpy(&words[0], &data, sizeof data);
  std::memcpy(&words[1], &data, sizeof data);
  words[2] = 0;
  int64_t stride = 1;
  for (int64_t d = rank - 1; d >= 0; --d) {
    words[3 + d] = shape[d];
    words[3 + rank + d] = stride;
    stride *= shape[d];
  }
}

} // namespace modrwkv::runtime
