//===- Runtime.cpp - modrwkv runtime C API --------------------------------===//

#include "modrwkv/runtime.h"

#include "ArtifactFiles.h"
#include "Cuda.h"
#include "Errors.h"

#include <dlfcn.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#define API MODRWKV_API

using modrwkv::runtime::Failure;
using modrwkv::runtime::guarded;

namespace {

thread_local std::string lastError;

/// MLIR's C-interface memref descriptor of rank R.
template <int R> struct MemRef {
  void *allocated;
  void *aligned;
  int64_t offset;
  int64_t sizes[R];
  int64_t strides[R];
};

template <int R> MemRef<R> describe(void *data, const int64_t (&sizes)[R]) {
  MemRef<R> m{data, data, 0, {}, {}};
  int64_t stride = 1;
  for (int d = R - 1; d >= 0; --d) {
    m.sizes[d] = sizes[d];
    m.strides[d] = stride;
    stride *= sizes[d];
  }
  return m;
}

using ForwardFn = void (*)(MemRef<1> *, MemRef<1> *, MemRef<2> *, MemRef<2> *,
                           MemRef<4> *, MemRef<2> *);
/// rwkv7-forward-mm-v2: modality rows after the tokens.
using ForwardMmFn = void (*)(MemRef<1> *, MemRef<1> *, MemRef<2> *, MemRef<2> *,
                             MemRef<2> *, MemRef<4> *, MemRef<2> *);
/// The batched decode entry: states [L, B, ...].
using DecodeBatchFn = void (*)(MemRef<1> *, MemRef<1> *, MemRef<3> *,
                               MemRef<3> *, MemRef<5> *, MemRef<2> *);

constexpr int64_t kPrefillChunk = 128;
constexpr char kStateMagic[8] = {'M', 'R', 'W', 'K', 'V', 'S', 'T', '1'};

} // namespace

struct modrwkv_model {
  modrwkv::runtime::ArtifactFiles files;
  int64_t layers = 0, width = 0, heads = 0, headSize = 0, vocab = 0;
  ForwardFn forward = nullptr;
  ForwardMmFn forwardMm = nullptr; ///< multimodal artifacts
  DecodeBatchFn decodeBatch = nullptr;
  int32_t placeholder = -1; ///< token replaced by modality rows
  struct WeightEntry {
    uint64_t offset;
    int64_t count;
    std::string dtype; ///< f32, bf16, f16 or i8
  };
  std::map<std::string, WeightEntry> weightTable;
  /// The WKV state fresh states start from, [L][H][N][N]: a state-tuned
  /// model's learned one (manifest `initial_state`) or one set with
  /// modrwkv_model_set_initial_state; empty: zeros.
  std::vector<float> initialWkv;
  /// --target cuda: weights.bin is uploaded once, states live on the device
  /// (see modrwkv_state).
  bool cuda = false;
  void *deviceWeights = nullptr;

  modrwkv_model() = default;
  modrwkv_model(const modrwkv_model &) = delete;
  ~modrwkv_model() { modrwkv::runtime::cuda::release(deviceWeights); }

  int64_t stateFloats() const {
    return 2 * layers * width + layers * heads * headSize * headSize;
  }

  /// The values of a fresh state: att_shift | ffn_shift | wkv.
  std::vector<float> freshState() const {
    std::vector<float> values(stateFloats(), 0.0f);
    std::copy(initialWkv.begin(), initialWkv.end(),
              values.begin() + 2 * layers * width);
    return values;
  }
};

/// Floats held by the host and, on a CUDA model, by the device: each copy
/// is refreshed from the other only when it is read (a state lives on the
/// device between calls; decode moves no state over the bus).
struct Mirrored {
  mutable std::vector<float> host;
  mutable bool hostCurrent = true;
  bool deviceCurrent = false;
  modrwkv::runtime::cuda::DeviceBuffer device;

