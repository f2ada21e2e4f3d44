//===- CudaEmulator.cpp - the CUDA driver API on the CPU, for tests -------===//
//
// Stands in for libcuda.so.1 (MODRWKV_LIBCUDA=libmodrwkv_cuda_emulator.so)
// with the driver calls runtime/lib/Cuda.cpp makes. Device memory is host
// memory; every call on a stream runs when it is made (so the emulator finds
// wrong results, not races); stream capture records launches and the
// graph's allocations, and a graph launch replays them. A kernel runs block
// by block: thread after thread when it never waits for another thread,
// else every thread of the block on a fiber of its own, switched at warp
// shuffles and barriers. A shuffle that reads a lane that has exited or is
// not in the block, or a block whose threads wait for each other forever,
// fails the launch with a message (on a GPU: undefined behaviour). The few
// cuBLAS calls the runtime makes are emulated too (cublasGemmEx for f32
// and bf16 inputs, f32 output and arithmetic), recorded like launches.
//
//===----------------------------------------------------------------------===//

#include "modrwkv/cuda_emulator.h"

#include <dlfcn.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#define EXPORT extern "C" __attribute__((visibility("default")))

namespace {

using CUresult = int;
constexpr CUresult kSuccess = 0, kInvalidValue = 1, kOutOfMemory = 2,
                   kInvalidImage = 200, kInvalidHandle = 400, kNotFound = 500,
                   kLaunchFailed = 719, kNotSupported = 801,
                   kCaptureUnsupported = 900, kCaptureInvalidated = 901;

std::mutex mutex;    ///< one call at a time: launches share the fiber stacks
std::string failure; ///< what the last failed launch or load said

CUresult fail(CUresult rc, std::string message) {
  failure = "CUDA emulator: " + message;
  std::fprintf(stderr, "%s\n", failure.c_str());
  return rc;
}

//===----------------------------------------------------------------------===//
// Fibers: a stack and a saved stack pointer; switching saves the callee-saved
// registers on the old stack and restores them from the new one.
//===----------------------------------------------------------------------===//

#if defined(__x86_64__)
extern "C" void modrwkv_emu_switch(void **save, void *to);
asm(R"(
  .text
  .p2align 4
  .globl modrwkv_emu_switch
  .hidden modrwkv_emu_switch
  .type modrwkv_emu_switch,@function
modrwkv_emu_switch:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .size modrwkv_emu_switch, .-modrwkv_emu_switch
)");
constexpr bool kFibers = true;
#else
void modrwkv_emu_switch(void **, void *) { abort(); }
constexpr bool kFibers = false;
#endif

constexpr size_t kStackBytes = 64 << 10;
constexpr int kWarp = 32;

enum class Wait { None, Shuffle, Barrier, Done };

struct Thread {
  std::array<int64_t, 3> id{};
  void *sp = nullptr; ///< saved stack pointer while switched out
  Wait wait = Wait::None;
  int32_t value = 0, offset = 0, width = 0, mode = 0; ///< shuffle operands
  int64_t result = 0;
};

/// What a kernel's thread reads through modrwkv_emu_id.
struct Launch {
  std::array<int64_t, 3> block{}, blockDim{}, gridDim{};
  Thread *thread = nullptr;
  void (*entry)(void **) = nullptr;
  void **params = nullptr;
  void *schedulerSp = nullptr;
  std::vector<Thread> threads;
  std::string error;
};
Launch *active = nullptr; ///< the launch running (under `mutex`)

/// Stacks for the fibers of one block, kept across launches; the lowest
/// page of each is a guard.
struct Stacks {
  std::vector<char *> stacks;
  char *get(size_t i) {
    while (stacks.size() <= i) {
      void *p = mmap(nullptr, kStackBytes, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
      if (p == MAP_FAILED)
        return nullptr;
      mprotect(p, sysconf(_SC_PAGESIZE), PROT_NONE);
      stacks.push_back(static_cast<char *>(p));
    }
    return stacks[i];
  }
} stacks;

bool resolveShuffle(Launch &l, size_t first, size_t lanes);

/// Switches from thread `t`, which now waits (or has ended), to the next
/// lane of its warp that can run; after the last lane, when the whole warp
/// waits at a shuffle, the shuffle completes and the warp starts over from
/// its first lane. Anything else goes back to the scheduler.
void yield(Thread &t, Wait wait) {
  t.wait = wait;
  Launch &l = *active;
  size_t i = &t - l.threads.data(), first = i / kWarp * kWarp;
  size_t lanes = std::min<size_t>(kWarp, l.threads.size() - first);
  for (size_t j = i + 1; j < first + lanes; ++j)
    if (l.threads[j].wait == Wait::None) {
      l.thread = &l.threads[j];
      return modrwkv_emu_switch(&t.sp, l.thread->sp);
    }
  bool whole = true;
  for (size_t j = first; j < first + lanes; ++j)
    whole &= l.threads[j].wait == Wait::Shuffle;
  if (whole && resolveShuffle(l, first, lanes)) {
    l.thread = &l.threads[first];
    if (l.thread != &t)
      modrwkv_emu_switch(&t.sp, l.thread->sp);
    return;
  }
  modrwkv_emu_switch(&t.sp, l.schedulerSp);
}

[[noreturn]] void fiberMain() {
  Launch &l = *active;
  l.entry(l.params);
  yield(*l.thread, Wait::Done);
  abort(); // a finished fiber is never resumed
}

/// The first switch to a fiber "returns" into fiberMain with the stack
/// aligned as after a call.
void *initialStack(char *stack) {
  auto top = reinterpret_cast<uintptr_t>(stack + kStackBytes) & ~uintptr_t(15);
  auto *slots = reinterpret_cast<void **>(top);
  slots[-1] = nullptr;                              // fiberMain's return
  slots[-2] = reinterpret_cast<void *>(&fiberMain); // the switch's ret
  for (int i = 3; i <= 8; ++i)
    slots[-i] = nullptr; // rbp, rbx, r12-r15
  return slots - 8;
}

/// Shuffles of a warp whose every lane waits at one: the results.
bool resolveShuffle(Launch &l, size_t first, size_t lanes) {
  for (size_t i = 0; i < lanes; ++i) {
    Thread &t = l.threads[first + i];
    int32_t width = t.width, lane = int32_t(i);
    int32_t base = lane - lane % (width > 0 ? width : kWarp), source = lane;
    switch (t.mode) {
    case MODRWKV_EMU_XOR:
      source = lane ^ t.offset;
      break;
    case MODRWKV_EMU_UP:
      source = lane - t.offset;
      break;
    case MODRWKV_EMU_DOWN:
      source = lane + t.offset;
      break;
    default:
      source = base + t.offset;
    }
    bool inRange = source >= base && source < base + width && width <= kWarp;
    if (!inRange) {
      t.result = uint32_t(t.value);
      continue;
    }
    if (size_t(source) >= lanes) {
      l.error = "warp shuffle reads lane " + std::to_string(source) +
                ", which is not in the block (a partial warp)";
      return false;
    }
    t.result =
        int64_t(uint32_t(l.threads[first + source].value)) | (int64_t(1) << 32);
  }
  for (size_t i = 0; i < lanes; ++i)
    l.threads[first + i].wait = Wait::None;
  return true;
}

/// Lets the waiting threads of a block (some still live) go on where they
/// can; false, with an error, when none can.
bool resolve(Launch &l) {
  bool released = false;
  size_t n = l.threads.size(), live = 0, atBarrier = 0;
  for (size_t first = 0; first < n; first += kWarp) {
    size_t lanes = std::min<size_t>(kWarp, n - first);
    size_t shuffling = 0, done = 0;
    for (size_t i = first; i < first + lanes; ++i) {
      shuffling += l.threads[i].wait == Wait::Shuffle;
      done += l.threads[i].wait == Wait::Done;
    }
    if (shuffling == 0)
      continue;
    if (done != 0) {
      l.error = "a warp shuffle waits for lanes that have exited";
      return false;
    }
    if (shuffling == lanes) {
      if (!resolveShuffle(l, first, lanes))
        return false;
      released = true;
    }
  }
  for (const Thread &t : l.threads) {
    live += t.wait != Wait::Done;
    atBarrier += t.wait == Wait::Barrier;
  }
  if (live != 0 && atBarrier == live) {
    for (Thread &t : l.threads)
      if (t.wait == Wait::Barrier)
        t.wait = Wait::None;
    released = true;
  }
  if (!released)
    l.error = "the threads of a block wait for each other forever (a shuffle "
              "or barrier not reached by all of them)";
  return released;
}

/// Runs one block, each thread on a fiber.
bool runFibers(Launch &l) {
  for (size_t i = 0; i < l.threads.size(); ++i) {
    char *stack = stacks.get(i);
    if (!stack) {
      l.error = "cannot map fiber stacks";
      return false;
    }
    l.threads[i].sp = initialStack(stack);
    l.threads[i].wait = Wait::None;
  }
  // Each round runs every thread that can go on until it waits or ends.
  for (;;) {
    for (Thread &t : l.threads) {
      if (t.wait != Wait::None)
        continue;
      l.thread = &t;
      modrwkv_emu_switch(&l.schedulerSp, t.sp);
    }
    bool allDone = true;
    for (const Thread &t : l.threads)
      allDone &= t.wait == Wait::Done;
    if (allDone)
      return true;
    if (!resolve(l))
      return false;
  }
}

//===----------------------------------------------------------------------===//
// Modules, functions, streams, graphs.
//===----------------------------------------------------------------------===//

struct Function {
  std::string name;
  void (*entry)(void **) = nullptr;
  const int64_t *info = nullptr; ///< see cuda_emulator.h
};

struct Module {
  void *handle = nullptr;
  std::vector<std::unique_ptr<Function>> functions;
};

struct Graph {
  std::vector<std::function<CUresult()>> nodes; ///< run in order
  std::vector<std::shared_ptr<void>> memory;    ///< the graph's allocations
};

struct Stream {
  std::unique_ptr<Graph> capture; ///< while capturing
  bool invalidated = false;       ///< by a call the capture forbids
};

/// The streams this thread captures. In the thread-local capture mode (the
/// runtime's) the driver refuses synchronous allocations, frees, copies and
/// synchronizations made by the capturing thread, and the capture is lost.
thread_local std::set<Stream *> capturing;

CUresult outsideCapture(const char *call) {
  if (capturing.empty())
    return kSuccess;
  for (Stream *s : capturing)
    s->invalidated = true;
  return fail(kCaptureUnsupported, std::string(call) +
                                       " while this thread captures a stream "
                                       "(the driver refuses it)");
}

/// Runs `work` (a kernel, a product) now, or records it into the graph
/// that `s` captures.
CUresult enqueue(Stream *s, std::function<CUresult()> work) {
  std::lock_guard<std::mutex> lock(mutex);
  if (!s || !s->capture)
    return work();
  s->capture->nodes.push_back(std::move(work));
  return kSuccess;
}

/// Device memory: host memory aligned as cuMemAlloc's (256 bytes).
void *deviceMemory(size_t bytes) {
  return aligned_alloc(256, (bytes + 255) / 256 * 256);
}

CUresult run(Function &f, const std::array<unsigned, 6> &dims, void **params) {
  Launch l;
  l.entry = f.entry;
  l.params = params;
  for (int d = 0; d < 3; ++d) {
    l.gridDim[d] = dims[d];
    l.blockDim[d] = dims[3 + d];
  }
  bool collective = f.info[0] != 0;
  if (collective && !kFibers)
    return fail(kNotSupported, "kernel " + f.name +
                                   " exchanges values between threads, which "
                                   "the emulator runs on x86-64 only");
  size_t threads = size_t(dims[3]) * dims[4] * dims[5];
  if (collective)
    l.threads.resize(threads);
  Launch *outer = active;
  active = &l;
  bool ok = true;
  for (int64_t bz = 0; ok && bz < l.gridDim[2]; ++bz)
    for (int64_t by = 0; ok && by < l.gridDim[1]; ++by)
      for (int64_t bx = 0; ok && bx < l.gridDim[0]; ++bx) {
        l.block = {bx, by, bz};
        size_t i = 0;
        for (int64_t z = 0; z < l.blockDim[2]; ++z)
          for (int64_t y = 0; y < l.blockDim[1]; ++y)
            for (int64_t x = 0; x < l.blockDim[0]; ++x, ++i) {
              if (collective) {
                l.threads[i].id = {x, y, z};
                continue;
              }
              Thread t;
              t.id = {x, y, z};
              l.thread = &t;
              l.entry(params);
            }
        if (collective)
          ok = runFibers(l);
      }
  active = outer;
  if (!ok)
    return fail(kLaunchFailed, "kernel " + f.name + ": " + l.error);
  return kSuccess;
}

} // namespace

//===----------------------------------------------------------------------===//
// What the kernels call.
//===----------------------------------------------------------------------===//

EXPORT int64_t modrwkv_emu_id(int32_t which) {
  Launch &l = *active;
  int d = which % 3;
  switch (which / 3) {
  case 0:
    return l.thread->id[d];
  case 1:
    return l.block[d];
  case 2:
    return l.blockDim[d];
  default:
    return l.gridDim[d];
  }
}

namespace {
/// The calling thread, which must run on a fiber: its kernel's info table
/// says it exchanges values (else there is no block to wait for).
Thread &fiberThread() {
  if (active->threads.empty()) {
    std::fprintf(stderr, "CUDA emulator: a kernel whose info table says it "
                         "never waits for other threads called a shuffle "
                         "or barrier\n");
    abort();
  }
  return *active->thread;
}
} // namespace

EXPORT int64_t modrwkv_emu_shuffle(int32_t value, int32_t offset, int32_t width,
                                   int32_t mode) {
  Thread &t = fiberThread();
  t.value = value;
  t.offset = offset;
  t.width = width;
  t.mode = mode;
  yield(t, Wait::Shuffle);
  return t.result;
}

EXPORT void modrwkv_emu_barrier() { yield(fiberThread(), Wait::Barrier); }

//===----------------------------------------------------------------------===//
// The driver API (the subset runtime/lib/Cuda.cpp binds).
//===----------------------------------------------------------------------===//

/// Present only here: the runtime tells the emulator from a driver by it.
EXPORT int modrwkv_cuda_emulator() { return 1; }

EXPORT CUresult cuInit(unsigned) { return kSuccess; }
EXPORT CUresult cuDeviceGetCount(int *count) {
  *count = 1;
  return kSuccess;
}
EXPORT CUresult cuDeviceGet(int *device, int ordinal) {
  *device = ordinal;
  return ordinal == 0 ? kSuccess : kInvalidValue;
}
EXPORT CUresult cuDevicePrimaryCtxRetain(void **context, int) {
  static int theContext;
  *context = &theContext;
  return kSuccess;
}
EXPORT CUresult cuCtxSetCurrent(void *) { return kSuccess; }
EXPORT CUresult cuCtxSynchronize() {
  return outsideCapture("cuCtxSynchronize");
}
EXPORT CUresult cuStreamSynchronize(void *) { return kSuccess; }

EXPORT CUresult cuGetErrorString(CUresult rc, const char **text) {
  switch (rc) {
  case kSuccess:
    *text = "no error";
    break;
  case kOutOfMemory:
    *text = "out of memory";
    break;
  case kInvalidHandle:
    *text = "invalid handle";
    break;
  case kNotFound:
    *text = "named symbol not found";
    break;
  case kInvalidImage:
  case kLaunchFailed:
  case kNotSupported:
  case kCaptureUnsupported:
    *text = failure.c_str();
    break;
  case kCaptureInvalidated:
    *text = "operation failed due to a previous error during capture";
    break;
  default:
    *text = "invalid value";
  }
  return kSuccess;
}

namespace {
std::set<void *> allocations; ///< made by cuMemAlloc / cuMemAllocAsync
} // namespace

EXPORT CUresult cuMemAlloc_v2(unsigned long long *p, size_t bytes) {
  if (CUresult rc = outsideCapture("cuMemAlloc"))
    return rc;
  std::lock_guard<std::mutex> lock(mutex);
  void *m = deviceMemory(bytes);
  if (!m)
    return kOutOfMemory;
  allocations.insert(m);
  *p = reinterpret_cast<uintptr_t>(m);
  return kSuccess;
}

EXPORT CUresult cuMemFree_v2(unsigned long long p) {
  if (CUresult rc = outsideCapture("cuMemFree"))
    return rc;
  std::lock_guard<std::mutex> lock(mutex);
  void *m = reinterpret_cast<void *>(p);
  if (!allocations.erase(m))
    return kInvalidValue;
  free(m);
  return kSuccess;
}

EXPORT CUresult cuMemcpyHtoD_v2(unsigned long long dst, const void *src,
                                size_t bytes) {
  if (CUresult rc = outsideCapture("cuMemcpyHtoD"))
    return rc;
  std::memcpy(reinterpret_cast<void *>(dst), src, bytes);
  return kSuccess;
}

EXPORT CUresult cuMemcpyDtoH_v2(void *dst, unsigned long long src,
                                size_t bytes) {
  if (CUresult rc = outsideCapture("cuMemcpyDtoH"))
    return rc;
  std::memcpy(dst, reinterpret_cast<const void *>(src), bytes);
  return kSuccess;
}

EXPORT CUresult cuDeviceGetDefaultMemPool(void **pool, int) {
  static int thePool;
  *pool = &thePool;
  return kSuccess;
}
EXPORT CUresult cuMemPoolSetAttribute(void *, int, void *) { return kSuccess; }

EXPORT CUresult cuMemAllocAsync(unsigned long long *p, size_t bytes,
                                void *stream) {
  auto *s = static_cast<Stream *>(stream);
  if (!s || !s->capture)
    return cuMemAlloc_v2(p, bytes);
  // A graph's allocation lives as long as the graph (its replays use it).
  std::lock_guard<std::mutex> lock(mutex);
  std::shared_ptr<void> memory(deviceMemory(bytes), free);
  if (!memory)
    return kOutOfMemory;
  s->capture->memory.push_back(memory);
  *p = reinterpret_cast<uintptr_t>(memory.get());
  return kSuccess;
}

EXPORT CUresult cuMemFreeAsync(unsigned long long p, void *stream) {
  auto *s = static_cast<Stream *>(stream);
  if (!s || !s->capture)
    return cuMemFree_v2(p);
  for (const auto &m : s->capture->memory)
    if (reinterpret_cast<uintptr_t>(m.get()) == p)
      return kSuccess;
  return fail(kNotSupported,
              "freeing memory the captured work did not allocate");
}

EXPORT CUresult cuModuleLoadData(void **module, const void *image) {
  std::lock_guard<std::mutex> lock(mutex);
  // strncmp stops at a PTX image's first byte: nothing past its end is read.
  if (std::strncmp(static_cast<const char *>(image), MODRWKV_EMULATOR_MAGIC,
                   sizeof MODRWKV_EMULATOR_MAGIC))
    return fail(kInvalidImage,
                "this module is not host code; the emulator runs artifacts "
                "compiled with modrwkv-compile --target cuda --cuda-emulator");
  modrwkv_emulator_image header;
  std::memcpy(&header, image, sizeof header);
  // The kernels call modrwkv_emu_*: make this library's symbols global.
  Dl_info self;
  if (!dladdr(reinterpret_cast<void *>(&modrwkv_emu_id), &self) ||
      !dlopen(self.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_GLOBAL))
    return fail(kInvalidImage, "cannot export the emulator's symbols");
  const char *tmp = std::getenv("TMPDIR");
  std::string path =
      std::string(tmp && *tmp ? tmp : "/tmp") + "/modrwkv-kernels-XXXXXX";
  int fd = mkstemp(path.data());
  if (fd < 0)
    return fail(kInvalidImage, "cannot create " + path);
  const char *bytes = static_cast<const char *>(image) + sizeof header;
  bool written = write(fd, bytes, header.size) == ssize_t(header.size);
  close(fd);
  void *handle =
      written ? dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL) : nullptr;
  std::string error = handle ? "" : written ? dlerror() : "short write";
  unlink(path.c_str());
  if (!handle)
    return fail(kInvalidImage, "cannot load the kernels: " + error);
  auto *m = new Module;
  m->handle = handle;
  *module = m;
  return kSuccess;
}

