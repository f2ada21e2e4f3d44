//===- modrwkv-run.cpp - run a compiled artifact --------------------------===//
//
// Logits mode:
//   modrwkv-run ART --tokens 12,7,300 [--logits-out FILE.npy] [--step]
// writes the logits of every position as a float32 .npy of shape
// [T, vocab] (one prefill call, or one decode call per token with --step);
// with --last only the last position's, [1, vocab], and the model computes
// no others (what a prompt's prefill needs).
//
// Text mode:
//   modrwkv-run ART [--prompt TEXT | --prompt-file FILE|-] [--chat]
//               [--max-tokens N] [--temperature T] [--top-p P] [--top-k K]
//               [--presence-penalty A] [--frequency-penalty B]
//               [--penalty-decay D] [--repetition-penalty R] [--seed S]
//               [--stop STRING]...
//               [--vocab FILE] [--tokens-out FILE]
// streams the generated text to stdout and timing to stderr. Without
// --tokens, --prompt or --prompt-file, a prompt piped on stdin is read.
//
// Multimodal artifacts (compiled with --encoder): --image FILE and --audio
// FILE.wav (repeatable, in any mix the artifact has encoders for) encode
// each medium with the artifact's tower and adapter, in command-line order.
// With --tokens, the placeholder tokens (65532) take the rows in order, and
// their count must match; in text mode each `<image>` / `<audio>` marker in
// the prompt takes the next medium of its kind, as 65530, one placeholder
// per row, 65531 (placeholders only, for artifacts that splice a prefix);
// a prompt without markers (and --chat) gets the media first.
//
// Batch mode:
//   modrwkv-run ART --batch-prompts FILE|- [--batch-slots B]
//               [the text mode's sampling options, --max-tokens, --stop]
// replies to every prompt of FILE (JSON Lines: a string, or an object with
// "prompt" and, for a multimodal artifact, "image" / "audio": a path or a
// list of paths) with continuous batching: B slots (default: one per prompt, at
// most 64) advance together through the batched decode entry, and a slot
// whose reply ends takes the next prompt. Each reply is what --prompt with
// the same options gives; one JSON line per reply, in the order they end:
// {"index", "text", "tokens", "finish": "stop"|"end"|"length"}.
//
// Both: --threads N sets the threads of an artifact compiled with
// --parallel (0, the default: OMP_NUM_THREADS, else one per core); --state-in
// FILE starts from a saved state, --state-out FILE saves the state at the
// end (after the last token fed or generated); --adapter FILE swaps in
// another Bone adapter (artifact compiled with an unmerged one);
// --initial-state FILE (a state-tuning file, RWKV-PEFT's
// blocks.N.att.time_state) is where fresh states start, in place of the
// artifact's (zeros, or the state it was compiled with).
//
//===----------------------------------------------------------------------===//

#include "Generate.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <string>
#include <vector>

int fail(const std::string &message) {
  std::fprintf(stderr, "modrwkv-run: error: %s\n", message.c_str());
  return 1;
}

