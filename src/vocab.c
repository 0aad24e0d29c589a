/* BPE vocabularies: loading, the process-wide list, lookups. See vocab.h.
 *
 * The file: the line "lua-chatgpt bpe 1\n", the number of ranks n (4 bytes,
 * little-endian), then for each rank from 0 its length (1 byte, 1..255)
 * and its bytes. In memory: the bytes of every rank end to end, their
 * offsets, an open-addressing table of ranks hashed by their bytes, and a
 * direct table for the two-byte strings that every merge starts from:
 * about 2.5 + 12 bytes per token, one allocation. */
#include "vocab.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAGIC     "lua-chatgpt bpe 1\n"
#define MAX_RANKS (1u << 24)
#define MAX_FILE  (64u << 20)

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static vocab *loaded; /* under lock */

static uint32_t hash(const unsigned char *s, size_t len) {
  uint64_t h = 0x9E3779B97F4A7C15ull ^ len, w;
  while (len >= 8) {
    memcpy(&w, s, 8);
    h = (h ^ w) * 0xFF51AFD7ED558CCDull;
    h ^= h >> 32;
    s += 8, len -= 8;
  }
  w = 0;
  memcpy(&w, s, len);
  h = (h ^ w) * 0xC4CEB9FE1A85EC53ull;
  return (uint32_t)(h ^ (h >> 29));
}

uint32_t vocab_rank(const vocab *v, const unsigned char *s, size_t len) {
  uint32_t i, r;
  if (len == 1) return v->byte[s[0]];
  if (len == 2) return v->pair[s[0] << 8 | s[1]];
  if (len > v->maxlen) return VOCAB_NONE;
  for (i = hash(s, len) & v->mask; (r = v->slots[i]) != 0; i = (i + 1) & v->mask) {
    r--;
    if (v->off[r + 1] - v->off[r] == len && memcmp(v->bytes + v->off[r], s, len) == 0) return r;
  }
  return VOCAB_NONE;
}

size_t vocab_memory(const vocab *v) {
  return sizeof *v + (v->n + 1) * sizeof(uint32_t) + v->off[v->n] +
         ((size_t)v->mask + 1) * sizeof(uint32_t) + 65536 * sizeof(uint32_t) + strlen(v->path) + 1;
}

static char *read_file(const char *path, size_t *len, char *why, size_t whylen) {
  FILE *f = fopen(path, "rb");
  char *buf = NULL;
  size_t cap = 0, n = 0, k;
  if (!f) {
    snprintf(why, whylen, "%s: %s", path, strerror(errno));
    return NULL;
  }
  do {
    if (n == cap) {
      char *b = cap >= MAX_FILE ? NULL : realloc(buf, cap = cap ? cap * 2 : 1 << 20);
      if (!b) {
        snprintf(why, whylen, "%s: %s", path, cap >= MAX_FILE ? "too large" : "out of memory");
        free(buf), fclose(f);
        return NULL;
      }
      buf = b;
    }
    n += k = fread(buf + n, 1, cap - n, f);
  } while (k > 0);
  if (ferror(f)) {
    snprintf(why, whylen, "%s: read error", path);
    free(buf), fclose(f);
    return NULL;
  }
  fclose(f);
  *len = n;
  return buf;
}

/* Builds v from the file's contents; a reason in why if they are not a
 * vocabulary of n distinct tokens holding every single byte. */
