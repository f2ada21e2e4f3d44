//===- modrwkv-tokenize.cpp - RWKV World tokenizer on stdin/stdout --------===//
//
//   modrwkv-tokenize [--vocab FILE] [--decode] [--stats]
//
// Encodes standard input (raw bytes) and prints the ids comma-separated on
// one line; with --decode reads ids (separated by commas or whitespace) and
// writes their bytes. --stats reports the encoding speed on stderr.
//
//===----------------------------------------------------------------------===//

#include "modrwkv/runtime.h"
#include "modrwkv/text.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <iterator>
#include <string>
#include <vector>

namespace {
int fail(const std::string &message) {
  std::fprintf(stderr, "modrwkv-tokenize: error: %s\n", message.c_str());
  return 1;
}
} // namespace

int main(int argc, char **argv) {
  std::string vocab;
  if (const char *env = std::getenv("MODRWKV_VOCAB"))
    vocab = env;
  else
    vocab = MODRWKV_DEFAULT_VOCAB;
  bool decode = false, stats = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--decode")
      decode = true;
    else if (arg == "--stats")
      stats = true;
    else if (arg == "--vocab" && i + 1 < argc)
      vocab = argv[++i];
    else if (arg == "-h" || arg == "--help") {
      std::printf("usage: modrwkv-tokenize [--vocab FILE] [--decode] [--stats] "
                  "< input\n");
      return 0;
    } else
      return fail("unknown argument " + arg);
  }
  modrwkv_tokenizer *tokenizer = modrwkv_tokenizer_load(vocab.c_str());
  if (!tokenizer)
    return fail(modrwkv_last_error());
  std::string input((std::istreambuf_iterator<char>(std::cin)),
                    std::istreambuf_iterator<char>());
  int status = 0;
  if (decode) {
    std::string out;
    size_t pos = 0;
    while (status == 0) {
      pos = input.find_first_not_of(", \t\r\n", pos);
      if (pos == std::string::npos)
        break;
      size_t end = input.find_first_of(", \t\r\n", pos);
      std::string item = input.substr(pos, end - pos);
      pos = end;
      char *stop = nullptr;
      long long id = std::strtoll(item.c_str(), &stop, 10);
      const char *bytes;
      int64_t n = *stop == '\0' && id >= 0 && id <= INT32_MAX
                      ? modrwkv_token_bytes(tokenizer, int32_t(id), &bytes)
                      : -1;
      if (n < 0)
        status = fail("bad token id '" + item + "'");
      else
        out.append(bytes, n);
    }
    if (status == 0)
      std::fwrite(out.data(), 1, out.size(), stdout);
  } else {
    std::vector<int32_t> ids(input.size());
    auto start = std::chrono::steady_clock::now();
    int64_t count = modrwkv_tokenize(tokenizer, input.data(),
                                     int64_t(input.size()), ids.data());
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count();
    std::string line;
    for (int64_t i = 0; i < count; ++i)
      line += (i ? "," : "") + std::to_string(ids[i]);
    std::printf("%s\n", line.c_str());
    if (stats)
      std::fprintf(stderr,
                   "encoded %zu bytes into %lld tokens in %.4f s: %.1f MB/s\n",
                   input.size(), (long long)count, seconds,
                   input.size() / 1e6 / std::max(seconds, 1e-9));
  }
  modrwkv_tokenizer_free(tokenizer);
  return status;
}
