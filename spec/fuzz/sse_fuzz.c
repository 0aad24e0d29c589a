/* libFuzzer target for src/sse.c: however the bytes are cut into feeds, the
 * parser must deliver the same events and end in the same status.
 *
 * Input: byte 0 picks the cap (max_event), byte 1 whether and where the
 * callback stops parsing, bytes 2-3 seed the splits; the rest is the stream.
 * It is fed whole to one parser, then, through a second parser, in random
 * pieces (zero-length ones included), byte by byte (up to 4 KiB; random
 * pieces above, to keep big seeds fast), and in random pieces again, with
 * sse_reset between the runs. Each run's events (type, data, id, retry) and final
 * status are serialized into a log; any difference between logs aborts. So
 * does a broken callback invariant, or a failure that is not sticky.
 */
#include "sse.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  unsigned char *p;
  size_t len, cap;
} logbuf;

typedef struct {
  logbuf log;
  size_t n, stop_after, max_event;
} run;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void die(const char *why)
{
  fprintf(stderr, "sse_fuzz: %s\n", why);
  abort();
}

static void put(logbuf *b, const void *s, size_t n)
{
  if (b->cap - b->len < n) {
    size_t cap = b->cap ? b->cap : 1024;
    while (cap - b->len < n)
      cap *= 2;
    b->p = realloc(b->p, cap);
    if (!b->p)
      die("out of memory");
    b->cap = cap;
  }
  if (n)
    memcpy(b->p + b->len, s, n);
  b->len += n;
}

static void put_str(logbuf *b, const char *s, size_t n)
{
  put(b, &n, sizeof n);
  put(b, s, n);
}

static int cb(void *ctx, const sse_event *ev)
{
  run *r = ctx;
  if (ev->data[ev->data_len] != '\0' || ev->type[ev->type_len] != '\0' ||
      ev->id[ev->id_len] != '\0')
    die("event string not NUL-terminated");
  /* the default "message" may be longer than a tiny cap; all else fits */
  if (ev->type_len == 0 || ev->data_len > r->max_event ||
      ev->id_len > r->max_event ||
      (ev->type_len > r->max_event &&
       (ev->type_len != 7 || memcmp(ev->type, "message", 7) != 0)))
    die("event field length out of bounds");
  if (memchr(ev->id, '\0', ev->id_len))
    die("id holds NUL");
  if (ev->retry < -1)
    die("negative retry");
  put_str(&r->log, ev->type, ev->type_len);
  put_str(&r->log, ev->data, ev->data_len);
  put_str(&r->log, ev->id, ev->id_len);
  put(&r->log, &ev->retry, sizeof ev->retry);
  r->n++;
  return r->stop_after && r->n == r->stop_after;
}

static uint32_t rng(uint32_t *s)
{
  uint32_t x = *s;
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  return *s = x;
}

/* mode 0: whole, 1: byte by byte, 2: random pieces. Appends the status. */
static void feed(sse_parser *p, run *r, const char *in, size_t len, int mode,
                 uint32_t *seed)
{
  size_t off = 0;
  int rc = SSE_OK;
  if (mode == 0) {
    rc = sse_feed(p, in, len);
    off = len;
  }
  while (off < len || (mode == 2 && rng(seed) % 8 == 0)) {
    size_t n, before = r->n;
    int got;
    if (mode == 1)
      n = 1;
    else
      n = rng(seed) % ((1u << (rng(seed) % 10)) + 1);
    if (n > len - off)
      n = len - off;
    got = sse_feed(p, n ? in + off : NULL, n);
    off += n;
    if (rc == SSE_OK) {
      rc = got;
    } else if (got != rc || r->n != before) {
      die("failure not sticky");
    }
  }
  put(&r->log, &rc, sizeof rc);
}

static void compare(const run *a, const run *b, const char *what)
{
  if (a->log.len != b->log.len || memcmp(a->log.p, b->log.p, a->log.len)) {
    fprintf(stderr, "sse_fuzz: %s: %zu vs %zu events\n", what, a->n, b->n);
    abort();
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static const size_t caps[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 16, 31,
                                   64, 300, 4096, 0 };
  sse_parser pa, pb;
  run ra, rb;
  const char *in;
  size_t len, cap, stop;
  uint32_t seed;
  if (size < 4)
    return 0;
  cap = caps[data[0] & 15];
  stop = (data[1] & 7) == 0 ? (size_t)(data[1] >> 3) + 1 : 0;
  seed = ((uint32_t)data[2] << 8 | data[3]) * 2654435761u | 1;
  in = (const char *)data + 4;
  len = size - 4;

  memset(&ra, 0, sizeof ra);
  memset(&rb, 0, sizeof rb);
  ra.stop_after = rb.stop_after = stop;
  sse_init(&pa, cap, cb, &ra);
  sse_init(&pb, cap, cb, &rb);
  ra.max_event = rb.max_event = pa.max_event;

  feed(&pa, &ra, in, len, 0, &seed);

  feed(&pb, &rb, in, len, 2, &seed);
  compare(&ra, &rb, "whole vs random pieces");

  sse_reset(&pb);
  rb.log.len = 0;
  rb.n = 0;
  feed(&pb, &rb, in, len, len <= 4096 ? 1 : 2, &seed);
  compare(&ra, &rb, "whole vs byte by byte (or pieces) after sse_reset");

  sse_reset(&pb);
  rb.log.len = 0;
  rb.n = 0;
  feed(&pb, &rb, in, len, 2, &seed);
  compare(&ra, &rb, "whole vs other random pieces after sse_reset");

  if (pb.line.cap > 2 * pb.max_event + 256 ||
      pb.data.cap > 2 * pb.max_event + 256)
    die("buffer grew past the cap");

  sse_free(&pa);
  sse_free(&pb);
  free(ra.log.p);
  free(rb.log.p);
  return 0;
}
