//===- CudaEmulatorTest.cpp - the CUDA emulator's driver calls ------------===//
//
// The emulator is the CUDA path's reference where there is no GPU: its
// warp shuffles, barriers, error paths and graph capture are checked here on
// the hand-written kernels of EmulatorKernels.cpp, and its cublasGemmEx
// against the definition of the column-major product.
//
//===----------------------------------------------------------------------===//

#include "modrwkv/cuda_emulator.h"

#include <dlfcn.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace {

using CUresult = int;

/// The emulator's driver calls, bound like runtime/lib/Cuda.cpp binds them.
struct Emulator {
  void *lib = dlopen(MODRWKV_CUDA_EMULATOR, RTLD_NOW | RTLD_LOCAL);
  template <typename F> F *bind(const char *name) {
    return reinterpret_cast<F *>(lib ? dlsym(lib, name) : nullptr);
  }
  CUresult (*moduleLoad)(void **, const void *) =
      bind<CUresult(void **, const void *)>("cuModuleLoadData");
  CUresult (*getFunction)(void **, void *, const char *) =
      bind<CUresult(void **, void *, const char *)>("cuModuleGetFunction");
  CUresult (*launch)(void *, unsigned, unsigned, unsigned, unsigned, unsigned,
                     unsigned, unsigned, void *, void **, void **) =
      bind<CUresult(void *, unsigned, unsigned, unsigned, unsigned, unsigned,
                    unsigned, unsigned, void *, void **, void **)>(
          "cuLaunchKernel");
  CUresult (*errorString)(CUresult, const char **) =
      bind<CUresult(CUresult, const char **)>("cuGetErrorString");
  CUresult (*streamCreate)(void **, unsigned) =
      bind<CUresult(void **, unsigned)>("cuStreamCreate");
  CUresult (*beginCapture)(void *, int) =
      bind<CUresult(void *, int)>("cuStreamBeginCapture_v2");
  CUresult (*endCapture)(void *, void **) =
      bind<CUresult(void *, void **)>("cuStreamEndCapture");
  CUresult (*instantiate)(void **, void *, unsigned long long) =
      bind<CUresult(void **, void *, unsigned long long)>(
          "cuGraphInstantiateWithFlags");
  CUresult (*graphLaunch)(void *, void *) =
      bind<CUresult(void *, void *)>("cuGraphLaunch");
  CUresult (*memAlloc)(unsigned long long *, size_t) =
      bind<CUresult(unsigned long long *, size_t)>("cuMemAlloc_v2");
  int (*blasCreate)(void **) = bind<int(void **)>("cublasCreate_v2");
  int (*blasSetStream)(void *, void *) =
      bind<int(void *, void *)>("cublasSetStream_v2");
  int (*gemmEx)(void *, int, int, int, int, int, const void *, const void *,
                int, int, const void *, int, int, const void *, void *, int,
                int, int, int) =
      bind<int(void *, int, int, int, int, int, const void *, const void *, int,
               int, const void *, int, int, const void *, void *, int, int, int,
               int)>("cublasGemmEx");

  void *module = nullptr;

  Emulator() {
    EXPECT_TRUE(lib) << dlerror();
    std::ifstream in(MODRWKV_EMULATOR_KERNELS, std::ios::binary);
    std::string library((std::istreambuf_iterator<char>(in)), {});
    EXPECT_FALSE(library.empty()) << MODRWKV_EMULATOR_KERNELS;
    modrwkv_emulator_image header = {};
    std::strncpy(header.magic, MODRWKV_EMULATOR_MAGIC, sizeof header.magic);
    header.size = library.size();
    std::string image(reinterpret_cast<char *>(&header), sizeof header);
    image += library;
    EXPECT_EQ(moduleLoad(&module, image.data()), 0);
  }

  void *function(const char *name) {
    void *f = nullptr;
    EXPECT_EQ(getFunction(&f, module, name), 0) << name;
    return f;
  }

  std::string error(CUresult rc) {
    const char *text = nullptr;
    errorString(rc, &text);
    return text ? text : "";
  }
};

