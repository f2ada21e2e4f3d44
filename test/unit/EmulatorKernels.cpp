//===- EmulatorKernels.cpp - hand-written kernels for the CUDA emulator ---===//
//
// What rwkv-gpu-kernels-to-host generates, written by hand: a launch wrapper
// and an info table per kernel (modrwkv/cuda_emulator.h), for
// CudaEmulatorTest to load as a module image.
//
//===----------------------------------------------------------------------===//

#include "modrwkv/cuda_emulator.h"

#define KERNEL(name, ...)                                                      \
  extern "C" __attribute__((visibility("default")))                            \
  const int64_t modrwkv_emu_info_##name[] = {__VA_ARGS__};                     \
  extern "C" __attribute__((                                                   \
      visibility("default"))) void modrwkv_emu_launch_##name(void **params)

template <typename T> T param(void **params, int i) {
  return *static_cast<T *>(params[i]);
}

int64_t threadX() { return modrwkv_emu_id(0); }

/// out[2 i], out[2 i + 1] = the shuffled value and valid bit of
/// shuffle(10 i, offset, width, mode) in thread i of one block.
KERNEL(shuffle, 1, 4, 8, 4, 4, 4) {
  auto *out = param<int32_t *>(params, 0);
  int64_t i = threadX();
  int64_t r =
      modrwkv_emu_shuffle(int32_t(10 * i), param<int32_t>(params, 1),
                          param<int32_t>(params, 2), param<int32_t>(params, 3));
  out[2 * i] = int32_t(r);
  out[2 * i + 1] = int32_t(r >> 32);
}

/// Each thread writes its slot, waits at a barrier, then reads the next
/// thread's slot.
KERNEL(rotate, 1, 2, 8, 8) {
  auto *slots = param<int32_t *>(params, 0), *out = param<int32_t *>(params, 1);
  int64_t i = threadX(), n = modrwkv_emu_id(6);
  slots[i] = int32_t(i + 1);
  modrwkv_emu_barrier();
  out[i] = slots[(i + 1) % n];
}

/// Lane 0 exits while the other lanes shuffle (undefined on a GPU).
KERNEL(diverge, 1, 0) {
  if (threadX() != 0)
    modrwkv_emu_shuffle(1, 1, 32, MODRWKV_EMU_XOR);
}

/// out[block x * block size + thread x] += value: no collectives.
KERNEL(add, 0, 2, 8, 4) {
  auto *out = param<float *>(params, 0);
  out[modrwkv_emu_id(3) * modrwkv_emu_id(6) + threadX()] +=
      param<float>(params, 1);
}
