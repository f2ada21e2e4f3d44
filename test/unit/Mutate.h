//===- Mutate.h - the fuzz tests' byte mutator ------------------*- C++ -*-===//

#ifndef MODRWKV_TEST_UNIT_MUTATE_H
#define MODRWKV_TEST_UNIT_MUTATE_H

#include <random>
#include <string>

namespace {

/// One random edit: byte flips, byte sets, truncation, duplication,
/// deletion; biased to the metadata (headers, pickle, central directory).
inline std::string mutate(const std::string &seed, std::mt19937_64 &rng) {
  std::string s = seed;
  int edits = 1 + rng() % 4;
  for (int e = 0; e < edits && !s.empty(); ++e) {
    size_t pos = rng() % s.size();
    // Half the edits land in the first or last 4 KiB (headers, directory).
    if (rng() % 2) {
      size_t window = std::min<size_t>(4096, s.size());
      pos = rng() % 2 ? rng() % window : s.size() - 1 - rng() % window;
    }
    switch (rng() % 6) {
    case 0:
      s[pos] ^= char(1u << (rng() % 8));
      break;
    case 1:
      s[pos] = char(rng());
      break;
    case 2:
      s.resize(pos);
      break;
    case 3:
      s.insert(pos, s.substr(pos, rng() % 64));
      break;
    case 4:
      s.erase(pos, rng() % 64);
      break;
    case 5: // boundary values: all-ones or all-zeros (sizes, offsets)
      s.replace(pos, std::min<size_t>(4, s.size() - pos),
                std::string(4, rng() % 2 ? '\xff' : '\0'));
      break;
    }
  }
  return s;
}

} // namespace

#endif // MODRWKV_TEST_UNIT_MUTATE_H