  /// The host copy, downloaded if the device wrote since.
  const std::vector<float> &read() const {
    if (!hostCurrent) {
      modrwkv::runtime::cuda::download(host.data(), device.data,
                                       host.size() * sizeof(float));
      hostCurrent = true;
    }
    return host;
  }
  /// The device copy, uploaded if the host wrote since.
  float *onDevice() {
    size_t bytes = host.size() * sizeof(float);
    if (!deviceCurrent) {
      modrwkv::runtime::cuda::upload(device.reserve(bytes), host.data(), bytes);
      deviceCurrent = true;
    }
    return static_cast<float *>(device.data);
  }
  /// Writes `n` floats from `from` at float offset `at` into each copy that
  /// is current (a stale copy stays stale): a batch slot is replaced
  /// without moving the other slots over the bus.
  void write(int64_t at, const float *from, int64_t n) {
    if (hostCurrent)
      std::memcpy(host.data() + at, from, n * sizeof(float));
    if (deviceCurrent)
      modrwkv::runtime::cuda::upload(static_cast<float *>(device.data) + at,
                                     from, n * sizeof(float));
  }
  /// Reads `n` floats at float offset `at` from a current copy.
  void readRange(int64_t at, float *to, int64_t n) const {
    if (hostCurrent)
      std::memcpy(to, host.data() + at, n * sizeof(float));
    else
      modrwkv::runtime::cuda::download(
          to, static_cast<const float *>(device.data) + at, n * sizeof(float));
  }
  /// The host wrote `host` / a kernel wrote the device copy.
  void hostChanged() {
    hostCurrent = true;
    deviceCurrent = false;
  }
  void deviceChanged() { hostCurrent = false; }
};

struct modrwkv_state {
  const modrwkv_model *model;
  Mirrored values; ///< att_shift | ffn_shift | wkv
  std::vector<float> logits;
  bool hasLogits = false;
  modrwkv::runtime::cuda::DeviceBuffer deviceTokens, deviceLogits,
      deviceFeatures;
  /// --target cuda: the first one-token call is captured as a CUDA graph
  /// (about 80 kernels a layer, launched once each from the host, bound
  /// decode); later ones replay it while the buffers it reads and writes
  /// stay where they were.
  void *decodeGraph = nullptr;
  const void *graphBuffers[2] = {};

  modrwkv_state() = default;
  modrwkv_state(const modrwkv_state &) = delete;
  modrwkv_state &operator=(const modrwkv_state &) = delete;
  ~modrwkv_state() { modrwkv::runtime::cuda::destroyGraph(decodeGraph); }

  /// Runs `call`, model.so's forward for one token on this state's device
  /// buffers, as a graph replay where it can.
  void decodeOnGpu(const std::function<void()> &call) {
    namespace cuda = modrwkv::runtime::cuda;
    if (decodeGraph && (graphBuffers[0] != deviceTokens.data ||
                        graphBuffers[1] != deviceLogits.data)) {
      cuda::destroyGraph(decodeGraph);
      decodeGraph = nullptr;
    }
    if (decodeGraph)
      return cuda::launchGraph(decodeGraph);
    decodeGraph = cuda::captureGraph(call);
    graphBuffers[0] = deviceTokens.data;
    graphBuffers[1] = deviceLogits.data;
    if (decodeGraph)
      cuda::launchGraph(decodeGraph);
  }
};

struct modrwkv_batch {
  const modrwkv_model *model;
  int64_t slots;
  /// att_shift [L][B][C] | ffn_shift [L][B][C] | wkv [L][B][H][N][N]: each
  /// layer's rows side by side, as the batched entry reads them.
  Mirrored values;
  std::vector<float> logits; ///< [B][V]
  bool hasLogits = false;    ///< a decode ran
  std::vector<char> slotHasLogits;
  modrwkv::runtime::cuda::DeviceBuffer deviceTokens, deviceLogits;