EXPORT CUresult cuModuleUnload(void *module) {
  auto *m = static_cast<Module *>(module);
  dlclose(m->handle);
  delete m;
  return kSuccess;
}

EXPORT CUresult cuModuleGetFunction(void **function, void *module,
                                    const char *name) {
  auto *m = static_cast<Module *>(module);
  auto f = std::make_unique<Function>();
  f->name = name;
  f->entry = reinterpret_cast<void (*)(void **)>(dlsym(
      m->handle, (std::string(MODRWKV_EMULATOR_LAUNCH_PREFIX) + name).c_str()));
  f->info = static_cast<const int64_t *>(dlsym(
      m->handle, (std::string(MODRWKV_EMULATOR_INFO_PREFIX) + name).c_str()));
  if (!f->entry || !f->info)
    return kNotFound;
  *function = f.get();
  m->functions.push_back(std::move(f));
  return kSuccess;
}

EXPORT CUresult cuLaunchKernel(void *function, unsigned gx, unsigned gy,
                               unsigned gz, unsigned bx, unsigned by,
                               unsigned bz, unsigned /*smem*/, void *stream,
                               void **params, void **extra) {
  auto *f = static_cast<Function *>(function);
  if (!f || extra)
    return kInvalidValue;
  std::array<unsigned, 6> dims = {gx, gy, gz, bx, by, bz};
  // The parameter values are copied now, as the driver does.
  std::vector<std::vector<char>> copies;
  for (int64_t i = 0; i < f->info[1]; ++i) {
    const char *p = static_cast<const char *>(params[i]);
    copies.emplace_back(p, p + f->info[2 + i]);
  }
  return enqueue(static_cast<Stream *>(stream), [f, dims, copies]() mutable {
    std::vector<void *> params;
    for (auto &p : copies)
      params.push_back(p.data());
    return run(*f, dims, params.data());
  });
}

