/* The byte-pair merge: see bpe.h. */
#include "bpe.h"

#include <stdlib.h>
#include <string.h>

#define SHORT 128 /* pieces up to this many bytes merge in place */

/* The tokens of a short piece: parts are kept in arrays and the lowest
 * pair found by a scan, as tiktoken does; for a few dozen bytes that beats
 * any heap. start[i] is where part i begins, pair[i] the rank of parts i
 * and i+1 joined. */
static size_t merge_short(const vocab *v, const unsigned char *s, size_t len, uint32_t *out) {
  uint32_t start[SHORT + 1], pair[SHORT], tok[SHORT];
  size_t m = len, i, k;
  for (i = 0; i < len; i++) {
    start[i] = (uint32_t)i;
    tok[i] = v->byte[s[i]];
    pair[i] = i + 1 < len ? v->pair[s[i] << 8 | s[i + 1]] : VOCAB_NONE;
  }
  start[len] = (uint32_t)len;
  for (;;) {
    uint32_t low = VOCAB_NONE;
    for (i = 0, k = 0; i + 1 < m; i++)
      if (pair[i] < low) low = pair[i], k = i;
    if (low == VOCAB_NONE) break;
    /* parts k and k+1 become one, of token low */
    tok[k] = low;
    memmove(start + k + 1, start + k + 2, (m - k - 1) * sizeof *start);
    memmove(tok + k + 1, tok + k + 2, (m - k - 2) * sizeof *tok);
    memmove(pair + k + 1, pair + k + 2, (m - k - 2) * sizeof *pair);
    m--;
    pair[k] = k + 1 < m ? vocab_rank(v, s + start[k], start[k + 2] - start[k]) : VOCAB_NONE;
    if (k > 0) pair[k - 1] = vocab_rank(v, s + start[k - 1], start[k + 1] - start[k - 1]);
  }
  memcpy(out, tok, m * sizeof *tok);
  return m;
}

/* A long piece: the parts are a linked list indexed by the byte each
 * begins at, and every part that has a right neighbour sits in a binary
 * heap ordered by (rank of the pair, position), which is the order in
 * which tiktoken's scan would merge them. */
typedef struct {
  uint32_t *next, *prev, *pair, *tok, *heap, *at; /* at: index in heap */
  size_t size;                                     /* entries in heap */
} list;

static int below(const list *l, uint32_t a, uint32_t b) {
  return l->pair[a] < l->pair[b] || (l->pair[a] == l->pair[b] && a < b);
}

static void place(list *l, size_t i, uint32_t x) {
  l->heap[i] = x;
  l->at[x] = (uint32_t)i;
}

static void up(list *l, size_t i) {
  uint32_t x = l->heap[i];
  while (i > 0 && below(l, x, l->heap[(i - 1) / 2])) {
    place(l, i, l->heap[(i - 1) / 2]);
    i = (i - 1) / 2;
  }
  place(l, i, x);
}

static void down(list *l, size_t i) {
  uint32_t x = l->heap[i];
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= l->size) break;
    if (c + 1 < l->size && below(l, l->heap[c + 1], l->heap[c])) c++;
    if (!below(l, l->heap[c], x)) break;
    place(l, i, l->heap[c]);
    i = c;
  }
  place(l, i, x);
}

/* The pair that starts at part a has a new rank: move it in the heap. */
static void rerank(list *l, uint32_t a, uint32_t rank) {
  uint32_t old = l->pair[a];
  l->pair[a] = rank;
  if (rank < old) up(l, l->at[a]);
  else down(l, l->at[a]);
}

/* The rank of the parts from a up to (not including) part b */
static uint32_t span(const vocab *v, const unsigned char *s, size_t len, uint32_t a, uint32_t b) {
  return vocab_rank(v, s + a, (b == UINT32_MAX ? len : b) - a);
}

static size_t merge_long(const vocab *v, const unsigned char *s, size_t len, list *l,
                         uint32_t *out) {
  uint32_t i, n = (uint32_t)len, end = UINT32_MAX;
  size_t m = 0;
  for (i = 0; i < n; i++) {
    l->next[i] = i + 1 < n ? i + 1 : end;
    l->prev[i] = i > 0 ? i - 1 : end;
    l->tok[i] = v->byte[s[i]];
    l->pair[i] = i + 1 < n ? v->pair[s[i] << 8 | s[i + 1]] : VOCAB_NONE;
  }
  /* ordered by position, ties included, every index is already a heap
   * once sifted from the bottom up */
  l->size = n;
  for (i = 0; i < n; i++) place(l, i, i);
  for (i = n / 2; i-- > 0;) down(l, i);
  while (l->size > 0 && l->pair[l->heap[0]] != VOCAB_NONE) {
    uint32_t a = l->heap[0], b = l->next[a], c = l->next[b], p = l->prev[a];
    l->tok[a] = l->pair[a];
    /* b leaves the list and the heap */
    l->next[a] = c;
    if (c != end) l->prev[c] = a;
    l->size--;
    if (l->at[b] != l->size) {
      uint32_t last = l->heap[l->size];
      size_t k = l->at[b];
      place(l, k, last);
      up(l, k);
      down(l, l->at[last]);
    }
    rerank(l, a, c == end ? VOCAB_NONE : span(v, s, len, a, l->next[c]));
    if (p != end) rerank(l, p, span(v, s, len, p, c));
  }
  for (i = 0; i != end; i = l->next[i]) out[m++] = l->tok[i];
  return m;
}

size_t bpe_encode(const vocab *v, const unsigned char *s, size_t len, bpe_scratch *w,
                  uint32_t *out) {
  uint32_t r = vocab_rank(v, s, len);
  list l;
  if (r != VOCAB_NONE) {
    out[0] = r;
    return 1;
  }
  if (len <= SHORT) return merge_short(v, s, len, out);
  if (w->cap < len) {
    uint32_t *mem = malloc(len * 6 * sizeof *mem);
    if (!mem) return 0;
    free(w->mem);
    w->mem = mem, w->cap = len;
  }
  l.next = w->mem, l.prev = l.next + len, l.pair = l.prev + len;
  l.tok = l.pair + len, l.heap = l.tok + len, l.at = l.heap + len;
  return merge_long(v, s, len, &l, out);
}

void bpe_scratch_free(bpe_scratch *w) {
  free(w->mem);
  w->mem = NULL, w->cap = 0;
}
