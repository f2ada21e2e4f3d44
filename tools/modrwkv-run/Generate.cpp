//===- Generate.cpp - text generation for modrwkv-run ---------------------===//

#include "Generate.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>

namespace {

using Clock = std::chrono::steady_clock;

double since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

/// Prefills in chunks, drawing a progress bar on a terminal for long
/// prompts.
bool prefill(const modrwkv_model *model, modrwkv_state *state,
             const std::vector<int32_t> &ids) {
  constexpr size_t kChunk = 128;
  bool bar = ids.size() > 2 * kChunk && isatty(STDERR_FILENO);
  for (size_t start = 0; start < ids.size(); start += kChunk) {
    size_t n = std::min(kChunk, ids.size() - start);
    if (modrwkv_prefill(model, state, ids.data() + start, int64_t(n),
                        nullptr) != 0)
      return false;
    if (bar) {
      size_t done = start + n, width = 40, filled = width * done / ids.size();
      std::fprintf(stderr, "\rprefill [%s%s] %zu/%zu tokens",
                   std::string(filled, '#').c_str(),
                   std::string(width - filled, '.').c_str(), done, ids.size());
    }
  }
  if (bar)
    std::fprintf(stderr, "\r\033[K");
  return true;
}

void writeStdout(const std::string &s) {
  std::fwrite(s.data(), 1, s.size(), stdout);
  std::fflush(stdout);
}

struct Reply {
  int64_t tokens = -1; ///< -1: error (reported)
  bool stopString = false;
};

/// One reply: samples up to maxTokens, feeding every sampled token back
/// (those of a stop string too, so the state has seen all of them).
Reply reply(const GenerateOptions &options, const modrwkv_model *model,
            modrwkv_state *state, const modrwkv_tokenizer *tokenizer,
            const std::vector<std::string> &stops,
            std::vector<int32_t> &generated) {
  std::unique_ptr<modrwkv_sampler, void (*)(modrwkv_sampler *)> sampler(
      modrwkv_sampler_create(&options.sampler, modrwkv_model_vocab_size(model)),
      modrwkv_sampler_free);
  std::unique_ptr<modrwkv_decoder, void (*)(modrwkv_decoder *)> decoder(
      modrwkv_decoder_create(tokenizer), modrwkv_decoder_free);
  if (!sampler || !decoder) {
    fail(modrwkv_last_error());
    return {};
  }
  StopFilter out(stops, writeStdout);
  int64_t count = 0;
  for (; count < options.maxTokens; ++count) {
    const float *logits = modrwkv_state_logits(state);
    if (!logits) {
      fail("nothing to continue from: give a prompt or --state-in");
      return {};
    }
    int32_t id = modrwkv_sample(sampler.get(), logits);
    if (id == 0) // end of document
      break;
    const char *text;
    int64_t n = modrwkv_decoder_push(decoder.get(), id, &text);
    if (n < 0) {
      fail(std::string("sampled ") + modrwkv_last_error() +
           " (the model's vocabulary is larger than the tokenizer's)");
      return {};
    }
    generated.push_back(id);
    modrwkv_sampler_accept(sampler.get(), id, penaltyWeight(tokenizer, id));
    if (modrwkv_decode(model, state, id, nullptr) != 0) {
      fail(modrwkv_last_error());
      return {};
    }
    if (out.add(text, size_t(n)))
      return {count + 1, true};
  }
  const char *rest;
  int64_t n = modrwkv_decoder_flush(decoder.get(), &rest);
  out.add(rest, size_t(n));
  out.finish();
  return {count, false};
}

bool readAll(const std::string &path, std::string &text) {
  if (path == "-") {
    text.assign(std::istreambuf_iterator<char>(std::cin),
                std::istreambuf_iterator<char>());
    return true;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return false;
  text.assign(std::istreambuf_iterator<char>(in),
              std::istreambuf_iterator<char>());
  return true;
}

bool feedText(const modrwkv_model *model, modrwkv_state *state,
              const modrwkv_tokenizer *tokenizer, const std::string &text,
              int64_t &tokens) {
  std::vector<int32_t> ids(text.size());
  ids.resize(modrwkv_tokenize(tokenizer, text.data(), int64_t(text.size()),
                              ids.data()));
  tokens = int64_t(ids.size());
  return ids.empty() || prefill(model, state, ids);
}

} // namespace

bool feedPrompt(const modrwkv_model *model, modrwkv_state *state,
                const modrwkv_tokenizer *tokenizer, const std::string &text,
                const Encoded *media, int64_t &tokens) {
  if (!media) {
    if (!feedText(model, state, tokenizer, text, tokens)) {
      fail(modrwkv_last_error());
      return false;
    }
    return true;
  }
  std::vector<int32_t> ids;
  std::vector<float> rows;
  std::string error;
  if (!promptWithMedia(text, *media, tokenizer, ids, rows, error)) {
    fail(error);
    return false;
  }
  tokens = int64_t(ids.size());
  if (!ids.empty() &&
      modrwkv_prefill_features(
          model, state, ids.data(), tokens, rows.data(),
          int64_t(rows.size()) / modrwkv_model_width(model), nullptr) != 0) {
    fail(modrwkv_last_error());
    return false;
  }
  return true;
}

Tokenizer loadTokenizer(const std::string &vocab, const modrwkv_model *model) {
  Tokenizer tokenizer(modrwkv_tokenizer_load(vocab.c_str()),
                      modrwkv_tokenizer_free);
  if (!tokenizer) {
    fail(modrwkv_last_error());
  } else if (modrwkv_tokenizer_vocab_size(tokenizer.get()) >
             modrwkv_model_vocab_size(model)) {
    fail(vocab + ": token ids up to " +
         std::to_string(modrwkv_tokenizer_vocab_size(tokenizer.get()) - 1) +
         " do not fit the model's vocabulary of " +
         std::to_string(modrwkv_model_vocab_size(model)));
    tokenizer.reset();
  }
  return tokenizer;
}

int generate(const GenerateOptions &options, const modrwkv_model *model,
             modrwkv_state *state) {
  Tokenizer tokenizer = loadTokenizer(options.vocab, model);
  if (!tokenizer)
    return 1;
  const modrwkv_tokenizer *tok = tokenizer.get();

  std::vector<int32_t> generated;
  int64_t promptTokens = 0, generatedTokens = 0;
  double promptSeconds = 0, generateSeconds = 0;
  auto timed = [](double &seconds, auto &&body) {
    auto start = Clock::now();
    auto result = body();
    seconds += since(start);
    return result;
  };

  if (options.chat) {
    // World-model chat format; the state carries the conversation.
    std::vector<std::string> stops = options.stops;
    if (stops.empty())
      stops = {"\n\n"};
    bool tty = isatty(STDIN_FILENO);
    if (options.media && !timed(promptSeconds, [&] {
          return feedPrompt(model, state, tok, "", options.media, promptTokens);
        }))
      return 1;
    std::string line;
    while (true) {
      if (tty)
        std::fprintf(stderr, "User: ");
      if (!std::getline(std::cin, line))
        break;
      int64_t n;
      if (!timed(promptSeconds, [&] {
            return feedText(model, state, tok,
                            "User: " + line + "\n\nAssistant:", n);
          }))
        return fail(modrwkv_last_error());
      promptTokens += n;
      std::printf("Assistant:");
      std::fflush(stdout);
      Reply r = timed(generateSeconds, [&] {
        return reply(options, model, state, tok, stops, generated);
      });
      if (r.tokens < 0)
        return 1;
      generatedTokens += r.tokens;
      std::printf("\n\n");
      // A reply cut by the token limit or the end token still closes the
      // turn, so that the next "User:" starts where the format expects it.
      int64_t ignored;
      if (!r.stopString && !feedText(model, state, tok, "\n\n", ignored))
        return fail(modrwkv_last_error());
    }
  } else {
    std::string text;
    if (options.prompt)
      text = *options.prompt;
    else if (!options.promptFile.empty() && !readAll(options.promptFile, text))
      return fail(options.promptFile + ": cannot read the prompt");
    if (!timed(promptSeconds, [&] {
          return feedPrompt(model, state, tok, text, options.media,
                            promptTokens);
        }))
      return 1;
    generatedTokens =
        timed(generateSeconds, [&] {
          return reply(options, model, state, tok, options.stops, generated);
        }).tokens;
    if (generatedTokens < 0)
      return 1;
  }
  std::fprintf(stderr,
               "\n[prompt: %lld tokens in %.2f s (%.1f tokens/s); generated: "
               "%lld tokens in %.2f s (%.1f tokens/s)]\n",
               (long long)promptTokens, promptSeconds,
               promptTokens / std::max(promptSeconds, 1e-9),
               (long long)generatedTokens, generateSeconds,
               generatedTokens / std::max(generateSeconds, 1e-9));
  if (!options.tokensOut.empty()) {
    std::ofstream out(options.tokensOut);
    for (size_t i = 0; i < generated.size(); ++i)
      out << (i ? "," : "") << generated[i];
    out << "\n";
    if (!out)
      return fail("cannot write " + options.tokensOut);
  }
  return 0;
}