/// Source lane of each mode, as gpu.shuffle defines it, within segments of
/// `width` lanes; out of range: the own value, valid = 0.
TEST(CudaEmulator, ShuffleModes) {
  Emulator e;
  void *shuffle = e.function("shuffle");
  struct Case {
    int32_t mode, offset, width;
  } cases[] = {{MODRWKV_EMU_XOR, 5, 32},  {MODRWKV_EMU_UP, 3, 32},
               {MODRWKV_EMU_DOWN, 4, 32}, {MODRWKV_EMU_IDX, 9, 32},
               {MODRWKV_EMU_XOR, 8, 16},  {MODRWKV_EMU_DOWN, 2, 16}};
  for (const Case &c : cases) {
    std::vector<int32_t> out(2 * 64, -1);
    int32_t *data = out.data();
    void *params[] = {&data, const_cast<int32_t *>(&c.offset),
                      const_cast<int32_t *>(&c.width),
                      const_cast<int32_t *>(&c.mode)};
    ASSERT_EQ(e.launch(shuffle, 1, 1, 1, 64, 1, 1, 0, nullptr, params, nullptr),
              0);
    for (int lane = 0; lane < 64; ++lane) {
      int inWarp = lane % 32, base = inWarp - inWarp % c.width;
      int source = c.mode == MODRWKV_EMU_XOR    ? inWarp ^ c.offset
                   : c.mode == MODRWKV_EMU_UP   ? inWarp - c.offset
                   : c.mode == MODRWKV_EMU_DOWN ? inWarp + c.offset
                                                : base + c.offset;
      bool valid = source >= base && source < base + c.width;
      int from = valid ? lane - inWarp + source : lane;
      EXPECT_EQ(out[2 * lane], 10 * from)
          << "mode " << c.mode << " lane " << lane;
      EXPECT_EQ(out[2 * lane + 1], valid ? 1 : 0)
          << "mode " << c.mode << " lane " << lane;
    }
  }
}

TEST(CudaEmulator, BarrierOrdersTheBlock) {
  Emulator e;
  std::vector<int32_t> slots(96, 0), out(96, 0);
  int32_t *s = slots.data(), *o = out.data();
  void *params[] = {&s, &o};
  ASSERT_EQ(e.launch(e.function("rotate"), 1, 1, 1, 96, 1, 1, 0, nullptr,
                     params, nullptr),
            0);
  for (int i = 0; i < 96; ++i)
    EXPECT_EQ(out[i], (i + 1) % 96 + 1) << i;
}

TEST(CudaEmulator, ShuffleWithExitedLanesFails) {
  Emulator e;
  CUresult rc = e.launch(e.function("diverge"), 1, 1, 1, 32, 1, 1, 0, nullptr,
                         nullptr, nullptr);
  EXPECT_NE(rc, 0);
  EXPECT_NE(e.error(rc).find("kernel diverge: a warp shuffle waits for lanes "
                             "that have exited"),
            std::string::npos)
      << e.error(rc);
}

TEST(CudaEmulator, PartialWarpShuffleFails) {
  Emulator e;
  std::vector<int32_t> out(2 * 20);
  int32_t *data = out.data(), offset = 16, width = 32, mode = MODRWKV_EMU_XOR;
  void *params[] = {&data, &offset, &width, &mode};
  CUresult rc = e.launch(e.function("shuffle"), 1, 1, 1, 20, 1, 1, 0, nullptr,
                         params, nullptr);
  EXPECT_NE(rc, 0);
  EXPECT_NE(e.error(rc).find("not in the block"), std::string::npos)
      << e.error(rc);
}

