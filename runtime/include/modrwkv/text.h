/*===- text.h - tokenizer, streaming decoder and sampler -----------------===*
 *
 * The RWKV World tokenizer: greedy longest match over bytes against a
 * vocabulary file of lines `<id> <Python str or bytes literal> <length>`
 * (data/rwkv_vocab_v20230424.txt). Encoding is exact for any bytes, valid
 * UTF-8 or not: decode(encode(x)) == x.
 *
 * The sampler follows the RWKV community's pipeline: presence and frequency
 * penalties on tokens seen so far (decayed each step), softmax, top-p, top-k,
 * temperature as probs^(1/T), then a draw from a seeded generator; a
 * temperature of 0 is greedy (argmax after penalties). A multiplicative
 * repetition penalty (CTRL / Hugging Face style: seen tokens' positive
 * logits divided by it, negative ones multiplied) is available, off (1) by
 * default.
 *
 * Errors follow runtime.h: NULL or -1, message in modrwkv_last_error().
 *
 *===----------------------------------------------------------------------===*/

#ifndef MODRWKV_TEXT_H
#define MODRWKV_TEXT_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct modrwkv_tokenizer modrwkv_tokenizer;
typedef struct modrwkv_decoder modrwkv_decoder;
typedef struct modrwkv_sampler modrwkv_sampler;

modrwkv_tokenizer *modrwkv_tokenizer_load(const char *vocab_path);
void modrwkv_tokenizer_free(modrwkv_tokenizer *tokenizer);
/* One more than the largest token id of the vocabulary. */
int64_t modrwkv_tokenizer_vocab_size(const modrwkv_tokenizer *tokenizer);

/* Encodes `n` bytes into `out`, which must hold `n` ids (each token covers
 * at least one byte); returns the number of ids. */
int64_t modrwkv_tokenize(const modrwkv_tokenizer *tokenizer, const char *bytes,
                         int64_t n, int32_t *out);
/* The bytes of token `id` (*bytes points into the tokenizer); returns their
 * count, 0 for the end-of-document token 0, -1 for an unknown id. */
int64_t modrwkv_token_bytes(const modrwkv_tokenizer *tokenizer, int32_t id,
                            const char **bytes);

/* Streaming detokenizer: holds back an incomplete UTF-8 sequence at the end
 * of the text until the next token completes it (or shows it invalid). */
modrwkv_decoder *modrwkv_decoder_create(const modrwkv_tokenizer *tokenizer);
void modrwkv_decoder_free(modrwkv_decoder *decoder);
/* Adds a token; *text receives the bytes ready to print (valid until the
 * next call); returns their count, or -1 for an unknown id. */
int64_t modrwkv_decoder_push(modrwkv_decoder *decoder, int32_t id,
                             const char **text);
/* Returns whatever is held back. */
int64_t modrwkv_decoder_flush(modrwkv_decoder *decoder, const char **text);

typedef struct modrwkv_sampler_params {
  float temperature;        /* 0 = greedy */
  float top_p;              /* 1 = off */
  int32_t top_k;            /* 0 = off */
  float presence_penalty;   /* subtracted once a token has occurred */
  float frequency_penalty;  /* times its (decayed) count */
  float penalty_decay;      /* counts are multiplied by this each step */
  float repetition_penalty; /* >= 1; 1 = off */
  uint64_t seed;
} modrwkv_sampler_params;

/* The RWKV pipeline's defaults: T 1.0, top-p 0.85, top-k off, presence 0.2,
 * frequency 0.2, decay 0.996, repetition penalty off, seed 0. */
modrwkv_sampler_params modrwkv_sampler_defaults(void);
modrwkv_sampler *modrwkv_sampler_create(const modrwkv_sampler_params *params,
                                        int64_t vocab_size);
void modrwkv_sampler_free(modrwkv_sampler *sampler);
/* Picks the next token from `logits` (vocab_size floats, not modified). */
int32_t modrwkv_sample(modrwkv_sampler *sampler, const float *logits);
/* Records a generated token for the penalties: decays every count, then
 * adds `weight` (the pipeline uses 0 for whitespace and digit tokens). */
void modrwkv_sampler_accept(modrwkv_sampler *sampler, int32_t id, float weight);

#ifdef __cplusplus
}
#endif

#endif /* MODRWKV_TEXT_H */
