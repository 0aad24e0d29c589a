/* libFuzzer target for the tokenizer (src/pretokenize.c, src/bpe.c,
 * src/vocab.c): whatever the bytes, UTF-8 or not, each piece the split
 * pattern cuts is non-empty and starts where the last one ended, every
 * token is a rank of the vocabulary, and the tokens decode back to exactly
 * the input bytes.
 *
 * Input: byte 0 picks the encoding (even: o200k_base, odd: cl100k_base);
 * the rest is the text. The vocabularies are read once, from
 * $CHATGPT_VOCAB_DIR or lua/chatgpt/vocab (run from the repository root).
 * sources: spec/fuzz/tokenizer_fuzz.c src/pretokenize.c src/bpe.c src/vocab.c src/unicode_class.c
 */
#include "bpe.h"
#include "pretokenize.h"
#include "vocab.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const vocab *vocabs[2];
static bpe_scratch scratch;

static const vocab *load(const char *name) {
  const char *dir = getenv("CHATGPT_VOCAB_DIR");
  char path[1024], why[256];
  const vocab *v;
  snprintf(path, sizeof path, "%s/%s.bpe", dir && *dir ? dir : "lua/chatgpt/vocab", name);
  if (!(v = vocab_acquire(path, why, sizeof why))) {
    fprintf(stderr, "tokenizer_fuzz: %s\n", why);
    abort();
  }
  return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const unsigned char *s = data + 1;
  size_t n = size ? size - 1 : 0, pos = 0, out = 0, k;
  enum split_pattern pat;
  const vocab *v;
  uint32_t *ids;
  unsigned char *back;
  if (size == 0) return 0;
  if (!vocabs[0]) vocabs[0] = load("o200k_base"), vocabs[1] = load("cl100k_base");
  pat = data[0] & 1 ? SPLIT_CL100K : SPLIT_O200K;
  v = vocabs[data[0] & 1];
  ids = malloc((n + 1) * sizeof *ids);
  back = malloc(n + 1);
  if (!ids || !back) abort();
  while (pos < n) {
    size_t end = pretokenize_next(pat, s, n, pos), got;
    if (end <= pos || end > n) abort();
    got = bpe_encode(v, s + pos, end - pos, &scratch, ids + out);
    if (got == 0 || got > end - pos) abort();
    out += got;
    pos = end;
  }
  for (pos = 0, k = 0; k < out; k++) {
    uint32_t r = ids[k], len;
    if (r >= v->n) abort();
    len = v->off[r + 1] - v->off[r];
    if (pos + len > n) abort();
    memcpy(back + pos, v->bytes + v->off[r], len);
    pos += len;
  }
  if (pos != n || (n && memcmp(back, s, n) != 0)) abort();
  free(ids);
  free(back);
  return 0;
}
