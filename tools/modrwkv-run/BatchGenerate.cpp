//===- BatchGenerate.cpp - modrwkv-run --batch-prompts --------------------===//
//
// Continuous batching: every slot of a modrwkv_batch holds one reply in
// progress; each step feeds every slot its last sampled token in one
// modrwkv_decode_batch call (the weights are read once for all of them),
// and a slot whose reply ends takes the next prompt, prefilled (with its
// media) on its own state.
//
//===----------------------------------------------------------------------===//

#include "Generate.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>

namespace {

using Clock = std::chrono::steady_clock;

/// A prompt and its media.
struct Prompt {
  std::string text;
  std::vector<Medium> media; ///< images, then clips, in the listed order
};

/// Reads the prompts: one JSON value per non-blank line, a string or an
/// object with a string "prompt" and optional "image" / "audio" paths (a
/// string or a list). Returns false after reporting an error.
bool readPrompts(const std::string &path, std::vector<Prompt> &prompts) {
  std::ifstream file;
  if (path != "-") {
    file.open(path);
    if (!file)
      return fail(path + ": cannot open the prompts file"), false;
  }
  std::istream &in = path == "-" ? std::cin : file;
  std::string line;
  for (int64_t number = 1; std::getline(in, line); ++number) {
    if (line.find_first_not_of(" \t\r") == std::string::npos)
      continue;
    std::string where = path + ":" + std::to_string(number) + ": ";
    nlohmann::json value = nlohmann::json::parse(line, nullptr, false);
    Prompt prompt;
    if (value.is_object()) {
      for (const char *kind : {"image", "audio"}) {
        nlohmann::json paths = value.value(kind, nlohmann::json::array());
        if (paths.is_string())
          paths = nlohmann::json::array({paths});
        bool ok = paths.is_array() &&
                  std::all_of(paths.begin(), paths.end(),
                              [](const auto &p) { return p.is_string(); });
        if (!ok)
          return fail(where + "\"" + kind +
                      "\" must be a path or a list of paths"),
                 false;
        for (const nlohmann::json &p : paths)
          prompt.media.push_back({kind, p.get<std::string>()});
      }
      value = value.value("prompt", nlohmann::json());
    }
    if (!value.is_string())
      return fail(where + "not a JSON string or an object with a string "
                          "\"prompt\""),
             false;
    prompt.text = value.get<std::string>();
    prompts.push_back(std::move(prompt));
  }
  if (prompts.empty())
    return fail(path + ": no prompts"), false;
  return true;
}

/// One reply in progress.
struct Reply {
  size_t index = 0; ///< of its prompt
  std::unique_ptr<modrwkv_sampler, void (*)(modrwkv_sampler *)> sampler{
      nullptr, modrwkv_sampler_free};
  std::unique_ptr<modrwkv_decoder, void (*)(modrwkv_decoder *)> decoder{
      nullptr, modrwkv_decoder_free};
  std::unique_ptr<StopFilter> out;
  std::string text;
  std::vector<int32_t> ids;
};

class BatchGenerator {
public:
  BatchGenerator(const GenerateOptions &options, const std::string &artifact,
                 const modrwkv_model *model, const modrwkv_state *start,
                 const modrwkv_tokenizer *tok,
                 const std::vector<Prompt> &prompts, modrwkv_batch *batch)
      : options(options), artifact(artifact), model(model), start(start),
        tok(tok), prompts(prompts), batch(batch),
        slots(size_t(modrwkv_batch_slots(batch))), tokens(slots.size(), 0) {}