EXPORT CUresult cuStreamCreate(void **stream, unsigned) {
  *stream = new Stream;
  return kSuccess;
}

EXPORT CUresult cuStreamDestroy_v2(void *stream) {
  capturing.erase(static_cast<Stream *>(stream));
  delete static_cast<Stream *>(stream);
  return kSuccess;
}

EXPORT CUresult cuStreamBeginCapture_v2(void *stream, int) {
  auto *s = static_cast<Stream *>(stream);
  if (!s || s->capture)
    return kInvalidValue;
  s->capture = std::make_unique<Graph>();
  s->invalidated = false;
  capturing.insert(s);
  return kSuccess;
}

EXPORT CUresult cuStreamEndCapture(void *stream, void **graph) {
  auto *s = static_cast<Stream *>(stream);
  if (!s || !s->capture)
    return kInvalidValue;
  capturing.erase(s);
  if (s->invalidated) {
    s->capture.reset();
    return kCaptureInvalidated;
  }
  *graph = s->capture.release();
  return kSuccess;
}

EXPORT CUresult cuGraphInstantiateWithFlags(void **exec, void *graph,
                                            unsigned long long) {
  *exec = new Graph(*static_cast<Graph *>(graph));
  return kSuccess;
}

EXPORT CUresult cuGraphLaunch(void *exec, void *) {
  std::lock_guard<std::mutex> lock(mutex);
  for (auto &node : static_cast<Graph *>(exec)->nodes)
    if (CUresult rc = node())
      return rc;
  return kSuccess;
}

