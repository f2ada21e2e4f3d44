//===- Cuda.cpp - the CUDA driver, loaded at run time ---------------------===//

#include "Cuda.h"

#include "Errors.h"

#include <dlfcn.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace {

// The few driver API types we use (cuda.h is not needed to build).
using CUresult = int;
using CUdevice = int;
using CUdeviceptr = unsigned long long;
using CUcontext = void *;
using CUmodule = void *;
using CUfunction = void *;
using CUstream = void *;
using CUmemoryPool = void *;
using CUgraph = void *;
using CUgraphExec = void *;

struct Driver {
  CUresult (*cuInit)(unsigned);
  CUresult (*cuDeviceGetCount)(int *);
  CUresult (*cuDeviceGet)(CUdevice *, int);
  CUresult (*cuDevicePrimaryCtxRetain)(CUcontext *, CUdevice);
  CUresult (*cuCtxSetCurrent)(CUcontext);
  CUresult (*cuCtxSynchronize)();
  CUresult (*cuGetErrorString)(CUresult, const char **);
  CUresult (*cuMemAlloc_v2)(CUdeviceptr *, size_t);
  CUresult (*cuMemFree_v2)(CUdeviceptr);
  CUresult (*cuMemcpyHtoD_v2)(CUdeviceptr, const void *, size_t);
  CUresult (*cuMemcpyDtoH_v2)(void *, CUdeviceptr, size_t);
  CUresult (*cuModuleLoadData)(CUmodule *, const void *);
  CUresult (*cuModuleUnload)(CUmodule);
  CUresult (*cuModuleGetFunction)(CUfunction *, CUmodule, const char *);
  CUresult (*cuLaunchKernel)(CUfunction, unsigned, unsigned, unsigned, unsigned,
                             unsigned, unsigned, unsigned, CUstream, void **,
                             void **);
  CUresult (*cuStreamCreate)(CUstream *, unsigned);
  CUresult (*cuStreamDestroy_v2)(CUstream);
  CUresult (*cuStreamSynchronize)(CUstream);
  CUresult (*cuDeviceGetDefaultMemPool)(CUmemoryPool *, CUdevice);
  CUresult (*cuMemPoolSetAttribute)(CUmemoryPool, int, void *);
  CUresult (*cuMemAllocAsync)(CUdeviceptr *, size_t, CUstream);
  CUresult (*cuMemFreeAsync)(CUdeviceptr, CUstream);
  CUresult (*cuStreamBeginCapture_v2)(CUstream, int);
  CUresult (*cuStreamEndCapture)(CUstream, CUgraph *);
  CUresult (*cuGraphInstantiateWithFlags)(CUgraphExec *, CUgraph,
                                          unsigned long long);
  CUresult (*cuGraphLaunch)(CUgraphExec, CUstream);
  CUresult (*cuGraphExecDestroy)(CUgraphExec);
  CUresult (*cuGraphDestroy)(CUgraph);
  CUcontext context = nullptr;
  void *library = nullptr;
  bool emulator = false; ///< libmodrwkv_cuda_emulator.so, not a driver
};