  /// Calls fn(stateOffset, batchOffset, count) for each run of floats that
  /// slot `slot` shares with a single state's values.
  template <typename Fn> void forEachRow(int64_t slot, Fn fn) const {
    const modrwkv_model &m = *model;
    int64_t L = m.layers,
            perLayer[] = {m.width, m.width, m.heads * m.headSize * m.headSize};
    int64_t stateBase = 0, batchBase = 0;
    for (int64_t n : perLayer) {
      for (int64_t l = 0; l < L; ++l)
        fn(stateBase + l * n, batchBase + (l * slots + slot) * n, n);
      stateBase += L * n;
      batchBase += L * slots * n;
    }
  }
};

namespace {

int64_t positive(const nlohmann::json &config, const char *key,
                 const std::string &manifest) {
  if (!config.contains(key) || !config[key].is_number_integer() ||
      config[key].get<int64_t>() <= 0)
    throw Failure(manifest + ": config." + key + " must be a positive integer");
  return config[key].get<int64_t>();
}

void loadModel(modrwkv_model &m, const std::string &dir) {
  m.files.open(dir, {"rwkv7-forward-v2", "rwkv7-forward-mm-v2"},
               modrwkv::runtime::cuda::initialize);
  m.cuda = m.files.manifest.value("target", "") == "cuda";
  const std::string &manifestPath = m.files.manifestPath;
  const nlohmann::json &manifest = m.files.manifest;
  const nlohmann::json &config = manifest["config"];
  m.layers = positive(config, "layers", manifestPath);
  m.width = positive(config, "width", manifestPath);
  m.heads = positive(config, "heads", manifestPath);
  m.headSize = positive(config, "head_size", manifestPath);
  m.vocab = positive(config, "vocab", manifestPath);
  if (m.heads * m.headSize != m.width)
    throw Failure(manifestPath + ": heads x head_size != width");
  if (m.files.weightBytes == 0)
    throw Failure(manifestPath + ": the model has no weights");
  void *entry = m.files.symbol(manifest.value("entry", ""));
  if (manifest["abi"] == "rwkv7-forward-mm-v2") {
    const nlohmann::json &mm =
        manifest.value("multimodal", nlohmann::json::object());
    if (!mm.contains("placeholder") || !mm["placeholder"].is_number_integer())
      throw Failure(manifestPath + ": multimodal.placeholder is missing");
    m.placeholder = mm["placeholder"].get<int32_t>();
    m.forwardMm = reinterpret_cast<ForwardMmFn>(entry);
  } else {
    m.forward = reinterpret_cast<ForwardFn>(entry);
  }
  if (manifest.contains("batch_entry"))
    m.decodeBatch = reinterpret_cast<DecodeBatchFn>(
        m.files.symbol(manifest.value("batch_entry", "")));
  for (const nlohmann::json &t :
       manifest["weights"].value("tensors", nlohmann::json::array())) {
    int64_t count = 1;
    for (int64_t d : t.at("shape").get<std::vector<int64_t>>())
      count *= d;
    uint64_t offset = t.at("offset").get<uint64_t>();
    std::string dtype = t.value("dtype", "");
    // Weights, and the constants a GPU artifact keeps beside them.
    uint64_t bytes = dtype == "f64" || dtype == "i64"                      ? 8
                     : dtype == "f32" || dtype == "i32"                    ? 4
                     : dtype == "bf16" || dtype == "f16" || dtype == "i16" ? 2
                     : dtype == "i8" || dtype == "bool"                    ? 1
                                                                           : 0;
    if (!bytes || count < 0 ||
        offset + uint64_t(count) * bytes > m.files.weightBytes)
      throw Failure(manifestPath + ": bad weight table entry '" +
                    t.value("name", "") + "'");
    m.weightTable[t.at("name").get<std::string>()] = {offset, count, dtype};
  }
  if (manifest.contains("initial_state")) {
    const nlohmann::json &wkv =
        manifest["initial_state"].value("wkv", nlohmann::json::array());
    if (!wkv.is_array() || int64_t(wkv.size()) != m.layers)
      throw Failure(manifestPath + ": initial_state.wkv must name one weight "
                                   "per layer");
    for (const nlohmann::json &name : wkv) {
      auto it = name.is_string() ? m.weightTable.find(name.get<std::string>())
                                 : m.weightTable.end();
      if (it == m.weightTable.end() || it->second.dtype != "f32" ||
          it->second.count != m.heads * m.headSize * m.headSize)
        throw Failure(manifestPath + ": initial_state.wkv entry " +
                      name.dump() + " is not an f32 [heads, " +
                      std::to_string(m.headSize) + ", " +
                      std::to_string(m.headSize) + "] weight");
      const float *state = reinterpret_cast<const float *>(
          static_cast<const char *>(m.files.weights) + it->second.offset);
      m.initialWkv.insert(m.initialWkv.end(), state, state + it->second.count);
    }
  }
  if (m.cuda) {
    m.deviceWeights = modrwkv::runtime::cuda::allocate(m.files.weightBytes);
    modrwkv::runtime::cuda::upload(m.deviceWeights, m.files.weights,
                                   m.files.weightBytes);
  }
}

/// Checks that tokens[0, n) are in the vocabulary (the modality
/// placeholder aside).
void checkTokens(const modrwkv_model &m, const int32_t *tokens, int64_t n,
                 const char *what) {
  for (int64_t i = 0; i < n; ++i)
    if ((tokens[i] < 0 || tokens[i] >= m.vocab) &&
        !(m.placeholder >= 0 && tokens[i] == m.placeholder))
      throw Failure("token " + std::to_string(tokens[i]) + " at " + what + " " +
                    std::to_string(i) + " is outside the vocabulary [0, " +
                    std::to_string(m.vocab) + ")");
}

void run(const modrwkv_model &m, modrwkv_state &s, const int32_t *tokens,
         int64_t n, const float *features, int64_t rows, float *logits) {
  if (s.model != &m)
    throw Failure("state belongs to another model");
  if (n < 1 || !tokens)
    throw Failure("need at least one token");
  if (rows < 0 || (rows > 0 && !features))
    throw Failure("bad modality rows");
  checkTokens(m, tokens, n, "position");
  int64_t placeholders =
      m.placeholder < 0 ? 0 : std::count(tokens, tokens + n, m.placeholder);
  if (placeholders != rows)
    throw Failure("placeholder count mismatch: the tokens hold " +
                  std::to_string(placeholders) + " placeholder" +
                  (placeholders == 1 ? "" : "s") + " (id " +
                  std::to_string(m.placeholder) + "), " + std::to_string(rows) +
                  " modality row" + (rows == 1 ? " was" : "s were") + " given");
  namespace cuda = modrwkv::runtime::cuda;
  int64_t L = m.layers, C = m.width, H = m.heads, N = m.headSize;
  // On the GPU, each chunk's tokens go up and its logits come back; the
  // state stays there. A caller that wants no logits gets the last row
  // only, the one the state keeps: the model then runs its head once.
  float *att = m.cuda ? s.values.onDevice() : s.values.host.data(),
        *ffn = att + L * C, *wkv = ffn + L * C;
  auto weights = describe<1>(m.cuda ? m.deviceWeights : m.files.weights,
                             {int64_t(m.files.weightBytes)});
  auto attRef = describe<2>(att, {L, C});
  auto ffnRef = describe<2>(ffn, {L, C});
  auto wkvRef = describe<4>(wkv, {L, H, N, N});
  size_t rowBytes = m.vocab * sizeof(float);
  for (int64_t start = 0; start < n; start += kPrefillChunk) {
    int64_t count = std::min(kPrefillChunk, n - start);
    int64_t outRows = logits ? count : 1;
    const int32_t *in = tokens + start;
    float *out = logits ? logits + start * m.vocab : s.logits.data();
    if (m.cuda) {
      void *deviceIn = s.deviceTokens.reserve(count * sizeof(int32_t));
      cuda::upload(deviceIn, in, count * sizeof(int32_t));
      in = static_cast<const int32_t *>(deviceIn);
      out = static_cast<float *>(s.deviceLogits.reserve(outRows * rowBytes));
      s.values.deviceChanged();
    }
    auto tokenRef = describe<1>(const_cast<int32_t *>(in), {count});
    auto logitsRef = describe<2>(out, {outRows, m.vocab});
    if (m.forwardMm) {
      int64_t used =
          std::count(tokens + start, tokens + start + count, m.placeholder);
      const float *rows = features;
      features += used * C;
      if (m.cuda && used > 0) {
        size_t bytes = used * C * sizeof(float);
        void *deviceRows = s.deviceFeatures.reserve(bytes);
        cuda::upload(deviceRows, rows, bytes);
        rows = static_cast<const float *>(deviceRows);
      }
      // A token of text: no rows, the decode graph.
      auto featureRef =
          describe<2>(used ? const_cast<float *>(rows) : nullptr, {used, C});
      auto call = [&] {
        m.forwardMm(&weights, &tokenRef, &featureRef, &attRef, &ffnRef, &wkvRef,
                    &logitsRef);
      };
      if (m.cuda && count == 1 && used == 0)
        s.decodeOnGpu(call);
      else
        call();
    } else if (m.cuda && count == 1) {
      s.decodeOnGpu([&] {
        m.forward(&weights, &tokenRef, &attRef, &ffnRef, &wkvRef, &logitsRef);
      });
    } else {
      m.forward(&weights, &tokenRef, &attRef, &ffnRef, &wkvRef, &logitsRef);
    }
    float *last = out + (outRows - 1) * m.vocab;
    if (!m.cuda) {
      if (logits && start + count == n)
        std::memcpy(s.logits.data(), last, rowBytes);
      continue;
    }
    cuda::checkErrors("running the model on the GPU");
    if (logits)
      cuda::download(logits + start * m.vocab, out, count * rowBytes);
    if (start + count == n)
      cuda::download(s.logits.data(), last, rowBytes);
  }
  s.hasLogits = true;
}

struct StateHeader {
  char magic[8];
  int64_t layers, width, heads, headSize, vocab, hasLogits;
};

StateHeader headerOf(const modrwkv_model &m) {
  StateHeader h{};
  std::memcpy(h.magic, kStateMagic, 8);
  h.layers = m.layers;
  h.width = m.width;
  h.heads = m.heads;
  h.headSize = m.headSize;
  h.vocab = m.vocab;
  return h;
}

} // namespace