static int build(vocab *v, const unsigned char *f, size_t len, char *why, size_t whylen) {
  size_t m = sizeof MAGIC - 1, pos, total, size;
  uint32_t n, r, slots;
  uint32_t *off, *table;
  unsigned char *bytes;
  if (len < m + 4 || memcmp(f, MAGIC, m) != 0) {
    snprintf(why, whylen, "not a vocabulary file");
    return 0;
  }
  n = (uint32_t)f[m] | (uint32_t)f[m + 1] << 8 | (uint32_t)f[m + 2] << 16 | (uint32_t)f[m + 3] << 24;
  if (n < 256 || n > MAX_RANKS) {
    snprintf(why, whylen, "bad number of tokens (%lu)", (unsigned long)n);
    return 0;
  }
  for (pos = m + 4, total = 0, r = 0; r < n; r++) {
    if (pos >= len || f[pos] == 0 || f[pos] > len - pos - 1) {
      snprintf(why, whylen, "truncated at token %lu", (unsigned long)r);
      return 0;
    }
    total += f[pos];
    pos += 1 + (size_t)f[pos];
  }
  if (pos != len) {
    snprintf(why, whylen, "trailing bytes after %lu tokens", (unsigned long)n);
    return 0;
  }
  for (slots = 1024; slots < 2 * n; slots *= 2) {}
  size = (n + 1 + (size_t)slots + 65536) * sizeof(uint32_t) + total;
  if (!(v->mem = calloc(1, size))) {
    snprintf(why, whylen, "out of memory");
    return 0;
  }
  off = v->mem;
  table = off + n + 1;
  v->pair = table + slots;
  bytes = (unsigned char *)(v->pair + 65536);
  v->n = n, v->off = off, v->bytes = bytes, v->slots = table, v->mask = slots - 1;
  v->maxlen = 0;
  for (pos = m + 4, total = 0, r = 0; r < n; r++) {
    size_t k = f[pos];
    off[r] = (uint32_t)total;
    memcpy(bytes + total, f + pos + 1, k);
    total += k, pos += 1 + k;
    if (k > v->maxlen) v->maxlen = (uint32_t)k;
  }
  off[n] = (uint32_t)total;
  memset(v->byte, 0xFF, sizeof v->byte);
  memset(v->pair, 0xFF, 65536 * sizeof(uint32_t));
  for (r = 0; r < n; r++) {
    const unsigned char *t = bytes + off[r];
    uint32_t k = off[r + 1] - off[r], i;
    if (vocab_rank(v, t, k) != VOCAB_NONE) {
      snprintf(why, whylen, "token %lu repeats an earlier one", (unsigned long)r);
      return 0;
    }
    if (k == 1) v->byte[t[0]] = r;
    else if (k == 2) v->pair[t[0] << 8 | t[1]] = r;
    else {
      for (i = hash(t, k) & v->mask; table[i] != 0; i = (i + 1) & v->mask) {}
      table[i] = r + 1;
    }
  }
  for (r = 0; r < 256; r++)
    if (v->byte[r] == VOCAB_NONE) {
      snprintf(why, whylen, "no token for byte %lu", (unsigned long)r);
      return 0;
    }
  return 1;
}

static void destroy(vocab *v) {
  if (!v) return;
  free(v->mem);
  free(v->path);
  free(v);
}

/* The list is keyed by the file's real path, so that "vocab/x.bpe" and
 * "/abs/vocab/x.bpe" share one copy. */
const vocab *vocab_acquire(const char *given, char *why, size_t whylen) {
  vocab *v;
  unsigned char *f;
  size_t len;
  char *path = realpath(given, NULL);
  if (!path) {
    snprintf(why, whylen, "%s: %s", given, strerror(errno));
    return NULL;
  }
  pthread_mutex_lock(&lock);
  for (v = loaded; v; v = v->next)
    if (strcmp(v->path, path) == 0) {
      v->refs++;
      pthread_mutex_unlock(&lock);
      free(path);
      return v;
    }
  if (!(v = calloc(1, sizeof *v))) {
    pthread_mutex_unlock(&lock);
    snprintf(why, whylen, "out of memory");
    free(path);
    return NULL;
  }
  v->path = path;
  if (!(f = (unsigned char *)read_file(path, &len, why, whylen))) {
    destroy(v);
    v = NULL;
  } else {
    if (!build(v, f, len, why, whylen)) {
      size_t k = strlen(why);
      snprintf(why + k, whylen - k, " (%s)", path);
      destroy(v);
      v = NULL;
    } else {
      v->refs = 1;
      v->next = loaded;
      loaded = v;
    }
    free(f);
  }
  pthread_mutex_unlock(&lock);
  return v;
}

void vocab_release(const vocab *cv) {
  vocab **p;
  if (!cv) return;
  pthread_mutex_lock(&lock);
  for (p = &loaded; *p; p = &(*p)->next)
    if (*p == cv) {
      if (--(*p)->refs == 0) {
        vocab *v = *p;
        *p = v->next;
        destroy(v);
      }
      break;
    }
  pthread_mutex_unlock(&lock);
}
