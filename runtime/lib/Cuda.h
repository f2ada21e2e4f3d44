//===- Cuda.h - the CUDA driver, loaded at run time -------------*- C++ -*-===//
//
// The runtime never links CUDA: libcuda.so.1 (or $MODRWKV_LIBCUDA) is opened
// with dlopen the first time a --target cuda artifact is loaded, and device 0's
// primary context is used. The same library exports the mgpu* entry points
// that MLIR's gpu-to-llvm lowering calls from model.so (module load, kernel
// launch, streams, device allocations); they cannot return errors, so the
// first failure is kept and reported by checkErrors().
//
//===----------------------------------------------------------------------===//

#ifndef MODRWKV_RUNTIME_CUDA_H
#define MODRWKV_RUNTIME_CUDA_H

#include <cstddef>
#include <functional>

namespace modrwkv::runtime::cuda {

/// Opens the driver and makes device 0's context current; throws Failure
/// saying what is missing (driver library, device), or when kernels
/// compiled for the CUDA emulator (`hostKernels`) meet a real driver or
/// PTX meets the emulator. With `blas` (the artifact's products may call
/// cuBLAS), also prepareBlas().
void initialize(bool hostKernels, bool blas);
/// Opens cuBLAS for an artifact whose products may call it (its manifest's
/// kernels.cublas), before any call can be captured into a graph (cuBLAS
/// allocates and synchronizes when it starts). Where it cannot be used,
/// every product runs as a kernel, with a line on stderr saying why.
void prepareBlas();
void *allocate(size_t bytes);
void release(void *device);
void upload(void *device, const void *host, size_t bytes);
void download(void *host, const void *device, size_t bytes);
/// Runs `body` (one call into model.so on this thread) with the work it
/// puts on its stream recorded into a CUDA graph instead of run, and
/// returns the graph, ready for launchGraph. Returns nullptr when the driver
/// cannot capture it (or MODRWKV_CUDA_GRAPHS=0 or MODRWKV_CUDA_PROFILE is
/// set): `body` has then run for real, once.
void *captureGraph(const std::function<void()> &body);
/// Runs a captured graph after the runtime's earlier copies.
void launchGraph(void *graph);
void destroyGraph(void *graph);
/// Waits for the device, then throws the first failure of a driver call
/// made since the last check (by the runtime or by model.so).
void checkErrors(const char *what);

/// Device memory of one buffer, freed with its owner.
struct DeviceBuffer {
  DeviceBuffer() = default;
  DeviceBuffer(const DeviceBuffer &) = delete;
  DeviceBuffer &operator=(const DeviceBuffer &) = delete;
  ~DeviceBuffer() { release(data); }
  /// At least `size` bytes; the contents are lost when it grows.
  void *reserve(size_t size) {
    if (size > bytes) {
      release(data);
      data = nullptr; // empty, should allocate throw
      bytes = 0;
      data = allocate(size);
      bytes = size;
    }
    return data;
  }
  void *data = nullptr;
  size_t bytes = 0;
};

} // namespace modrwkv::runtime::cuda

#endif // MODRWKV_RUNTIME_CUDA_H