void modrwkv::runtime::setLastError(const std::string &message) {
  lastError = message;
}

API const char *modrwkv_last_error(void) { return lastError.c_str(); }

API modrwkv_model *modrwkv_model_load(const char *dir) {
  auto *m = new modrwkv_model;
  if (guarded([&] { loadModel(*m, dir ? dir : ""); }) != 0) {
    delete m;
    return nullptr;
  }
  return m;
}

API void modrwkv_model_free(modrwkv_model *model) { delete model; }

API int64_t modrwkv_model_vocab_size(const modrwkv_model *model) {
  return model ? model->vocab : 0;
}

API int modrwkv_model_set_threads(modrwkv_model *model, int n) {
  return guarded([&] {
    if (!model || n < 1)
      throw Failure("modrwkv_model_set_threads: bad arguments");
    // libomp comes with model.so when it was compiled with --parallel.
    auto setThreads = reinterpret_cast<void (*)(int)>(
        dlsym(model->files.library, "omp_set_num_threads"));
    if (setThreads)
      setThreads(n);
    else if (n > 1)
      throw Failure(model->files.dir + ": compiled without --parallel, it "
                                       "runs on one thread");
  });
}

API int modrwkv_model_set_weight(modrwkv_model *model, const char *name,
                                 const float *data, int64_t count) {
  return guarded([&] {
    if (!model || !name || !data)
      throw Failure("modrwkv_model_set_weight: bad arguments");
    auto it = model->weightTable.find(name);
    if (it == model->weightTable.end())
      throw Failure(model->files.dir + ": the artifact has no weight '" +
                    std::string(name) + "'");
    if (it->second.dtype != "f32")
      throw Failure(std::string("weight '") + name + "' is stored as " +
                    it->second.dtype + "; only f32 weights can be set");
    if (it->second.count != count)
      throw Failure(std::string("weight '") + name + "' has " +
                    std::to_string(it->second.count) + " elements, not " +
                    std::to_string(count));
    std::memcpy(static_cast<char *>(model->files.weights) + it->second.offset,
                data, count * sizeof(float));
    if (model->cuda)
      modrwkv::runtime::cuda::upload(static_cast<char *>(model->deviceWeights) +
                                         it->second.offset,
                                     data, count * sizeof(float));
  });
}

