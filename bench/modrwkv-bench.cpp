//===- modrwkv-bench.cpp - decode and prefill speed of an artifact --------===//
//
//   modrwkv-bench ARTIFACT_DIR [--decode N] [--prefill T] [--runs R]
//                 [--threads N] [--batch B1,B2,...]
//
// In one process: load, one warm-up of each, then R timed runs of decoding
// N tokens one by one (batch 1) and of prefilling T tokens; with --batch,
// also of N batched decode steps of B sequences each (modrwkv_decode_batch;
// B x N tokens). Prints one JSON object with the medians (tokens per second,
// all sequences together) and the peak RSS.
//
//===----------------------------------------------------------------------===//

#include "modrwkv/runtime.h"

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

template <typename Fn> double seconds(Fn body) {
  auto start = std::chrono::steady_clock::now();
  body();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
      .count();
}

} // namespace

int main(int argc, char **argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: modrwkv-bench ARTIFACT_DIR [--decode N] "
                         "[--prefill T] [--runs R] [--threads N]\n");
    return 1;
  }
  int64_t decode = 32, prefill = 512, runs = 5, threads = 0;
  std::vector<int64_t> batches;
  for (int i = 2; i + 1 < argc; i += 2) {
    std::string arg = argv[i];
    if (arg == "--batch") {
      for (const char *p = argv[i + 1]; *p;) {
        char *end;
        long long b = std::strtoll(p, &end, 10);
        if (end == p || b <= 0 || (*end && *end != ',')) {
          std::fprintf(stderr, "modrwkv-bench: bad --batch list '%s'\n",
                       argv[i + 1]);
          return 1;
        }
        batches.push_back(b);
        p = *end ? end + 1 : end;
      }
      continue;
    }
    int64_t v = std::atoll(argv[i + 1]);
    if (v <= 0) {
      std::fprintf(stderr, "modrwkv-bench: bad value for %s\n", arg.c_str());
      return 1;
    }
    if (arg == "--decode")
      decode = v;
    else if (arg == "--prefill")
      prefill = v;
    else if (arg == "--runs")
      runs = v;
    else if (arg == "--threads")
      threads = v;
  }
  modrwkv_model *model = modrwkv_model_load(argv[1]);
  if (!model) {
    std::fprintf(stderr, "modrwkv-bench: %s\n", modrwkv_last_error());
    return 1;
  }
  if (threads > 0 && modrwkv_model_set_threads(model, int(threads)) != 0) {
    std::fprintf(stderr, "modrwkv-bench: %s\n", modrwkv_last_error());
    return 1;
  }
  int64_t vocab = modrwkv_model_vocab_size(model);
  std::vector<int32_t> tokens(std::max(decode, prefill));
  for (size_t i = 0; i < tokens.size(); ++i)
    tokens[i] = int32_t((i * 7919 + 13) % vocab);
  modrwkv_state *state = modrwkv_state_create(model);
  bool ok = true;
  auto decodeRun = [&] {
    for (int64_t i = 0; i < decode && ok; ++i)
      ok = modrwkv_decode(model, state, tokens[i], nullptr) == 0;
  };
  auto prefillRun = [&] {
    ok = ok &&
         modrwkv_prefill(model, state, tokens.data(), prefill, nullptr) == 0;
  };
  decodeRun(); // warm-up: page in the weights
  prefillRun();
  std::vector<double> decodeTimes, prefillTimes;
  for (int64_t r = 0; r < runs && ok; ++r) {
    decodeTimes.push_back(seconds(decodeRun));
    prefillTimes.push_back(seconds(prefillRun));
  }
  std::string batchJson;
  for (int64_t b : batches) {
    modrwkv_batch *batch = ok ? modrwkv_batch_create(model, b) : nullptr;
    ok = batch != nullptr;
    std::vector<int32_t> step(b);
    auto batchRun = [&] {
      for (int64_t i = 0; i < decode && ok; ++i) {
        for (int64_t s = 0; s < b; ++s)
          step[s] = tokens[(i + s) % tokens.size()];
        ok = modrwkv_decode_batch(model, batch, step.data()) == 0;
      }
    };
    batchRun(); // warm-up
    std::vector<double> times;
    for (int64_t r = 0; r < runs && ok; ++r)
      times.push_back(seconds(batchRun));
    if (ok)
      batchJson += (batchJson.empty() ? "" : ", ") +
                   ("\"" + std::to_string(b) +
                    "\": " + std::to_string(b * decode / median(times)));
    modrwkv_batch_free(batch);
  }
  if (!ok) {
    std::fprintf(stderr, "modrwkv-bench: %s\n", modrwkv_last_error());
    return 1;
  }
  struct rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  std::printf(
      "{\"decode_tokens_per_s\": %.3f, \"prefill_tokens_per_s\": %.3f, "
      "\"decode_tokens\": %lld, \"prefill_tokens\": %lld, \"runs\": %lld, "
      "\"batch_decode_tokens_per_s\": {%s}, \"peak_rss_mb\": %.1f}\n",
      decode / median(decodeTimes), prefill / median(prefillTimes),
      (long long)decode, (long long)prefill, (long long)runs, batchJson.c_str(),
      usage.ru_maxrss / 1024.0);
  modrwkv_state_free(state);
  modrwkv_model_free(model);
  return 0;
}
