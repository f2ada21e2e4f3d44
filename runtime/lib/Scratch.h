//===- Scratch.h - model.so's heap buffers -------------------------*- C++
//-*-===//
//
// A CPU artifact allocates its temporaries through MLIR's generic
// allocation functions (_mlir_memref_to_llvm_alloc / _aligned_alloc /
// _free), which this runtime exports. Blocks of 64 KiB and more are kept
// when freed and handed out again: glibc gives large blocks back to the
// kernel on free, so without the cache every call page-faults its scratch
// in afresh (about 130 MB per 128-token chunk of the 0.1B model). At most
// 1 GiB stays cached; it all goes back when the last artifact closes.
//
//===----------------------------------------------------------------------===//

#ifndef MODRWKV_RUNTIME_SCRATCH_H
#define MODRWKV_RUNTIME_SCRATCH_H

namespace modrwkv::runtime::scratch {

/// An artifact was opened / closed: the cache lives while one is open.
void opened();
void closed();

} // namespace modrwkv::runtime::scratch

#endif // MODRWKV_RUNTIME_SCRATCH_H