API int modrwkv_model_set_initial_state(modrwkv_model *model, const float *wkv,
                                        int64_t count) {
  return guarded([&] {
    if (!model || (count > 0 && !wkv))
      throw Failure("modrwkv_model_set_initial_state: bad arguments");
    int64_t want =
        model->layers * model->heads * model->headSize * model->headSize;
    if (count != want && count != 0)
      throw Failure(
          "an initial state of " + std::to_string(count) +
          " floats; the model's WKV state holds " +
          std::to_string(model->layers) + " x " + std::to_string(model->heads) +
          " x " + std::to_string(model->headSize) + " x " +
          std::to_string(model->headSize) + " = " + std::to_string(want));
    model->initialWkv.assign(wkv, wkv + count);
  });
}

API modrwkv_state *modrwkv_state_create(const modrwkv_model *model) {
  if (!model) {
    lastError = "modrwkv_state_create: no model";
    return nullptr;
  }
  auto *s = new modrwkv_state;
  s->model = model;
  s->values.host = model->freshState();
  s->logits.assign(model->vocab, 0.0f);
  return s;
}

API void modrwkv_state_free(modrwkv_state *state) { delete state; }

API int modrwkv_state_copy(modrwkv_state *dst, const modrwkv_state *src) {
  return guarded([&] {
    if (!dst || !src || dst->model != src->model)
      throw Failure("modrwkv_state_copy: states of different models");
    if (dst == src)
      return;
    dst->values.host = src->values.read();
    dst->values.hostChanged();
    dst->logits = src->logits;
    dst->hasLogits = src->hasLogits;
  });
}

