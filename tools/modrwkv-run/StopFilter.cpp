//===- StopFilter.cpp - stop strings and penalty weights of a reply -------===//

#include "Generate.h"

StopFilter::StopFilter(const std::vector<std::string> &stops, Sink sink)
    : stops(stops), sink(std::move(sink)) {}

bool StopFilter::add(const char *text, size_t n) {
  pending.append(text, n);
  for (const std::string &stop : stops) {
    size_t at = pending.find(stop);
    if (!stop.empty() && at != std::string::npos) {
      sink(pending.substr(0, at));
      pending.clear();
      return true;
    }
  }
  size_t hold = 0;
  for (const std::string &stop : stops)
    for (size_t k = std::min(stop.size() - 1, pending.size()); k > hold; --k)
      if (pending.compare(pending.size() - k, k, stop, 0, k) == 0) {
        hold = k;
        break;
      }
  sink(pending.substr(0, pending.size() - hold));
  pending.erase(0, pending.size() - hold);
  return false;
}

void StopFilter::finish() {
  sink(pending);
  pending.clear();
}

float penaltyWeight(const modrwkv_tokenizer *tokenizer, int32_t id) {
  const char *bytes;
  int64_t n = modrwkv_token_bytes(tokenizer, id, &bytes);
  return n > 0 && std::string(" \t0123456789").find(std::string(bytes, n)) !=
                      std::string::npos
             ? 0.0f
             : 1.0f;
}
