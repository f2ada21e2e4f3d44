//===- Sampler.cpp - the RWKV pipeline's sampling -------------------------===//

#include "modrwkv/text.h"

#include "Errors.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <unordered_map>
#include <vector>

struct modrwkv_sampler {
  modrwkv_sampler_params params;
  int64_t vocab;
  std::unordered_map<int32_t, float> occurrence;
  uint64_t rng[4]; ///< xoshiro256** state: the same draws on every platform
  std::vector<float> logits, probs;
  std::vector<int32_t> order;

  /// Uniform double in [0, 1).
  double uniform() {
    auto rotl = [](uint64_t x, int k) { return (x << k) | (x >> (64 - k)); };
    uint64_t result = rotl(rng[1] * 5, 7) * 9, t = rng[1] << 17;
    rng[2] ^= rng[0];
    rng[3] ^= rng[1];
    rng[1] ^= rng[2];
    rng[0] ^= rng[3];
    rng[2] ^= t;
    rng[3] = rotl(rng[3], 45);
    return double(result >> 11) * 0x1.0p-53;
  }

  void seed(uint64_t seed) {
    for (uint64_t &word : rng) { // splitmix64
      seed += 0x9e3779b97f4a7c15ull;
      uint64_t z = seed;
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
      word = z ^ (z >> 31);
    }
  }

  int32_t sample(const float *input);
};

int32_t modrwkv_sampler::sample(const float *input) {
  logits.assign(input, input + vocab);
  for (auto &[id, count] : occurrence) {
    float &l = logits[id];
    if (params.repetition_penalty != 1.0f)
      l = l > 0 ? l / params.repetition_penalty : l * params.repetition_penalty;
    l -= params.presence_penalty + count * params.frequency_penalty;
  }
  if (params.temperature <= 0.0f)
    return int32_t(std::max_element(logits.begin(), logits.end()) -
                   logits.begin());

  // Softmax in double for a stable top-p cumulative sum.
  float maxLogit = *std::max_element(logits.begin(), logits.end());
  probs.resize(vocab);
  double total = 0;
  for (int64_t i = 0; i < vocab; ++i)
    total += probs[i] = std::exp(double(logits[i]) - maxLogit);
  for (float &p : probs)
    p = float(p / total);

  order.resize(vocab);
  std::iota(order.begin(), order.end(), 0);
  // A total order (ties by id), so the draw is the same everywhere.
  std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) {
    return probs[a] != probs[b] ? probs[a] > probs[b] : a < b;
  });
  if (params.top_p < 1.0f) {
    // Keep the smallest prefix whose mass reaches top_p (and ties with its
    // last probability).
    double cumulative = 0;
    float cutoff = probs[order[0]];
    for (int32_t id : order) {
      cumulative += probs[id];
      cutoff = probs[id];
      if (cumulative >= params.top_p)
        break;
    }
    for (float &p : probs)
      if (p < cutoff)
        p = 0;
  }
  if (params.top_k > 0)
    for (int64_t r = params.top_k; r < vocab; ++r)
      probs[order[r]] = 0;
  double kept = 0;
  for (float &p : probs) {
    if (params.temperature != 1.0f && p > 0)
      p = float(std::pow(double(p), 1.0 / params.temperature));
    kept += p;
  }
  double target = uniform() * kept, running = 0;
  for (int32_t id : order) {
    running += probs[id];
    if (running > target && probs[id] > 0)
      return id;
  }
  return order[0];
}

MODRWKV_API modrwkv_sampler_params modrwkv_sampler_defaults(void) {
  return {1.0f, 0.85f, 0, 0.2f, 0.2f, 0.996f, 1.0f, 0};
}

MODRWKV_API modrwkv_sampler *
modrwkv_sampler_create(const modrwkv_sampler_params *params, int64_t vocab) {
  if (!params || vocab <= 0 || params->top_p <= 0 || params->top_p > 1 ||
      params->top_k < 0 || params->temperature < 0 ||
      !std::isfinite(params->temperature) ||
      !(params->repetition_penalty >= 1.0f)) {
    modrwkv::runtime::setLastError(
        "modrwkv_sampler_create: need 0 < top_p <= 1, top_k >= 0, "
        "temperature >= 0, repetition_penalty >= 1 and a vocabulary");
    return nullptr;
  }
  auto *s = new modrwkv_sampler{*params, vocab, {}, {}, {}, {}, {}};
  s->seed(params->seed);
  return s;
}

MODRWKV_API void modrwkv_sampler_free(modrwkv_sampler *sampler) {
  delete sampler;
}

MODRWKV_API int32_t modrwkv_sample(modrwkv_sampler *sampler,
                                   const float *logits) {
  return sampler->sample(logits);
}

MODRWKV_API void modrwkv_sampler_accept(modrwkv_sampler *sampler, int32_t id,
                                        float weight) {
  for (auto &entry : sampler->occurrence)
    entry.second *= sampler->params.penalty_decay;
  sampler->occurrence[id] += weight;
}