API int modrwkv_prefill(const modrwkv_model *model, modrwkv_state *state,
                        const int32_t *tokens, int64_t n, float *logits) {
  return guarded([&] {
    if (!model || !state)
      throw Failure("modrwkv_prefill: no model or state");
    run(*model, *state, tokens, n, nullptr, 0, logits);
  });
}

API int modrwkv_prefill_features(const modrwkv_model *model,
                                 modrwkv_state *state, const int32_t *tokens,
                                 int64_t n, const float *features, int64_t rows,
                                 float *logits) {
  return guarded([&] {
    if (!model || !state)
      throw Failure("modrwkv_prefill_features: no model or state");
    if (model->placeholder < 0)
      throw Failure(model->files.dir +
                    ": not a multimodal artifact (compiled without "
                    "--encoder)");
    run(*model, *state, tokens, n, features, rows, logits);
  });
}

API int32_t modrwkv_model_placeholder(const modrwkv_model *model) {
  return model ? model->placeholder : -1;
}

API int64_t modrwkv_model_width(const modrwkv_model *model) {
  return model ? model->width : 0;
}

API int modrwkv_decode(const modrwkv_model *model, modrwkv_state *state,
                       int32_t token, float *logits) {
  return modrwkv_prefill(model, state, &token, 1, logits);
}

API const float *modrwkv_state_logits(const modrwkv_state *state) {
  return state && state->hasLogits ? state->logits.data() : nullptr;
}