EXPORT CUresult cuGraphExecDestroy(void *exec) {
  delete static_cast<Graph *>(exec);
  return kSuccess;
}

EXPORT CUresult cuGraphDestroy(void *graph) {
  delete static_cast<Graph *>(graph);
  return kSuccess;
}

//===----------------------------------------------------------------------===//
// cuBLAS: a handle is the stream its calls go to.
//===----------------------------------------------------------------------===//

namespace {

constexpr int kBlasSuccess = 0, kBlasInvalidValue = 7, kBlasInternalError = 14,
              kBlasNotSupported = 15;
constexpr int kCudaR32F = 0, kCudaR16BF = 14, kCompute32F = 68;

struct BlasHandle {
  Stream *stream = nullptr;
};

float element(const void *data, int type, int64_t at) {
  if (type == kCudaR32F)
    return static_cast<const float *>(data)[at];
  uint32_t bits = uint32_t(static_cast<const uint16_t *>(data)[at]) << 16;
  float v;
  std::memcpy(&v, &bits, sizeof v);
  return v;
}

} // namespace

EXPORT int cublasCreate_v2(void **handle) {
  // cuBLAS allocates device memory and synchronizes when it starts.
  if (outsideCapture("cublasCreate"))
    return kBlasInternalError;
  *handle = new BlasHandle;
  return kBlasSuccess;
}

