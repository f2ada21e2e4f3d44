/*===- runtime.h - modrwkv runtime C API ---------------------------------===*
 *
 * Loads an artifact directory (manifest.json, model.so, weights.bin), owns
 * RNN states, and runs prefill / decode. No MLIR inside: the compiled entry
 * point is called through its C interface,
 *
 *   void _mlir_ciface_forward(memref<?xi8> *weights, memref<?xi32> *tokens,
 *                             memref<LxC> *att_shift, memref<LxC> *ffn_shift,
 *                             memref<LxHx64x64> *wkv, memref<?xV> *logits)
 *
 * (ABI "rwkv7-forward-v2"), which updates the three state buffers and fills
 * the logits of the last R tokens, R = the logits buffer's rows (1 <= R <=
 * tokens; v1 filled a row per token). Functions returning int return 0 on
 * success and -1 on error, with a message from modrwkv_last_error()
 * (thread-local).
 * A model is immutable once loaded and may be shared by threads; a state
 * must be used by one thread at a time.
 *
 *===----------------------------------------------------------------------===*/

#ifndef MODRWKV_RUNTIME_H
#define MODRWKV_RUNTIME_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct modrwkv_model modrwkv_model;
typedef struct modrwkv_state modrwkv_state;
typedef struct modrwkv_batch modrwkv_batch;

/* The last error message of this thread ("" if none). */
const char *modrwkv_last_error(void);

/* Loads the artifact in `dir`; NULL on error. */
modrwkv_model *modrwkv_model_load(const char *dir);
void modrwkv_model_free(modrwkv_model *model);
int64_t modrwkv_model_vocab_size(const modrwkv_model *model);

/* Overwrites the float32 weight `name` (as named in manifest.json, `count`
 * elements) in this model's private copy-on-write mapping of weights.bin;
 * the file is not changed. This is how Bone adapters compiled unmerged are
 * swapped. Call it before running, not while other threads use the model. */
int modrwkv_model_set_weight(modrwkv_model *model, const char *name,
                             const float *data, int64_t count);

/* Threads for this thread's later calls: artifacts compiled with
 * --parallel (OpenMP) split each matrix product's weight rows across `n`
 * threads (default: OMP_NUM_THREADS, else one per core). n = 1 always
 * works; n > 1 on an artifact compiled without --parallel is an error. */
int modrwkv_model_set_threads(modrwkv_model *model, int n);

/* Sets the WKV state that fresh states and batch slots start from:
 * `count` = layers x heads x 64 x 64 floats, [L][H][64 value][64 key], as
 * RWKV-PEFT's state tuning learns it (`blocks.N.att.time_state`); count 0:
 * zeros. A state-tuned artifact (manifest `initial_state`) starts with its
 * own. States created before keep their values. Call it before running,
 * not while other threads use the model. */
int modrwkv_model_set_initial_state(modrwkv_model *model, const float *wkv,
                                    int64_t count);

/* A fresh state (the start of a document), with room for one logits row:
 * zeros but for the initial WKV state (see above). */
modrwkv_state *modrwkv_state_create(const modrwkv_model *model);
void modrwkv_state_free(modrwkv_state *state);
/* Copies `src` into `dst` (same model). */
int modrwkv_state_copy(modrwkv_state *dst, const modrwkv_state *src);

/* Feeds `n` >= 1 tokens. If `logits` is not NULL it receives n x vocab
 * floats, the logits after each token. The logits after the last token are
 * kept in the state either way; with NULL they are the only ones computed
 * (the head runs once per call, not once per token). */
int modrwkv_prefill(const modrwkv_model *model, modrwkv_state *state,
                    const int32_t *tokens, int64_t n, float *logits);
/* Multimodal artifacts (ABI "rwkv7-forward-mm-v2", compiled with
 * --encoder): feeds `n` tokens where each placeholder token (see
 * modrwkv_model_placeholder) takes the next of the `rows` x width floats of
 * `features` (an encoder graph's output) as its embedding. The number of
 * placeholders must equal `rows`. Plain modrwkv_prefill works too (no
 * placeholders allowed then). */
int modrwkv_prefill_features(const modrwkv_model *model, modrwkv_state *state,
                             const int32_t *tokens, int64_t n,
                             const float *features, int64_t rows,
                             float *logits);
/* The placeholder token id of a multimodal artifact, -1 for others. */
int32_t modrwkv_model_placeholder(const modrwkv_model *model);
/* The model width C (floats per feature row). */
int64_t modrwkv_model_width(const modrwkv_model *model);

/* Feeds one token; same as modrwkv_prefill with n = 1. */
int modrwkv_decode(const modrwkv_model *model, modrwkv_state *state,
                   int32_t token, float *logits);
/* The logits after the last token fed (vocab floats), NULL before any. */
const float *modrwkv_state_logits(const modrwkv_state *state);

/* Saves / restores the RNN state and last logits to / from a file. A file
 * of another model configuration is refused. Layout (little endian):
 * "MRWKVST1", int64 layers, width, heads, head_size, vocab, has_logits;
 * float32 att_shift[L][C], ffn_shift[L][C], wkv[L][H][64 value][64 key],
 * logits[vocab]. */
int modrwkv_state_save(const modrwkv_state *state, const char *path);
int modrwkv_state_load(modrwkv_state *state, const char *path);

/* Batched decode: `slots` sequences advance one token each per call, the
 * products reading each weight once for all of them. CPU artifacts compiled
 * with --batch-decode (the default) have the entry
 *
 *   void _mlir_ciface_decode_batch(memref<?xi8> *weights,
 *       memref<?xi32> *tokens, memref<LxBxC> *att_shift,
 *       memref<LxBxC> *ffn_shift, memref<LxBxHx64x64> *wkv,
 *       memref<?xV> *logits)
 *
 * (manifest "batch_entry"; B = the number of tokens, one per sequence).
 * Slots start as fresh states; a prompt is prefilled on a modrwkv_state
 * (with its media, on a multimodal artifact: the batched entry takes token
 * ids only, never the placeholder) and put into a slot, and a slot can be
 * taken back out. A batch must be used by one thread at a time. */
modrwkv_batch *modrwkv_batch_create(const modrwkv_model *model, int64_t slots);
void modrwkv_batch_free(modrwkv_batch *batch);
int64_t modrwkv_batch_slots(const modrwkv_batch *batch);
/* Copies `state` (RNN state and last logits) into / out of slot `slot`. */
int modrwkv_batch_put(modrwkv_batch *batch, int64_t slot,
                      const modrwkv_state *state);
int modrwkv_batch_get(const modrwkv_batch *batch, int64_t slot,
                      modrwkv_state *state);
/* Feeds tokens[i] to slot i, for every slot. */
int modrwkv_decode_batch(const modrwkv_model *model, modrwkv_batch *batch,
                         const int32_t *tokens);
/* The logits after the last modrwkv_decode_batch (slots x vocab floats, row
 * i for slot i), NULL before any. */
const float *modrwkv_batch_logits(const modrwkv_batch *batch);

#ifdef __cplusplus
}
#endif

#endif /* MODRWKV_RUNTIME_H */