API int modrwkv_state_save(const modrwkv_state *state, const char *path) {
  return guarded([&] {
    if (!state || !path)
      throw Failure("modrwkv_state_save: no state or path");
    std::ofstream out(path, std::ios::binary);
    StateHeader h = headerOf(*state->model);
    h.hasLogits = state->hasLogits;
    out.write(reinterpret_cast<const char *>(&h), sizeof h);
    const std::vector<float> &values = state->values.read();
    out.write(reinterpret_cast<const char *>(values.data()),
              values.size() * sizeof(float));
    out.write(reinterpret_cast<const char *>(state->logits.data()),
              state->logits.size() * sizeof(float));
    if (!out)
      throw Failure(std::string(path) + ": cannot write state");
  });
}

API int modrwkv_state_load(modrwkv_state *state, const char *path) {
  return guarded([&] {
    if (!state || !path)
      throw Failure("modrwkv_state_load: no state or path");
    std::ifstream in(path, std::ios::binary);
    if (!in)
      throw Failure(std::string(path) + ": cannot open state file");
    StateHeader h{}, want = headerOf(*state->model);
    in.read(reinterpret_cast<char *>(&h), sizeof h);
    if (!in || std::memcmp(h.magic, kStateMagic, 8) != 0)
      throw Failure(std::string(path) + ": not a modrwkv state file");
    if (h.layers != want.layers || h.width != want.width ||
        h.heads != want.heads || h.headSize != want.headSize ||
        h.vocab != want.vocab)
      throw Failure(std::string(path) +
                    ": state of another model configuration");
    std::vector<float> values(state->values.host.size()),
        logits(state->logits.size());
    in.read(reinterpret_cast<char *>(values.data()),
            values.size() * sizeof(float));
    in.read(reinterpret_cast<char *>(logits.data()),
            logits.size() * sizeof(float));
    if (!in || in.peek() != EOF)
      throw Failure(std::string(path) + ": state file has the wrong size");
    state->values.host = std::move(values);
    state->values.hostChanged();
    state->logits = std::move(logits);
    state->hasLogits = h.hasLogits != 0;
  });
}

API modrwkv_batch *modrwkv_batch_create(const modrwkv_model *model,
                                        int64_t slots) {
  modrwkv_batch *batch = nullptr;
  guarded([&] {
    if (!model || slots < 1)
      throw Failure("modrwkv_batch_create: no model, or fewer than one slot");
    if (!model->decodeBatch)
      throw Failure(model->files.dir +
                    ": the artifact has no batched decode entry (compiled "
                    "with --batch-decode=0)");
    auto b = std::make_unique<modrwkv_batch>();
    b->model = model;
    b->slots = slots;
    b->values.host.assign(model->stateFloats() * slots, 0.0f);
    std::vector<float> fresh = model->freshState();
    for (int64_t slot = 0; slot < slots; ++slot)
      b->forEachRow(slot, [&](int64_t s, int64_t at, int64_t n) {
        b->values.write(at, fresh.data() + s, n);
      });
    b->logits.assign(model->vocab * slots, 0.0f);
    b->slotHasLogits.assign(slots, 0);
    batch = b.release();
  });
  return batch;
}

API void modrwkv_batch_free(modrwkv_batch *batch) { delete batch; }

API int64_t modrwkv_batch_slots(const modrwkv_batch *batch) {
  return batch ? batch->slots : 0;
}

namespace {
/// put/get arguments: a batch, a slot of it, a state of its model.
void checkSlot(const modrwkv_batch *batch, int64_t slot,
               const modrwkv_state *state, const std::string &fn) {
  if (!batch || !state || state->model != batch->model)
    throw Failure(fn + ": a batch and a state of its model");
  if (slot < 0 || slot >= batch->slots)
    throw Failure(fn + ": slot " + std::to_string(slot) + " is outside [0, " +
                  std::to_string(batch->slots) + ")");
}
} // namespace

