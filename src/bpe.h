/* The byte-pair merge of one piece of text (pretokenize.h cuts the text),
 * as tiktoken does it: a piece that is a token is that token; otherwise it
 * starts as single bytes, and the adjacent pair whose joined bytes have
 * the lowest rank (the leftmost of equals) is merged until no pair is a
 * token. Short pieces merge in place; a long one (a megabyte of one
 * character is one piece) keeps its pairs in a heap, so that it takes
 * O(n log n) rather than tiktoken's O(n^2). */
#ifndef CHATGPT_BPE_H
#define CHATGPT_BPE_H

#include <stddef.h>
#include <stdint.h>

#include "vocab.h"

/* Memory for long pieces, kept between calls (its owner frees it). */
typedef struct {
  uint32_t *mem;
  size_t cap; /* bytes of piece it has room for */
} bpe_scratch;

/* Writes the tokens of s[0 .. len) (1 <= len < 2^32) to out, which has
 * room for len of them, and returns how many; 0 when scratch memory could
 * not be had. */
size_t bpe_encode(const vocab *v, const unsigned char *s, size_t len, bpe_scratch *w,
                  uint32_t *out);

void bpe_scratch_free(bpe_scratch *w);

#endif