EXPORT int cublasDestroy_v2(void *handle) {
  delete static_cast<BlasHandle *>(handle);
  return kBlasSuccess;
}

EXPORT int cublasSetStream_v2(void *handle, void *stream) {
  static_cast<BlasHandle *>(handle)->stream = static_cast<Stream *>(stream);
  return kBlasSuccess;
}

EXPORT int cublasSetWorkspace_v2(void *, void *, size_t) {
  return kBlasSuccess;
}

/// C = alpha op(A) op(B) + beta C, column-major, as cuBLAS defines it (C is
/// not read when beta is 0); the sum in f32, in order of l.
EXPORT int cublasGemmEx(void *handle, int transa, int transb, int m, int n,
                        int k, const void *alpha, const void *a, int atype,
                        int lda, const void *b, int btype, int ldb,
                        const void *beta, void *c, int ctype, int ldc,
                        int compute, int /*algo*/) {
  auto supported = [](int type) {
    return type == kCudaR32F || type == kCudaR16BF;
  };
  if (atype != btype || !supported(atype) || ctype != kCudaR32F ||
      compute != kCompute32F || transa < 0 || transa > 1 || transb < 0 ||
      transb > 1)
    return kBlasNotSupported;
  if (m < 0 || n < 0 || k < 0 || lda < std::max(1, transa ? k : m) ||
      ldb < std::max(1, transb ? n : k) || ldc < std::max(1, m))
    return kBlasInvalidValue;
  float al = *static_cast<const float *>(alpha);
  float be = *static_cast<const float *>(beta);
  auto gemm = [=]() -> CUresult {
    auto *out = static_cast<float *>(c);
    for (int j = 0; j < n; ++j)
      for (int i = 0; i < m; ++i) {
        float sum = 0;
        for (int l = 0; l < k; ++l)
          sum += element(a, atype,
                         transa ? l + int64_t(i) * lda : i + int64_t(l) * lda) *
                 element(b, btype,
                         transb ? j + int64_t(l) * ldb : l + int64_t(j) * ldb);
        float &y = out[i + int64_t(j) * ldc];
        y = al * sum + (be == 0 ? 0 : be * y);
      }
    return kSuccess;
  };
  enqueue(static_cast<BlasHandle *>(handle)->stream, gemm);
  return kBlasSuccess;
}