API int modrwkv_batch_put(modrwkv_batch *batch, int64_t slot,
                          const modrwkv_state *state) {
  return guarded([&] {
    checkSlot(batch, slot, state, "modrwkv_batch_put");
    const float *from = state->values.read().data();
    batch->forEachRow(slot, [&](int64_t s, int64_t b, int64_t n) {
      batch->values.write(b, from + s, n);
    });
    int64_t V = batch->model->vocab;
    std::memcpy(batch->logits.data() + slot * V, state->logits.data(),
                V * sizeof(float));
    batch->slotHasLogits[slot] = state->hasLogits;
  });
}

API int modrwkv_batch_get(const modrwkv_batch *batch, int64_t slot,
                          modrwkv_state *state) {
  return guarded([&] {
    checkSlot(batch, slot, state, "modrwkv_batch_get");
    // Every value of the state is one of the slot's rows.
    batch->forEachRow(slot, [&](int64_t s, int64_t b, int64_t n) {
      batch->values.readRange(b, state->values.host.data() + s, n);
    });
    state->values.hostChanged();
    int64_t V = batch->model->vocab;
    std::memcpy(state->logits.data(), batch->logits.data() + slot * V,
                V * sizeof(float));
    state->hasLogits = batch->slotHasLogits[slot];
  });
}

API int modrwkv_decode_batch(const modrwkv_model *model, modrwkv_batch *batch,
                             const int32_t *tokens) {
  return guarded([&] {
    if (!model || !batch || batch->model != model || !tokens)
      throw Failure("modrwkv_decode_batch: a model, a batch of it and tokens");
    checkTokens(*model, tokens, batch->slots, "slot");
    if (model->placeholder >= 0 &&
        std::count(tokens, tokens + batch->slots, model->placeholder))
      throw Failure("modrwkv_decode_batch: the placeholder token " +
                    std::to_string(model->placeholder) +
                    " takes a modality row, which a batched decode has "
                    "none of (prefill media with modrwkv_prefill_features)");
    namespace cuda = modrwkv::runtime::cuda;
    int64_t L = model->layers, B = batch->slots, C = model->width,
            H = model->heads, N = model->headSize, V = model->vocab;
    // On the GPU the slots' states stay there; tokens go up, logits come
    // back.
    bool gpu = model->cuda;
    float *att = gpu ? batch->values.onDevice() : batch->values.host.data(),
          *ffn = att + L * B * C, *wkv = ffn + L * B * C;
    const int32_t *in = tokens;
    float *out = batch->logits.data();
    if (gpu) {
      void *deviceIn = batch->deviceTokens.reserve(B * sizeof(int32_t));
      cuda::upload(deviceIn, tokens, B * sizeof(int32_t));
      in = static_cast<const int32_t *>(deviceIn);
      out = static_cast<float *>(
          batch->deviceLogits.reserve(B * V * sizeof(float)));
    }
    auto weights =
        describe<1>(gpu ? model->deviceWeights : model->files.weights,
                    {int64_t(model->files.weightBytes)});
    auto tokenRef = describe<1>(const_cast<int32_t *>(in), {B});
    auto attRef = describe<3>(att, {L, B, C});
    auto ffnRef = describe<3>(ffn, {L, B, C});
    auto wkvRef = describe<5>(wkv, {L, B, H, N, N});
    auto logitsRef = describe<2>(out, {B, V});
    model->decodeBatch(&weights, &tokenRef, &attRef, &ffnRef, &wkvRef,
                       &logitsRef);
    if (gpu) {
      batch->values.deviceChanged();
      cuda::checkErrors("running the batched decode on the GPU");
      cuda::download(batch->logits.data(), out, B * V * sizeof(float));
    }
    batch->hasLogits = true;
    batch->slotHasLogits.assign(B, 1);
  });
}

API const float *modrwkv_batch_logits(const modrwkv_batch *batch) {
  return batch && batch->hasLogits ? batch->logits.data() : nullptr;
}