namespace {

struct Options {
  std::string artifact, tokens, logitsOut, stateIn, stateOut, adapter,
      initialState, batchPrompts;
  int64_t batchSlots = 0; ///< 0: one per prompt, at most 64
  std::vector<Medium> media;
  bool step = false, last = false;
  GenerateOptions text;
  int threads = 0; ///< 0: the OpenMP default
};

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

/// Parses the command line; returns false after reporting an error (or
/// printing help, with `help` set).
bool parse(int argc, char **argv, Options &o, bool &help) {
  GenerateOptions &t = o.text;
  auto number = [](const std::string &flag, auto &into) {
    return [&into, flag](const std::string &v) {
      char *end = nullptr;
      errno = 0;
      double d = std::strtod(v.c_str(), &end);
      if (v.empty() || *end != '\0' || errno != 0)
        throw std::runtime_error("bad value '" + v + "' for " + flag);
      into = static_cast<std::remove_reference_t<decltype(into)>>(d);
    };
  };
  auto str = [](std::string &into) {
    return [&into](const std::string &v) { into = v; };
  };
  std::map<std::string, std::function<void(const std::string &)>> valued = {
      {"--tokens", str(o.tokens)},
      {"--logits-out", str(o.logitsOut)},
      {"--state-in", str(o.stateIn)},
      {"--state-out", str(o.stateOut)},
      {"--adapter", str(o.adapter)},
      {"--initial-state", str(o.initialState)},
      {"--batch-prompts", str(o.batchPrompts)},
      {"--batch-slots", number("--batch-slots", o.batchSlots)},
      {"--image",
       [&](const std::string &v) {
         o.media.push_back({"image", v});
       }},
      {"--audio",
       [&](const std::string &v) {
         o.media.push_back({"audio", v});
       }},
      {"--prompt", [&](const std::string &v) { t.prompt = v; }},
      {"--prompt-file", str(t.promptFile)},
      {"--vocab", str(t.vocab)},
      {"--tokens-out", str(t.tokensOut)},
      {"--stop", [&](const std::string &v) { t.stops.push_back(v); }},
      {"--max-tokens", number("--max-tokens", t.maxTokens)},
      {"--temperature", number("--temperature", t.sampler.temperature)},
      {"--top-p", number("--top-p", t.sampler.top_p)},
      {"--top-k", number("--top-k", t.sampler.top_k)},
      {"--presence-penalty",
       number("--presence-penalty", t.sampler.presence_penalty)},
      {"--frequency-penalty",
       number("--frequency-penalty", t.sampler.frequency_penalty)},
      {"--penalty-decay", number("--penalty-decay", t.sampler.penalty_decay)},
      {"--repetition-penalty",
       number("--repetition-penalty", t.sampler.repetition_penalty)},
      {"--seed", number("--seed", t.sampler.seed)},
      {"--threads", number("--threads", o.threads)},
  };
  try {
    for (int i = 1; i < argc; ++i) {
      std::string arg = argv[i];
      auto it = valued.find(arg);
      if (it != valued.end()) {
        if (i + 1 >= argc)
          throw std::runtime_error(arg + " needs a value");
        it->second(argv[++i]);
      } else if (arg == "--step") {
        o.step = true;
      } else if (arg == "--last") {
        o.last = true;
      } else if (arg == "--chat") {
        t.chat = true;
      } else if (arg == "-h" || arg == "--help") {
        help = true;
        std::printf(
            "usage: modrwkv-run ARTIFACT_DIR --tokens 1,2,3 [--logits-out "
            "F.npy] [--step] [--last]\n"
            "       modrwkv-run ARTIFACT_DIR [--prompt TEXT | --prompt-file "
            "F|-] [--chat] [--max-tokens N]\n"
            "           [--temperature T] [--top-p P] [--top-k K] "
            "[--presence-penalty A]\n"
            "           [--frequency-penalty B] [--penalty-decay D] "
            "[--repetition-penalty R]\n"
            "           [--seed S] [--stop STR]...\n"
            "           [--vocab FILE] [--tokens-out FILE]\n"
            "       both: [--threads N] [--state-in FILE] [--state-out FILE] "
            "[--adapter FILE]\n"
            "             [--initial-state FILE] [--image FILE]... "
            "[--audio FILE.wav]...\n"
            "       batch: modrwkv-run ART --batch-prompts FILE|- "
            "[--batch-slots B] [sampling options]\n");
        return false;
      } else if (!arg.empty() && arg[0] == '-') {
        throw std::runtime_error("unknown option " + arg);
      } else if (o.artifact.empty()) {
        o.artifact = arg;
      } else {
        throw std::runtime_error("unexpected argument " + arg);
      }
    }
  } catch (const std::exception &e) {
    fail(e.what());
    return false;
  }
  if (o.artifact.empty()) {
    fail("no artifact directory given");
    return false;
  }
  if (t.vocab.empty()) {
    const char *env = std::getenv("MODRWKV_VOCAB");
    t.vocab = env ? env : MODRWKV_DEFAULT_VOCAB;
  }
  return true;
}

int runTokens(const Options &o, const modrwkv_model *model,
              modrwkv_state *state, const Encoded &encoded) {
  std::vector<int32_t> tokens;
  std::string error;
  if (!parseTokens(o.tokens, tokens, error))
    return fail(error);
  int64_t vocab = modrwkv_model_vocab_size(model);
  int64_t n = int64_t(tokens.size());
  // --last: no logits buffer, the state keeps the last row.
  std::vector<float> logits(o.last ? 0 : n * vocab);
  auto rowsOf = [&](int64_t first) {
    return o.last ? nullptr : logits.data() + first * vocab;
  };
  int rc = 0;
  if (!encoded.rowsPerItem.empty()) {
    if (o.step)
      return fail("--step and --image/--audio exclude each other");
    rc = modrwkv_prefill_features(
        model, state, tokens.data(), n, encoded.features.data(),
        int64_t(encoded.features.size()) / modrwkv_model_width(model),
        rowsOf(0));
  } else if (o.step) {
    for (int64_t i = 0; i < n && rc == 0; ++i)
      rc = modrwkv_decode(model, state, tokens[i], rowsOf(i));
  } else {
    rc = modrwkv_prefill(model, state, tokens.data(), n, rowsOf(0));
  }
  if (rc != 0)
    return fail(modrwkv_last_error());
  if (o.last) {
    const float *row = modrwkv_state_logits(state);
    logits.assign(row, row + vocab);
    n = 1;
  }
  if (!o.logitsOut.empty() && !writeNpy(o.logitsOut, logits, n, vocab))
    return fail("cannot write " + o.logitsOut);
  return 0;
}

} // namespace

