//===- Scratch.cpp - model.so's heap buffers ------------------------------===//

#include "Scratch.h"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <mutex>

namespace {

/// Just before each block handed out: where its allocation starts and how
/// many bytes it offers (0: never cached).
struct Header {
  void *base;
  size_t capacity;
};

/// Room for the header, which keeps blocks 64-byte aligned.
constexpr size_t kPad = 64;
constexpr size_t kMinCached = size_t(64) << 10;
constexpr size_t kMaxCachedBytes = size_t(1) << 30;

Header &headerOf(void *block) { return static_cast<Header *>(block)[-1]; }

struct Cache {
  std::mutex mutex;
  std::multimap<size_t, void *> blocks; ///< capacity -> block
  size_t bytes = 0;
  int artifacts = 0;

  void clear() {
    for (auto &[capacity, block] : blocks)
      std::free(headerOf(block).base);
    blocks.clear();
    bytes = 0;
  }
};

Cache &cache() {
  static Cache c;
  return c;
}

void *allocate(size_t alignment, size_t size) {
  size_t pad = std::max(alignment, kPad);
  if (pad != kPad && (pad & (pad - 1)))
    return nullptr; // not a power of two
  if (pad == kPad && size >= kMinCached) {
    Cache &c = cache();
    std::lock_guard<std::mutex> lock(c.mutex);
    // A cached block at most twice the size: calls of another token count
    // reuse the larger blocks without holding on to much more.
    auto it = c.blocks.lower_bound(size);
    if (it != c.blocks.end() && it->first / 2 <= size) {
      void *block = it->second;
      c.bytes -= it->first;
      c.blocks.erase(it);
      return block;
    }
  }
  size_t total = (pad + size + pad - 1) / pad * pad;
  void *base = std::aligned_alloc(pad, total);
  if (!base)
    return nullptr;
  void *block = static_cast<char *>(base) + pad;
  headerOf(block) = {base, pad == kPad ? total - pad : 0};
  return block;
}

void release(void *block) {
  if (!block)
    return;
  Header header = headerOf(block);
  if (header.capacity >= kMinCached) {
    Cache &c = cache();
    std::lock_guard<std::mutex> lock(c.mutex);
    if (c.artifacts > 0 && c.bytes + header.capacity <= kMaxCachedBytes) {
      c.blocks.emplace(header.capacity, block);
      c.bytes += header.capacity;
      return;
    }
  }
  std::free(header.base);
}

} // namespace

namespace modrwkv::runtime::scratch {

void opened() {
  std::lock_guard<std::mutex> lock(cache().mutex);
  ++cache().artifacts;
}

void closed() {
  Cache &c = cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  if (--c.artifacts == 0)
    c.clear();
}

} // namespace modrwkv::runtime::scratch

#define EXPORT extern "C" __attribute__((visibility("default")))

EXPORT void *_mlir_memref_to_llvm_alloc(size_t size) {
  return allocate(kPad, size);
}
EXPORT void *_mlir_memref_to_llvm_aligned_alloc(size_t alignment, size_t size) {
  return allocate(alignment, size);
}
EXPORT void _mlir_memref_to_llvm_free(void *block) { release(block); }