/// A captured launch keeps the parameter values of the capture, and runs
/// only when the graph is launched, once per launch.
TEST(CudaEmulator, GraphsReplayCapturedLaunches) {
  Emulator e;
  void *add = e.function("add"), *stream = nullptr, *graph = nullptr,
       *exec = nullptr;
  std::vector<float> out(2 * 8, 0.f);
  float *data = out.data(), value = 1.5f;
  void *params[] = {&data, &value};
  ASSERT_EQ(e.streamCreate(&stream, 1), 0);
  ASSERT_EQ(e.beginCapture(stream, 1), 0);
  ASSERT_EQ(e.launch(add, 2, 1, 1, 8, 1, 1, 0, stream, params, nullptr), 0);
  value = 100.f;
  ASSERT_EQ(e.endCapture(stream, &graph), 0);
  ASSERT_EQ(e.instantiate(&exec, graph, 0), 0);
  EXPECT_EQ(out[0], 0.f) << "a captured launch must not run";
  ASSERT_EQ(e.graphLaunch(exec, nullptr), 0);
  ASSERT_EQ(e.graphLaunch(exec, nullptr), 0);
  for (float x : out)
    EXPECT_EQ(x, 3.f);
}

/// As the driver in the runtime's (thread-local) capture mode: a synchronous
/// allocation, or cuBLAS starting, while the thread captures fails and the
/// capture is lost.
TEST(CudaEmulator, CaptureRefusesSynchronousCalls) {
  Emulator e;
  void *stream = nullptr, *graph = nullptr, *handle = nullptr;
  unsigned long long p = 0;
  ASSERT_EQ(e.streamCreate(&stream, 1), 0);
  ASSERT_EQ(e.beginCapture(stream, 1), 0);
  CUresult rc = e.memAlloc(&p, 64);
  EXPECT_EQ(rc, 900);
  EXPECT_NE(e.error(rc).find("cuMemAlloc while this thread captures"),
            std::string::npos)
      << e.error(rc);
  EXPECT_NE(e.blasCreate(&handle), 0);
  EXPECT_EQ(e.endCapture(stream, &graph), 901);
  EXPECT_EQ(e.memAlloc(&p, 64), 0) << "allowed again after the capture";
}

TEST(CudaEmulator, RefusesPtx) {
  Emulator e;
  void *module = nullptr;
  const char ptx[] = ".version 8.0\n.target sm_90\n.address_size 64\n"
                     "0123456789abcdef";
  CUresult rc = e.moduleLoad(&module, ptx);
  EXPECT_NE(rc, 0);
  EXPECT_NE(e.error(rc).find("--cuda-emulator"), std::string::npos)
      << e.error(rc);
}

constexpr int kOpN = 0, kOpT = 1, kR32F = 0, kR16BF = 14, kR16F = 2,
              kCompute32F = 68, kBlasNotSupported = 15, kBlasInvalidValue = 7;

/// C = alpha op(A) op(B) + beta C, column-major, in double.
std::vector<double> gemmDefinition(int ta, int tb, int m, int n, int k,
                                   float alpha, const std::vector<float> &a,
                                   int lda, const std::vector<float> &b,
                                   int ldb, float beta,
                                   const std::vector<float> &c, int ldc) {
  std::vector<double> out(c.begin(), c.end());
  for (int j = 0; j < n; ++j)
    for (int i = 0; i < m; ++i) {
      double sum = 0;
      for (int l = 0; l < k; ++l)
        sum += double(ta ? a[l + i * lda] : a[i + l * lda]) *
               (tb ? b[j + l * ldb] : b[l + j * ldb]);
      out[i + j * ldc] = alpha * sum + (beta ? beta * c[i + j * ldc] : 0);
    }
  return out;
}

std::vector<float> ramp(size_t n, float scale) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i)
    v[i] = scale * float((i * 37) % 23) - 1.f; // bf16-exact
  return v;
}

