/* A BPE vocabulary: the byte string of every rank, and the rank of a byte
 * string. Loaded from a file (lua/chatgpt/vocab/SOURCES.md describes the
 * format) once per process and path, shared by every tokenizer of every
 * Lua state, and freed with the last one; loading and releasing take a
 * mutex, lookups need none (a loaded vocabulary is never written). */
#ifndef CHATGPT_VOCAB_H
#define CHATGPT_VOCAB_H

#include <stddef.h>
#include <stdint.h>

#define VOCAB_NONE UINT32_MAX /* no such token */

typedef struct vocab {
  uint32_t n;            /* ranks 0 .. n-1 */
  uint32_t maxlen;       /* the longest token's bytes */
  const uint32_t *off;   /* rank r is bytes[off[r] .. off[r+1]) */
  const unsigned char *bytes;
  const uint32_t *slots; /* open addressing: rank + 1, 0 for empty */
  uint32_t mask;
  uint32_t byte[256];    /* the rank of each single byte */
  uint32_t *pair;        /* the rank of each two-byte string (65,536) */
  /* the process-wide list, under the mutex */
  char *path;
  int refs;
  struct vocab *next;
  void *mem;
} vocab;

/* The vocabulary in the file at path, loaded now unless this process has
 * it already; NULL and a reason in why (size whylen) if the file cannot be
 * read or is not a vocabulary. Each success is one reference. */
const vocab *vocab_acquire(const char *path, char *why, size_t whylen);
void vocab_release(const vocab *v);

/* The rank of s[0 .. len), or VOCAB_NONE. */
uint32_t vocab_rank(const vocab *v, const unsigned char *s, size_t len);

/* Bytes of the vocabulary in memory: what vocab_acquire allocated. */
size_t vocab_memory(const vocab *v);

#endif
