/*===- cuda_emulator.h - kernels compiled for the CUDA emulator ----------===*
 *
 * `modrwkv-compile --target cuda --cuda-emulator` compiles the kernels of a
 * CUDA artifact for the host instead of PTX, and libmodrwkv_cuda_emulator.so
 * (loaded in place of libcuda.so.1 through MODRWKV_LIBCUDA) runs them: the
 * host code, launches, device buffers, streams and graphs of the artifact
 * are the real ones, so the CUDA path is tested where there is no GPU.
 *
 * The contract between the two:
 * - The module image model.so hands to cuModuleLoadData is a
 *   modrwkv_emulator_image header followed by `size` bytes of a shared
 *   library.
 * - For every kernel K the library exports `void
 *   modrwkv_emu_launch_K(void **params)` (params as cuLaunchKernel's) and
 *   `const int64_t modrwkv_emu_info_K[]` = {uses_collectives, n, size of
 *   parameter 1, ..., size of parameter n}; a kernel with
 *   uses_collectives = 0 never waits for another thread.
 * - The kernels call back into the emulator for what a thread asks the
 *   hardware: the functions below.
 *
 *===----------------------------------------------------------------------===*/

#ifndef MODRWKV_CUDA_EMULATOR_H
#define MODRWKV_CUDA_EMULATOR_H

#include <stdint.h>

#define MODRWKV_EMULATOR_MAGIC "modrwkv-host-so"
#define MODRWKV_EMULATOR_LAUNCH_PREFIX "modrwkv_emu_launch_"
#define MODRWKV_EMULATOR_INFO_PREFIX "modrwkv_emu_info_"

struct modrwkv_emulator_image {
  char magic[16]; /* MODRWKV_EMULATOR_MAGIC, zero-padded */
  uint64_t size;  /* bytes of the shared library that follows */
};

/* gpu.shuffle modes, as the `mode` argument of modrwkv_emu_shuffle. */
enum { MODRWKV_EMU_XOR = 0, MODRWKV_EMU_UP, MODRWKV_EMU_DOWN, MODRWKV_EMU_IDX };

#ifdef __cplusplus
extern "C" {
#endif

/* The calling thread's ids: `which` = 3 * kind + dimension (x, y, z), kind
 * 0 thread id, 1 block id, 2 block size, 3 grid size. */
int64_t modrwkv_emu_id(int32_t which);
/* A warp shuffle of 32-bit values: waits for every lane of the warp, then
 * returns the source lane's value in the low 32 bits and, in bit 32,
 * whether the source lane was in range (else the own value). */
int64_t modrwkv_emu_shuffle(int32_t value, int32_t offset, int32_t width,
                            int32_t mode);
/* Waits for every thread of the block. */
void modrwkv_emu_barrier(void);

#ifdef __cplusplus
}
#endif

#endif /* MODRWKV_CUDA_EMULATOR_H */