/// The transposes and leading dimensions modrwkv_gpu_gemm passes (A^T B,
/// lda, ldb, ldc larger than the rows), the others, and beta 0 and 1.
TEST(CudaEmulator, GemmExMatchesItsDefinition) {
  Emulator e;
  void *handle = nullptr;
  ASSERT_EQ(e.blasCreate(&handle), 0);
  const int m = 5, n = 3, k = 7, ld = 9, ldc = 6;
  std::vector<float> a = ramp(ld * ld, 0.25f), b = ramp(ld * ld, 0.125f);
  for (int ta : {kOpN, kOpT})
    for (int tb : {kOpN, kOpT})
      for (float beta : {0.f, 1.f}) {
        std::vector<float> c = ramp(ldc * n, 0.5f);
        std::vector<double> want =
            gemmDefinition(ta, tb, m, n, k, 1.5f, a, ld, b, ld, beta, c, ldc);
        float alpha = 1.5f;
        ASSERT_EQ(e.gemmEx(handle, ta, tb, m, n, k, &alpha, a.data(), kR32F, ld,
                           b.data(), kR32F, ld, &beta, c.data(), kR32F, ldc,
                           kCompute32F, -1),
                  0);
        for (int i = 0; i < ldc * n; ++i)
          EXPECT_NEAR(c[i], want[i], 1e-5 * (1 + std::fabs(want[i])))
              << "op(A) " << ta << ", op(B) " << tb << ", beta " << beta
              << ", element " << i;
      }
}

/// bf16 A and B widen exactly; with beta 0, C is not read (NaN stays out).
TEST(CudaEmulator, GemmExBf16IgnoresCWithBetaZero) {
  Emulator e;
  void *handle = nullptr;
  ASSERT_EQ(e.blasCreate(&handle), 0);
  const int m = 4, n = 2, k = 8;
  std::vector<float> a = ramp(m * k, 0.25f), b = ramp(k * n, 0.5f);
  auto toBf16 = [](const std::vector<float> &v) {
    std::vector<uint16_t> out;
    for (float x : v) {
      uint32_t bits;
      std::memcpy(&bits, &x, 4);
      out.push_back(uint16_t(bits >> 16)); // exact: ramp values are bf16
    }
    return out;
  };
  std::vector<uint16_t> ab = toBf16(a), bb = toBf16(b);
  std::vector<float> c(m * n, NAN);
  std::vector<double> want =
      gemmDefinition(kOpT, kOpN, m, n, k, 1, a, k, b, k, 0, c, m);
  float one = 1, zero = 0;
  ASSERT_EQ(e.gemmEx(handle, kOpT, kOpN, m, n, k, &one, ab.data(), kR16BF, k,
                     bb.data(), kR16BF, k, &zero, c.data(), kR32F, m,
                     kCompute32F, -1),
            0);
  for (int i = 0; i < m * n; ++i)
    EXPECT_NEAR(c[i], want[i], 1e-5 * (1 + std::fabs(want[i]))) << i;
}

/// What it does not emulate is refused, not computed wrongly; on a
/// capturing stream the product runs when the graph does.
TEST(CudaEmulator, GemmExRefusesAndRecords) {
  Emulator e;
  void *handle = nullptr, *stream = nullptr, *graph = nullptr, *exec = nullptr;
  ASSERT_EQ(e.blasCreate(&handle), 0);
  float a[4] = {1, 2, 3, 4}, b[4] = {1, 0, 0, 1}, c[4] = {}, one = 1, zero = 0;
  auto call = [&](int atype, int btype, int lda) {
    return e.gemmEx(handle, kOpN, kOpN, 2, 2, 2, &one, a, atype, lda, b, btype,
                    2, &zero, c, kR32F, 2, kCompute32F, -1);
  };
  EXPECT_EQ(call(kR32F, kR16BF, 2), kBlasNotSupported);
  EXPECT_EQ(call(kR16F, kR16F, 2), kBlasNotSupported);
  EXPECT_EQ(call(kR32F, kR32F, 1), kBlasInvalidValue);
  ASSERT_EQ(e.streamCreate(&stream, 1), 0);
  ASSERT_EQ(e.blasSetStream(handle, stream), 0);
  ASSERT_EQ(e.beginCapture(stream, 1), 0);
  ASSERT_EQ(call(kR32F, kR32F, 2), 0);
  ASSERT_EQ(e.endCapture(stream, &graph), 0);
  ASSERT_EQ(e.instantiate(&exec, graph, 0), 0);
  EXPECT_EQ(c[0], 0.f) << "a captured product must not run";
  ASSERT_EQ(e.graphLaunch(exec, nullptr), 0);
  for (int i = 0; i < 4; ++i)
    EXPECT_EQ(c[i], a[i]); // A times the identity
}

} // namespace
