//===- modrwkv-run.cpp - run a compiled artifact --------------------------===//
//
//   modrwkv-run ARTIFACT_DIR --tokens 12,7,300 [--logits-out FILE.npy]
//               [--step] [--state-in FILE] [--state-out FILE]
//
// Feeds the tokens (one prefill call, or one decode call per token with
// --step) and writes the logits of every position as a float32 .npy of
// shape [T, vocab]. --state-in starts from a saved state, --state-out saves
// the state after the last token.
//
//===----------------------------------------------------------------------===//

#include "modrwkv/runtime.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

namespace {

int fail(const std::string &message) {
  std::fprintf(stderr, "modrwkv-run: error: %s\n", message.c_str());
  return 1;
}

bool parseTokens(const std::string &text, std::vector<int32_t> &tokens,
                 std::string &error) {
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t comma = text.find(',', pos);
    std::string item = text.substr(
        pos, comma == std::string::npos ? std::string::npos : comma - pos);
    char *end = nullptr;
    errno = 0;
    long long v = std::strtoll(item.c_str(), &end, 10);
    if (item.empty() || *end != '\0' || errno != 0 || v < 0 || v > INT32_MAX) {
      error = "bad token '" + item + "' in --tokens";
      return false;
    }
    tokens.push_back(int32_t(v));
    if (comma == std::string::npos)
      break;
    pos = comma + 1;
  }
  return true;
}

bool writeNpy(const std::string &path, const std::vector<float> &data,
              int64_t rows, int64_t cols) {
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" +
                       std::to_string(rows) + ", " + std::to_string(cols) +
                       "), }";
  // magic(6) + version(2) + length(2) + header, padded to 64 with '\n' last.
  size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  std::ofstream out(path, std::ios::binary);
  uint16_t len = uint16_t(header.size());
  out.write("\x93NUMPY\x01\x00", 8);
  out.write(reinterpret_cast<const char *>(&len), 2);
  out << header;
  out.write(reinterpret_cast<const char *>(data.data()),
            data.size() * sizeof(float));
  return bool(out);
}

} // namespace

int main(int argc, char **argv) {
  std::string artifact, tokenText, logitsOut, stateIn, stateOut;
  bool step = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&](std::string &into) {
      if (i + 1 >= argc)
        return false;
      into = argv[++i];
      return true;
    };
    if (arg == "--step")
      step = true;
    else if (arg == "--tokens" || arg == "--logits-out" ||
             arg == "--state-in" || arg == "--state-out") {
      std::string &into = arg == "--tokens"       ? tokenText
                          : arg == "--logits-out" ? logitsOut
                          : arg == "--state-in"   ? stateIn
                                                  : stateOut;
      if (!value(into))
        return fail(arg + " needs a value");
    } else if (arg == "-h" || arg == "--help") {
      std::printf("usage: modrwkv-run ARTIFACT_DIR --tokens 1,2,3 "
                  "[--logits-out FILE.npy] [--step] [--state-in FILE] "
                  "[--state-out FILE]\n");
      return 0;
    } else if (!arg.empty() && arg[0] == '-')
      return fail("unknown option " + arg);
    else if (artifact.empty())
      artifact = arg;
    else
      return fail("unexpected argument " + arg);
  }
  if (artifact.empty())
    return fail("no artifact directory given");
  if (tokenText.empty())
    return fail("--tokens is required");
  std::vector<int32_t> tokens;
  std::string error;
  if (!parseTokens(tokenText, tokens, error))
    return fail(error);

  modrwkv_model *model = modrwkv_model_load(artifact.c_str());
  if (!model)
    return fail(modrwkv_last_error());
  modrwkv_state *state = modrwkv_state_create(model);
  int64_t vocab = modrwkv_model_vocab_size(model);
  int64_t n = int64_t(tokens.size());
  std::vector<float> logits(n * vocab);
  int rc = 0;
  if (!stateIn.empty())
    rc = modrwkv_state_load(state, stateIn.c_str());
  if (rc == 0 && step) {
    for (int64_t i = 0; i < n && rc == 0; ++i)
      rc = modrwkv_decode(model, state, tokens[i], logits.data() + i * vocab);
  } else if (rc == 0) {
    rc = modrwkv_prefill(model, state, tokens.data(), n, logits.data());
  }
  if (rc == 0 && !stateOut.empty())
    rc = modrwkv_state_save(state, stateOut.c_str());
  int status = 0;
  if (rc != 0)
    status = fail(modrwkv_last_error());
  else if (!logitsOut.empty() && !writeNpy(logitsOut, logits, n, vocab))
    status = fail("cannot write " + logitsOut);
  modrwkv_state_free(state);
  modrwkv_model_free(model);
  return status;
}
