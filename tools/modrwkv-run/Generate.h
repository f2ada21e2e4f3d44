//===- Generate.h - text generation for modrwkv-run -------------*- C++ -*-===//

#ifndef MODRWKV_TOOLS_RUN_GENERATE_H
#define MODRWKV_TOOLS_RUN_GENERATE_H

#include "modrwkv/runtime.h"
#include "modrwkv/text.h"

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

struct Encoded;

struct GenerateOptions {
  std::optional<std::string> prompt; ///< text, or read from promptFile
  std::string promptFile;            ///< "-" = standard input
  bool chat = false;
  int64_t maxTokens = 256;
  std::string vocab;
  std::vector<std::string> stops;
  std::string tokensOut; ///< file for the generated ids
  modrwkv_sampler_params sampler = modrwkv_sampler_defaults();
  const Encoded *media = nullptr; ///< --image / --audio, encoded
};

/// Prints `message` as modrwkv-run's error; returns the exit status 1.
int fail(const std::string &message);

/// Makes fresh states start from the learned initial state of the
/// state-tuning file `path`. Returns the exit status.
int swapInitialState(modrwkv_model *model, const std::string &path);

/// Swaps the Bone adapter of an artifact compiled with an unmerged one for
/// the adapter in `path`. Returns the exit status.
int swapAdapter(modrwkv_model *model, const std::string &artifact,
                const std::string &path);

/// An image or audio file of a prompt.
struct Medium {
  std::string modality; ///< "image" or "audio": the artifact's graph
  std::string path;
};

/// Adapter rows of the media of a prompt, in order, and how the artifact
/// splices them (manifest.json `multimodal`).
struct Encoded {
  std::vector<float> features;         ///< rows x width
  std::vector<int64_t> rowsPerItem;    ///< per medium
  std::vector<std::string> modalities; ///< per medium
  std::string splice;                  ///< "placeholder" or "prefix"
  int32_t placeholder = -1, begin = -1, end = -1;
};

/// Runs each medium through the artifact's graph of its modality, after
/// the preprocessing the manifest gives. Returns the exit status.
int encodeMedia(const std::string &artifact, const std::vector<Medium> &media,
                Encoded &out);

/// A text prompt with its media as tokens and feature rows. Each `<image>`
/// or `<audio>` marker in `text` takes the next medium of its kind (in
/// command-line order) and becomes `begin`, one placeholder per row, `end`
/// (placeholders only for prefix splicing); a prompt without markers gets
/// all media before its text. The marker counts must match the media.
/// Returns false with `error` set.
bool promptWithMedia(const std::string &text, const Encoded &media,
                     const modrwkv_tokenizer *tokenizer,
                     std::vector<int32_t> &tokens, std::vector<float> &rows,
                     std::string &error);

using Tokenizer =
    std::unique_ptr<modrwkv_tokenizer, void (*)(modrwkv_tokenizer *)>;

/// The tokenizer of `vocab`, checked to fit the model's vocabulary; null
/// after reporting an error.
Tokenizer loadTokenizer(const std::string &vocab, const modrwkv_model *model);

/// Passes generated text on to a sink, holding back any tail that may be
/// the start of a stop string, and finds stop strings across token
/// boundaries.
class StopFilter {
public:
  using Sink = std::function<void(const std::string &)>;
  StopFilter(const std::vector<std::string> &stops, Sink sink);
  /// Adds text; returns true when a stop string was completed (the text up
  /// to it has gone to the sink, the stop string itself not).
  bool add(const char *text, size_t n);
  /// Passes on what was held back.
  void finish();

private:
  const std::vector<std::string> &stops;
  Sink sink;
  std::string pending;
};

/// The penalty weight of a sampled token: the RWKV pipeline counts
/// whitespace and digit tokens with weight 0.
float penaltyWeight(const modrwkv_tokenizer *tokenizer, int32_t id);

/// --batch-prompts: a reply to every prompt of `promptsFile` (JSON Lines:
/// a string, or an object with "prompt" and optionally "image" / "audio",
/// a path or a list of paths, for the multimodal `artifact`), `slots` at a
/// time through the batched decode entry; a finished reply's slot takes
/// the next prompt. Each prompt starts from `start` (fresh, or --state-in)
/// and samples as a run with --prompt (and its --image / --audio) and the
/// same options would. One JSON line per reply, printed as it finishes:
/// {"index", "text", "tokens" (ids), "finish": "stop" | "end" | "length"}.
/// Returns the exit status.
int generateBatch(const GenerateOptions &options, const std::string &artifact,
                  const std::string &promptsFile, int64_t slots,
                  const modrwkv_model *model, const modrwkv_state *start);

/// Feeds a prompt, its media (if any) spliced where its markers say (or
/// first); `tokens` receives the number of tokens fed. Returns false after
/// reporting an error.
bool feedPrompt(const modrwkv_model *model, modrwkv_state *state,
                const modrwkv_tokenizer *tokenizer, const std::string &text,
                const Encoded *media, int64_t &tokens);

/// Generates text from the prompt (or chats on stdin), streaming it to
/// stdout; the state continues from whatever it holds. Returns the exit
/// status.
int generate(const GenerateOptions &options, const modrwkv_model *model,
             modrwkv_state *state);

#endif // MODRWKV_TOOLS_RUN_GENERATE_H