/// Sets the function pointer `table.name` to the symbol `name` of `lib`;
/// runs the statement `onMissing` when the library lacks it.
#define BIND_SYMBOL(lib, table, name, onMissing)                               \
  if (!(table.name =                                                           \
            reinterpret_cast<decltype(table.name)>(dlsym(lib, #name)))) {      \
    onMissing;                                                                 \
  }

Driver driver;
std::once_flag loadOnce;
std::string loadError;
std::mutex errorMutex;
std::string firstError; ///< of an mgpu* call, until checkErrors()

std::string describe(CUresult rc) {
  const char *text = nullptr;
  if (driver.cuGetErrorString)
    driver.cuGetErrorString(rc, &text);
  return "CUDA error " + std::to_string(rc) +
         (text ? std::string(" (") + text + ")" : "");
}

/// MODRWKV_CUDA_PROFILE=1: every launch waits for its kernel, and the time
/// per kernel (launch included) is printed to stderr at exit, largest first:
/// the first 25 kernels and every cuBLAS call (which path the products
/// took), then one line for the rest.
struct Profile {
  bool enabled = false;
  std::mutex mutex;
  std::map<void *, std::string> names; ///< function -> kernel name
  std::map<std::string, std::pair<double, long>> seconds; ///< total, launches
  ~Profile() {
    if (!enabled || seconds.empty())
      return;
    std::vector<std::pair<std::string, std::pair<double, long>>> rows(
        seconds.begin(), seconds.end());
    std::sort(rows.begin(), rows.end(), [](const auto &a, const auto &b) {
      return a.second.first > b.second.first;
    });
    double total = 0;
    for (const auto &row : rows)
      total += row.second.first;
    std::fprintf(stderr, "modrwkv CUDA profile: %.3f s in %zu kernels\n", total,
                 rows.size());
    double rest = 0;
    size_t shown = 0;
    for (const auto &[name, entry] : rows) {
      if (shown >= 25 && name.rfind("cublas", 0) != 0) {
        rest += entry.first;
        continue;
      }
      ++shown;
      std::fprintf(stderr, "  %8.3f ms %5.1f%% %7ld x %s\n", entry.first * 1e3,
                   100 * entry.first / total, entry.second, name.c_str());
    }
    if (shown < rows.size())
      std::fprintf(stderr, "  %8.3f ms %5.1f%% in %zu more kernels\n",
                   rest * 1e3, 100 * rest / total, rows.size() - shown);
  }
};
Profile profile;

/// A capture of this thread's next model.so call (captureGraph): the first
/// stream it creates records instead of running, until it is destroyed.
struct Capture {
  bool attempted = false;
  CUstream stream = nullptr; ///< the recording stream, if capture started
  bool failed = false;
  CUgraph graph = nullptr;
};
thread_local Capture *capture = nullptr;
bool graphs = true; ///< MODRWKV_CUDA_GRAPHS=0 turns them off

void load() {
  auto flag = [](const char *name) {
    const char *value = std::getenv(name);
    return value && *value ? std::string(value) != "0" : std::optional<bool>();
  };
  profile.enabled = flag("MODRWKV_CUDA_PROFILE").value_or(false);
  graphs = flag("MODRWKV_CUDA_GRAPHS").value_or(true) && !profile.enabled;
  const char *path = std::getenv("MODRWKV_LIBCUDA");
  if (!path || !*path)
    path = "libcuda.so.1";
  void *lib = driver.library = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    loadError = std::string("this artifact targets CUDA, but the NVIDIA "
                            "driver library cannot be loaded (") +
                dlerror() + "); run it on a machine with an NVIDIA GPU";
    return;
  }
  auto missing = [&](const char *name) {
    loadError =
        std::string(path) + ": no symbol " + name + " (driver too old?)";
  };
#define BIND(name) BIND_SYMBOL(lib, driver, name, return missing(#name))
  BIND(cuInit)
  BIND(cuDeviceGetCount)
  BIND(cuDeviceGet)
  BIND(cuDevicePrimaryCtxRetain)
  BIND(cuCtxSetCurrent)
  BIND(cuCtxSynchronize)
  BIND(cuGetErrorString)
  BIND(cuMemAlloc_v2)
  BIND(cuMemFree_v2)
  BIND(cuMemcpyHtoD_v2)
  BIND(cuMemcpyDtoH_v2)
  BIND(cuModuleLoadData)
  BIND(cuModuleUnload)
  BIND(cuModuleGetFunction)
  BIND(cuLaunchKernel)
  BIND(cuStreamCreate)
  BIND(cuStreamDestroy_v2)
  BIND(cuStreamSynchronize)
  BIND(cuDeviceGetDefaultMemPool)
  BIND(cuMemPoolSetAttribute)
  BIND(cuMemAllocAsync)
  BIND(cuMemFreeAsync)
  BIND(cuStreamBeginCapture_v2)
  BIND(cuStreamEndCapture)
  BIND(cuGraphInstantiateWithFlags)
  BIND(cuGraphLaunch)
  BIND(cuGraphExecDestroy)
  BIND(cuGraphDestroy)
#undef BIND
  driver.emulator = dlsym(lib, "modrwkv_cuda_emulator") != nullptr;
  int count = 0;
  if (CUresult rc = driver.cuInit(0)) {
    loadError = "cuInit failed: " + describe(rc) + " (no usable NVIDIA GPU?)";
    return;
  }
  if (driver.cuDeviceGetCount(&count) != 0 || count == 0) {
    loadError = "the NVIDIA driver reports no CUDA device";
    return;
  }
  CUdevice device = 0;
  if (CUresult rc = driver.cuDeviceGet(&device, 0))
    loadError = "cuDeviceGet failed: " + describe(rc);
  else if (CUresult rc2 =
               driver.cuDevicePrimaryCtxRetain(&driver.context, device))
    loadError = "cuDevicePrimaryCtxRetain failed: " + describe(rc2);
  // The compiled code allocates its scratch per call from the device's
  // stream-ordered pool: keep freed memory in the pool instead of giving it
  // back to the driver at every synchronization.
  CUmemoryPool pool = nullptr;
  uint64_t keepAll = UINT64_MAX;
  constexpr int kReleaseThreshold = 4; // CU_MEMPOOL_ATTR_RELEASE_THRESHOLD
  if (loadError.empty() &&
      (driver.cuDeviceGetDefaultMemPool(&pool, device) != 0 ||
       driver.cuMemPoolSetAttribute(pool, kReleaseThreshold, &keepAll) != 0))
    loadError = "the CUDA device has no stream-ordered memory pool (a CUDA "
                "11.2 or newer driver is needed)";
}

/// Records the first failure of a call that cannot report it (a capture
/// that saw one is not used).
void record(const std::string &message) {
  if (capture)
    capture->failed = true;
  std::lock_guard<std::mutex> lock(errorMutex);
  if (firstError.empty())
    firstError = message;
}

bool ok(CUresult rc, const char *call) {
  if (rc == 0)
    return true;
  record(std::string(call) + ": " + describe(rc));
  return false;
}

/// MODRWKV_CUDA_PROFILE: waits for `stream` and adds the time since `start`
/// to `name`.
void profileCall(const std::string &name,
                 std::chrono::steady_clock::time_point start, CUstream stream) {
  if (!profile.enabled)
    return;
  ok(driver.cuStreamSynchronize(stream), "cuStreamSynchronize");
  std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
  std::lock_guard<std::mutex> lock(profile.mutex);
  auto &entry = profile.seconds[name];
  entry.first += took.count();
  ++entry.second;
}

/// Every thread that calls into CUDA needs the context current.
void current() { driver.cuCtxSetCurrent(driver.context); }

//===----------------------------------------------------------------------===//
// cuBLAS, opened when an artifact whose products may call it is loaded
// (prepareBlas), for model.so's modrwkv_gpu_* calls.
//===----------------------------------------------------------------------===//

using CublasStatus = int;
constexpr int kOpN = 0, kOpT = 1, kCudaR32F = 0, kCompute32F = 68,
              kGemmDefault = -1;
/// cuBLAS' workspace, set once so that it never allocates (in a graph
/// capture neither), at the size NVIDIA recommends for Hopper.
constexpr size_t kBlasWorkspace = 32 << 20;

struct Blas {
  CublasStatus (*cublasCreate_v2)(void **);
  CublasStatus (*cublasSetStream_v2)(void *, CUstream);
  CublasStatus (*cublasSetWorkspace_v2)(void *, void *, size_t);
  CublasStatus (*cublasGemmEx)(void *, int, int, int, int, int, const void *,
                               const void *, int, int, const void *, int, int,
                               const void *, void *, int, int, int, int);
  const char *(*cublasGetStatusString)(CublasStatus) = nullptr;
  void *handle = nullptr; ///< set when cuBLAS is usable
  std::mutex mutex;       ///< the handle serves one stream at a time
  int64_t minTokens = 0;  ///< MODRWKV_CUBLAS_MIN_TOKENS, 0 if unset
};
Blas blas;
std::once_flag blasOnce;

/// Why cuBLAS cannot be used, or "" once it is ready.
std::string openBlas() {
  const char *off = std::getenv("MODRWKV_CUBLAS");
  if (off && std::string(off) == "0")
    return "MODRWKV_CUBLAS=0";
  if (const char *n = std::getenv("MODRWKV_CUBLAS_MIN_TOKENS"); n && *n) {
    char *end = nullptr;
    long long v = std::strtoll(n, &end, 10);
    if (*end || v < 1)
      return std::string("MODRWKV_CUBLAS_MIN_TOKENS=") + n +
             " is not a positive integer";
    blas.minTokens = v;
  }
  // The emulator emulates the cuBLAS calls below too.
  void *lib = nullptr;
  std::vector<const char *> names = {"libcublas.so.13", "libcublas.so.12"};
  if (const char *path = std::getenv("MODRWKV_LIBCUBLAS"); path && *path)
    names = {path};
  else if (driver.emulator)
    lib = driver.library;
  std::string tried;
  for (const char *name : names) {
    if (lib)
      break;
    if (!(lib = dlopen(name, RTLD_NOW | RTLD_LOCAL)))
      tried += std::string(tried.empty() ? "" : "; ") + dlerror();
  }
  if (!lib)
    return "cannot load it: " + tried;
#define BIND(name)                                                             \
  BIND_SYMBOL(lib, blas, name, return "the library has no " #name)
  BIND(cublasCreate_v2)
  BIND(cublasSetStream_v2)
  BIND(cublasSetWorkspace_v2)
  BIND(cublasGemmEx)
#undef BIND
  BIND_SYMBOL(lib, blas, cublasGetStatusString, {}) // optional
  current();
  void *handle = nullptr;
  if (CublasStatus rc = blas.cublasCreate_v2(&handle))
    return "cublasCreate failed with status " + std::to_string(rc);
  CUdeviceptr workspace = 0;
  if (CUresult rc = driver.cuMemAlloc_v2(&workspace, kBlasWorkspace))
    return "no device memory for its workspace: " + describe(rc);
  if (CublasStatus rc = blas.cublasSetWorkspace_v2(
          handle, reinterpret_cast<void *>(workspace), kBlasWorkspace)) {
    driver.cuMemFree_v2(workspace);
    return "cublasSetWorkspace failed with status " + std::to_string(rc);
  }
  blas.handle = handle;
  return "";
}

void loadBlas() {
  std::string why = openBlas();
  if (!why.empty() && why != "MODRWKV_CUBLAS=0")
    std::fprintf(stderr,
                 "modrwkv: cuBLAS is not used (%s); every product runs as a "
                 "generated kernel\n",
                 why.c_str());
}

using modrwkv::runtime::Failure;

void check(CUresult rc, const char *call) {
  if (rc != 0)
    throw Failure(std::string(call) + ": " + describe(rc));
}

} // namespace

namespace modrwkv::runtime::cuda {

void initialize(bool hostKernels, bool blas) {
  std::call_once(loadOnce, load);
  if (!loadError.empty())
    throw Failure(loadError);
  if (hostKernels && !driver.emulator)
    throw Failure("this artifact's kernels are host code for the CUDA "
                  "emulator (modrwkv-compile --cuda-emulator): run it with "
                  "MODRWKV_LIBCUDA=libmodrwkv_cuda_emulator.so, or compile "
                  "without --cuda-emulator for a GPU");
  if (!hostKernels && driver.emulator)
    throw Failure("MODRWKV_LIBCUDA is the CUDA emulator, which runs only "
                  "artifacts compiled with --cuda-emulator (this one holds "
                  "PTX for a GPU)");
  current();
  if (blas)
    prepareBlas();
}

void prepareBlas() { std::call_once(blasOnce, loadBlas); }

void *allocate(size_t bytes) {
  current();
  CUdeviceptr p = 0;
  check(driver.cuMemAlloc_v2(&p, bytes ? bytes : 1), "cuMemAlloc");
  return reinterpret_cast<void *>(p);
}

void release(void *device) {
  if (!device)
    return;
  current();
  driver.cuMemFree_v2(reinterpret_cast<CUdeviceptr>(device));
}

void upload(void *device, const void *host, size_t bytes) {
  current();
  check(driver.cuMemcpyHtoD_v2(reinterpret_cast<CUdeviceptr>(device), host,
                               bytes),
        "cuMemcpyHtoD");
}

void download(void *host, const void *device, size_t bytes) {
  current();
  check(driver.cuMemcpyDtoH_v2(host, reinterpret_cast<CUdeviceptr>(device),
                               bytes),
        "cuMemcpyDtoH");
}

void *captureGraph(const std::function<void()> &body) {
  if (!graphs)
    return body(), nullptr;
  current();
  Capture c;
  capture = &c;
  try {
    body();
  } catch (...) {
    capture = nullptr;
    throw;
  }
  capture = nullptr;
  if (!c.stream)
    return nullptr; // the driver refused to capture: body ran for real
  CUgraphExec exec = nullptr;
  bool usable = !c.failed && c.graph &&
                driver.cuGraphInstantiateWithFlags(&exec, c.graph, 0) == 0;
  if (c.graph)
    driver.cuGraphDestroy(c.graph);
  if (usable)
    return exec;
  // Nothing ran: forget the capture's errors and run body for real.
  {
    std::lock_guard<std::mutex> lock(errorMutex);
    firstError.clear();
  }
  body();
  return nullptr;
}

void launchGraph(void *graph) {
  current();
  // The legacy stream: ordered after the runtime's copies, before its reads.
  ok(driver.cuGraphLaunch(graph, nullptr), "cuGraphLaunch");
}

void destroyGraph(void *graph) {
  if (graph) {
    current();
    driver.cuGraphExecDestroy(graph);
  }
}

void checkErrors(const char *what) {
  current();
  ok(driver.cuCtxSynchronize(), "cuCtxSynchronize");
  std::lock_guard<std::mutex> lock(errorMutex);
  if (!firstError.empty()) {
    std::string message = std::string(what) + ": " + firstError;
    firstError.clear();
    throw Failure(message);
  }
}

} // namespace modrwkv::runtime::cuda

// The entry points of MLIR's gpu-to-llvm lowering (the signatures of its
// CUDA runtime wrappers), as model.so calls them.
MODRWKV_API void *mgpuModuleLoad(void *data, size_t /*size*/) {
  current();
  CUmodule module = nullptr;
  ok(driver.cuModuleLoadData(&module, data), "cuModuleLoadData");
  return module;
}

/// PTX: the driver compiles it for the device it runs on.
MODRWKV_API void *mgpuModuleLoadJIT(void *data, int /*optLevel*/) {
  return mgpuModuleLoad(data, 0);
}

MODRWKV_API void mgpuModuleUnload(void *module) {
  if (module)
    driver.cuModuleUnload(module);
}

MODRWKV_API void *mgpuModuleGetFunction(void *module, const char *name) {
  CUfunction function = nullptr;
  if (module)
    ok(driver.cuModuleGetFunction(&function, module, name),
       "cuModuleGetFunction");
  if (profile.enabled && function) {
    std::lock_guard<std::mutex> lock(profile.mutex);
    profile.names[function] = name;
  }
  return function;
}

MODRWKV_API void mgpuLaunchKernel(void *function, intptr_t gridX,
                                  intptr_t gridY, intptr_t gridZ,
                                  intptr_t blockX, intptr_t blockY,
                                  intptr_t blockZ, int32_t smem, void *stream,
                                  void **params, void **extra,
                                  size_t /*paramsCount*/) {
  if (!function)
    return; // the module or function failed to load: already recorded
  // No threads: the compiled code sizes the grid of a path it does not
  // take (a product that runs through cuBLAS instead) to zero.
  if (gridX == 0 || gridY == 0 || gridZ == 0)
    return;
  auto start = std::chrono::steady_clock::now();
  ok(driver.cuLaunchKernel(function, gridX, gridY, gridZ, blockX, blockY,
                           blockZ, smem, stream, params, extra),
     "cuLaunchKernel");
  if (profile.enabled) {
    std::string name;
    {
      std::lock_guard<std::mutex> lock(profile.mutex);
      name = profile.names[function];
    }
    profileCall(name, start, stream);
  }
}

MODRWKV_API void *mgpuStreamCreate() {
  current();
  CUstream stream = nullptr;
  // A captured stream only records, and must not touch the legacy stream.
  if (capture && !capture->attempted) {
    capture->attempted = true;
    if (driver.cuStreamCreate(&stream, /*CU_STREAM_NON_BLOCKING*/ 1) == 0 &&
        driver.cuStreamBeginCapture_v2(
            stream, /*CU_STREAM_CAPTURE_MODE_THREAD_LOCAL*/ 1) == 0)
      return capture->stream = stream;
    if (stream)
      driver.cuStreamDestroy_v2(stream);
    stream = nullptr; // the call runs for real, on a stream as below
  }
  // A blocking stream (flags 0) waits for the runtime's copies on the legacy
  // stream, which may still be in flight when they return.
  ok(driver.cuStreamCreate(&stream, 0), "cuStreamCreate");
  return stream;
}

MODRWKV_API void mgpuStreamDestroy(void *stream) {
  if (capture && stream && stream == capture->stream)
    capture->failed |= driver.cuStreamEndCapture(stream, &capture->graph) != 0;
  if (stream)
    driver.cuStreamDestroy_v2(stream);
}

MODRWKV_API void mgpuStreamSynchronize(void *stream) {
  if (capture && stream && stream == capture->stream)
    return; // nothing runs while capturing
  ok(driver.cuStreamSynchronize(stream), "cuStreamSynchronize");
}

/// Device scratch of the compiled code, ordered on its stream: neither call
/// waits for the device. Nothing for an empty buffer (the scratch of a path
/// not taken).
MODRWKV_API void *mgpuMemAlloc(uint64_t bytes, void *stream,
                               bool /*hostShared*/) {
  CUdeviceptr p = 0;
  if (bytes)
    ok(driver.cuMemAllocAsync(&p, bytes, stream), "cuMemAllocAsync");
  return reinterpret_cast<void *>(p);
}

MODRWKV_API void mgpuMemFree(void *ptr, void *stream) {
  if (ptr)
    ok(driver.cuMemFreeAsync(reinterpret_cast<CUdeviceptr>(ptr), stream),
       "cuMemFreeAsync");
}

/// The fewest rows for which rwkv_gpu.gemm runs (RwkvGpuOps.td). cuBLAS was
/// opened when the artifact was loaded (prepareBlas); else now.
MODRWKV_API int64_t modrwkv_gpu_blas_min_tokens(int64_t compiled) {
  modrwkv::runtime::cuda::prepareBlas();
  if (!blas.handle)
    return INT64_MAX;
  return blas.minTokens ? blas.minTokens : compiled;
}

/// y = x W^T (+ y) for row-major x [m, k], W [n, k], y [m, n] with row
/// strides ldx, ldw, ldy; W and x of cudaDataType `type`, y f32. cuBLAS is
/// column-major: it sees y^T = W x^T, with W^T stored as W.
MODRWKV_API void modrwkv_gpu_gemm(void *stream, int64_t m, int64_t n, int64_t k,
                                  const void *w, int64_t ldw, int32_t type,
                                  const void *x, int64_t ldx, float *y,
                                  int64_t ldy, int32_t accumulate) {
  if (m == 0)
    return;
  if (!blas.handle)
    return record("rwkv_gpu.gemm without cuBLAS (model.so did not ask "
                  "modrwkv_gpu_blas_min_tokens)");
  for (int64_t v : {m, n, k, ldw, ldx, ldy})
    if (v < 1 || v > INT32_MAX)
      return record("rwkv_gpu.gemm: a size or row stride is outside cuBLAS' "
                    "32-bit range (m " +
                    std::to_string(m) + ", n " + std::to_string(n) + ", k " +
                    std::to_string(k) + ")");
  auto start = std::chrono::steady_clock::now();
  const float one = 1, beta = accumulate ? 1 : 0;
  CublasStatus rc;
  {
    std::lock_guard<std::mutex> lock(blas.mutex);
    rc = blas.cublasSetStream_v2(blas.handle, stream);
    if (rc == 0)
      rc = blas.cublasGemmEx(blas.handle, kOpT, kOpN, n, m, k, &one, w, type,
                             ldw, x, type, ldx, &beta, y, kCudaR32F, ldy,
                             kCompute32F, kGemmDefault);
  }
  if (rc != 0) {
    const char *text =
        blas.cublasGetStatusString ? blas.cublasGetStatusString(rc) : nullptr;
    return record("cublasGemmEx (" + std::to_string(m) + "x" +
                  std::to_string(n) + "x" + std::to_string(k) +
                  ") failed with status " + std::to_string(rc) +
                  (text ? std::string(" (") + text + ")" : ""));
  }
  profileCall(type == kCudaR32F ? "cublasGemmEx f32" : "cublasGemmEx bf16",
              start, stream);
}