int main(int argc, char **argv) {
  Options o;
  bool help = false;
  if (!parse(argc, argv, o, help))
    return help ? 0 : 1;
  bool textMode = o.text.prompt || !o.text.promptFile.empty() || o.text.chat;
  if (!o.tokens.empty() && textMode)
    return fail(
        "--tokens and --prompt/--prompt-file/--chat exclude each other");
  bool batchMode = !o.batchPrompts.empty();
  if (batchMode && (textMode || !o.tokens.empty() || !o.media.empty() ||
                    !o.stateOut.empty() || !o.text.tokensOut.empty()))
    return fail("--batch-prompts takes its prompts from the file and prints "
                "each reply's text and ids: no --tokens, --prompt, "
                "--prompt-file, --chat, --image, --audio, --state-out or "
                "--tokens-out");
  if (o.batchSlots < 0 || (o.batchSlots > 0 && !batchMode))
    return fail("--batch-slots takes a positive count, with --batch-prompts");
  if (o.tokens.empty() && !textMode && !batchMode) {
    if (!o.stateIn.empty())
      o.text.prompt = ""; // continue generating from the saved state
    else if (!isatty(STDIN_FILENO))
      o.text.promptFile = "-";
    else
      return fail("give --tokens, --prompt, --prompt-file or --chat");
  }

  modrwkv_model *model = modrwkv_model_load(o.artifact.c_str());
  if (!model)
    return fail(modrwkv_last_error());
  int status = 0;
  if (o.threads != 0 && modrwkv_model_set_threads(model, o.threads) != 0)
    status = fail(modrwkv_last_error());
  if (status == 0 && !o.adapter.empty())
    status = swapAdapter(model, o.artifact, o.adapter);
  if (status == 0 && !o.initialState.empty())
    status = swapInitialState(model, o.initialState);
  modrwkv_state *state = modrwkv_state_create(model);
  if (status == 0 && !o.stateIn.empty() &&
      modrwkv_state_load(state, o.stateIn.c_str()) != 0)
    status = fail(modrwkv_last_error());
  Encoded encoded;
  if (status == 0 && !o.media.empty())
    status = encodeMedia(o.artifact, o.media, encoded);
  if (!o.media.empty())
    o.text.media = &encoded;
  if (status == 0)
    status = batchMode ? generateBatch(o.text, o.artifact, o.batchPrompts,
                                       o.batchSlots, model, state)
             : o.tokens.empty() ? generate(o.text, model, state)
                                : runTokens(o, model, state, encoded);
  if (status == 0 && !o.stateOut.empty() &&
      modrwkv_state_save(state, o.stateOut.c_str()) != 0)
    status = fail(modrwkv_last_error());
  modrwkv_state_free(state);
  modrwkv_model_free(model);
  return status;
}