  int run() {
    for (size_t slot = 0; slot < slots.size(); ++slot)
      if (!refill(slot))
        return 1;
    int64_t vocab = modrwkv_model_vocab_size(model);
    while (live > 0) {
      auto begin = Clock::now();
      if (modrwkv_decode_batch(model, batch, tokens.data()) != 0)
        return fail(modrwkv_last_error());
      decodeSeconds +=
          std::chrono::duration<double>(Clock::now() - begin).count();
      ++steps;
      const float *logits = modrwkv_batch_logits(batch);
      for (size_t slot = 0; slot < slots.size(); ++slot) {
        if (!slots[slot])
          continue;
        int status = advance(slot, logits + slot * vocab);
        if (status < 0 || (status == 0 && !refill(slot)))
          return 1;
      }
    }
    std::fprintf(stderr,
                 "\n[batch: %zu prompts, %lld prompt tokens prefilled in "
                 "%.2f s; %lld decode steps of %zu slots in %.2f s (%.1f "
                 "generated tokens/s)]\n",
                 prompts.size(), (long long)promptTokens, prefillSeconds,
                 (long long)steps, slots.size(), decodeSeconds,
                 generated / std::max(decodeSeconds, 1e-9));
    return 0;
  }

private:
  /// Puts the next prompt that does not end at once into `slot`, or
  /// leaves it empty. False after reporting an error.
  bool refill(size_t slot) {
    slots[slot].reset();
    tokens[slot] = 0;
    while (next < prompts.size()) {
      auto reply = std::make_unique<Reply>();
      reply->index = next++;
      std::unique_ptr<modrwkv_state, void (*)(modrwkv_state *)> state(
          modrwkv_state_create(model), modrwkv_state_free);
      const Prompt &prompt = prompts[reply->index];
      auto begin = Clock::now();
      if (!state || modrwkv_state_copy(state.get(), start) != 0)
        return fail(modrwkv_last_error()), false;
      Encoded encoded;
      if (!prompt.media.empty() &&
          encodeMedia(artifact, prompt.media, encoded) != 0)
        return false;
      int64_t fed = 0;
      if (!feedPrompt(model, state.get(), tok, prompt.text,
                      prompt.media.empty() ? nullptr : &encoded, fed))
        return false;
      prefillSeconds +=
          std::chrono::duration<double>(Clock::now() - begin).count();
      promptTokens += fed;
      const float *logits = modrwkv_state_logits(state.get());
      if (!logits)
        return fail("prompt " + std::to_string(reply->index) +
                    " is empty and there is no state to continue from "
                    "(--state-in)"),
               false;
      reply->sampler.reset(modrwkv_sampler_create(
          &options.sampler, modrwkv_model_vocab_size(model)));
      reply->decoder.reset(modrwkv_decoder_create(tok));
      if (!reply->sampler || !reply->decoder)
        return fail(modrwkv_last_error()), false;
      Reply *r = reply.get();
      reply->out = std::make_unique<StopFilter>(
          options.stops, [r](const std::string &s) { r->text += s; });
      slots[slot] = std::move(reply);
      ++live;
      int status = advance(slot, logits);
      if (status < 0)
        return false;
      if (status > 0)
        return modrwkv_batch_put(batch, int64_t(slot), state.get()) == 0 ||
               (fail(modrwkv_last_error()), false);
    }
    return true;
  }

  /// Samples the slot's next token from `logits`: 1 when the reply goes
  /// on (the token is queued for the next step), 0 when it ended (printed,
  /// slot emptied, `live` decremented), -1 after reporting an error.
  int advance(size_t slot, const float *logits) {
    Reply &r = *slots[slot];
    if (int64_t(r.ids.size()) >= options.maxTokens)
      return finish(slot, "length");
    int32_t id = modrwkv_sample(r.sampler.get(), logits);
    if (id == 0)
      return finish(slot, "end");
    const char *text;
    int64_t n = modrwkv_decoder_push(r.decoder.get(), id, &text);
    if (n < 0) {
      fail(std::string("sampled ") + modrwkv_last_error() +
           " (the model's vocabulary is larger than the tokenizer's)");
      return -1;
    }
    r.ids.push_back(id);
    ++generated;
    modrwkv_sampler_accept(r.sampler.get(), id, penaltyWeight(tok, id));
    tokens[slot] = id;
    if (r.out->add(text, size_t(n)))
      return finish(slot, "stop");
    return 1;
  }

  int finish(size_t slot, const char *reason) {
    Reply &r = *slots[slot];
    if (std::string(reason) != "stop") {
      const char *rest;
      int64_t n = modrwkv_decoder_flush(r.decoder.get(), &rest);
      r.out->add(rest, size_t(n));
      r.out->finish();
    }
    nlohmann::json line = {{"index", r.index},
                           {"text", r.text},
                           {"tokens", r.ids},
                           {"finish", reason}};
    std::printf("%s\n", line.dump(-1, ' ', false,
                                  nlohmann::json::error_handler_t::replace)
                            .c_str());
    std::fflush(stdout);
    slots[slot].reset();
    --live;
    return 0;
  }

  const GenerateOptions &options;
  const std::string &artifact;
  const modrwkv_model *model;
  const modrwkv_state *start;
  const modrwkv_tokenizer *tok;
  const std::vector<Prompt> &prompts;
  modrwkv_batch *batch;
  std::vector<std::unique_ptr<Reply>> slots; ///< null: empty slot
  std::vector<int32_t> tokens;               ///< fed to each slot next step
  size_t next = 0;                           ///< the next prompt
  int64_t live = 0;                          ///< slots with a reply
  int64_t promptTokens = 0, generated = 0, steps = 0;
  double prefillSeconds = 0, decodeSeconds = 0;
};

} // namespace

int generateBatch(const GenerateOptions &options, const std::string &artifact,
                  const std::string &promptsFile, int64_t slots,
                  const modrwkv_model *model, const modrwkv_state *start) {
  std::vector<Prompt> prompts;
  if (!readPrompts(promptsFile, prompts))
    return 1;
  Tokenizer tokenizer = loadTokenizer(options.vocab, model);
  if (!tokenizer)
    return 1;
  if (slots <= 0)
    slots = std::min<int64_t>(int64_t(prompts.size()), 64);
  std::unique_ptr<modrwkv_batch, void (*)(modrwkv_batch *)> batch(
      modrwkv_batch_create(model, slots), modrwkv_batch_free);
  if (!batch)
    return fail(modrwkv_last_error());
  return BatchGenerator(options, artifact, model, start, tokenizer.get(),
                        prompts, batch.get())
      .run();
}
