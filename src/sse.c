/* Incremental server-sent-events parser (WHATWG EventSource rules).
 *
 * The hot path is sse_feed -> feed_lines: it finds line ends with memchr
 * (the next LF and the next CR are each searched once and remembered, so a
 * stream without CR costs one memchr per line), and a line that lies whole
 * inside the caller's buffer is parsed in place. Only a line that straddles
 * two feeds is copied into p->line. A data line costs one memcpy into
 * p->data, which callers get NUL-terminated.
 */
#include "sse.h"

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define SSE_BUF_MIN 256

static const char bom_bytes[3] = {'\xEF', '\xBB', '\xBF'};

/* Room for `extra` more bytes plus a NUL after them. Geometric growth, and
 * never a shrink: a stream of small events stops allocating after its
 * largest one. */
static int buf_reserve(sse_buf *b, size_t extra) {
  size_t need, cap;
  char *np;
  if (extra >= SIZE_MAX - b->len) return SSE_NOMEM;
  need = b->len + extra + 1;
  if (need <= b->cap) return SSE_OK;
  cap = b->cap ? b->cap : SSE_BUF_MIN;
  while (cap < need) cap = cap > SIZE_MAX / 2 ? need : cap * 2;
  np = realloc(b->p, cap);
  if (!np) return SSE_NOMEM;
  b->p = np;
  b->cap = cap;
  return SSE_OK;
}

static int buf_append(sse_buf *b, const char *s, size_t n) {
  if (b->cap - b->len <= n && buf_reserve(b, n)) return SSE_NOMEM;
  memcpy(b->p + b->len, s, n);
  b->len += n;
  return SSE_OK;
}

/* Replaces the contents, NUL-terminated (reserve first: the buffer may be
 * empty and unallocated, and memcpy wants a real pointer even for 0). */
static int buf_set(sse_buf *b, const char *s, size_t n) {
  b->len = 0;
  if (buf_reserve(b, n)) return SSE_NOMEM;
  memcpy(b->p, s, n);
  b->p[n] = '\0';
  b->len = n;
  return SSE_OK;
}

/* A blank line: hand the block to the callback if it had a data line, then
 * start a new block either way. The id and retry outlive the block. */
static int dispatch(sse_parser *p) {
  sse_event ev;
  int stop;
  if (!p->has_data) {
    p->type.len = 0;
    return SSE_OK;
  }
  p->data.p[p->data.len] = '\0'; /* has_data: add_data reserved it */
  ev.type = p->type.len ? p->type.p : "message";
  ev.type_len = p->type.len ? p->type.len : 7;
  ev.data = p->data.p;
  ev.data_len = p->data.len;
  ev.id = p->id.len ? p->id.p : "";
  ev.id_len = p->id.len;
  ev.retry = p->retry;
  stop = p->cb ? p->cb(p->ctx, &ev) : 0;
  p->data.len = 0;
  p->type.len = 0;
  p->has_data = 0;
  return stop ? SSE_STOPPED : SSE_OK;
}

/* Appends one data line, preceded by LF unless it is the block's first; the
 * joined length is what max_event caps. */
static int add_data(sse_parser *p, const char *v, size_t n) {
  size_t sep = p->has_data ? 1 : 0;
  size_t room = p->max_event - p->data.len; /* data.len <= max_event */
  if (sep > room || n > room - sep) return SSE_LIMIT;
  if (p->data.cap - p->data.len <= sep + n && buf_reserve(&p->data, sep + n)) return SSE_NOMEM;
  if (sep) p->data.p[p->data.len++] = '\n';
  memcpy(p->data.p + p->data.len, v, n);
  p->data.len += n;
  p->has_data = 1;
  return SSE_OK;
}

/* ASCII digits only, else the field is ignored (so is an empty value); a
 * value past LONG_MAX means "very long", hence clamped rather than ignored. */
static void set_retry(sse_parser *p, const char *v, size_t n) {
  long r = 0;
  size_t i;
  if (n == 0) return;
  for (i = 0; i < n; i++) {
    int d = (unsigned char)v[i] - '0';
    if (d < 0 || d > 9) return;
    r = r > (LONG_MAX - d) / 10 ? LONG_MAX : r * 10 + d;
  }
  p->retry = r;
}

/* One line, without its line end. Field names are case-sensitive and
 * compared with their length, so a name holding NUL matches nothing. */
static int process_line(sse_parser *p, const char *s, size_t n) {
  const char *colon, *v;
  size_t fn, vn;
  if (n == 0) return dispatch(p);
  if (s[0] == ':') return SSE_OK; /* comment, e.g. ": ping" */
  colon = memchr(s, ':', n);
  if (colon) {
    fn = (size_t)(colon - s);
    v = colon + 1;
    vn = n - fn - 1;
    if (vn && *v == ' ') {
      v++;
      vn--;
    }
  } else {
    fn = n;
    v = s + n;
    vn = 0;
  }
  switch (fn) {
  case 4:
    if (memcmp(s, "data", 4) == 0) return add_data(p, v, vn);
    break;
  case 5:
    if (memcmp(s, "event", 5) == 0) return buf_set(&p->type, v, vn);
    if (memcmp(s, "retry", 5) == 0) set_retry(p, v, vn);
    break;
  case 2:
    if (s[0] == 'i' && s[1] == 'd' && !memchr(v, '\0', vn)) return buf_set(&p->id, v, vn);
    break;
  }
  return SSE_OK; /* unknown field: ignored */
}

/* Splits [s, end) into lines. lf and cr hold the next LF / CR at or after s
 * (end when there is none) and are searched again only once s passes them.
 * Invariant on entry and exit: line.len <= max_event. */
static int feed_lines(sse_parser *p, const char *s, const char *end) {
  const char *lf, *cr;
  int rc;
  if (p->after_cr) { /* CR LF split across two feeds */
    p->after_cr = 0;
    if (*s == '\n' && ++s == end) return SSE_OK;
  }
  lf = memchr(s, '\n', (size_t)(end - s));
  if (!lf) lf = end;
  cr = memchr(s, '\r', (size_t)(end - s));
  if (!cr) cr = end;
  for (;;) {
    const char *eol = lf < cr ? lf : cr;
    size_t n = (size_t)(eol - s);
    if (eol == end) { /* unterminated tail: keep it */
      if (n > p->max_event - p->line.len) return SSE_LIMIT;
      return buf_append(&p->line, s, n);
    }
    if (p->line.len) { /* finishes a line from earlier feeds */
      if (n > p->max_event - p->line.len) return SSE_LIMIT;
      if (buf_append(&p->line, s, n)) return SSE_NOMEM;
      n = p->line.len;
      p->line.len = 0;
      rc = process_line(p, p->line.p, n);
    } else { /* the common case: parse in place */
      if (n > p->max_event) return SSE_LIMIT;
      rc = process_line(p, s, n);
    }
    s = eol + 1;
    if (*eol == '\r') {
      if (s == end)
        p->after_cr = 1;
      else if (*s == '\n')
        s++;
    }
    if (rc) return rc;
    if (s == end) return SSE_OK;
    if (lf < s) {
      lf = memchr(s, '\n', (size_t)(end - s));
      if (!lf) lf = end;
    }
    if (cr < s) {
      cr = memchr(s, '\r', (size_t)(end - s));
      if (!cr) cr = end;
    }
  }
}

void sse_init(sse_parser *p, size_t max_event, sse_callback cb, void *ctx) {
  memset(p, 0, sizeof *p);
  p->cb = cb;
  p->ctx = ctx;
  p->max_event = max_event ? max_event : SSE_DEFAULT_MAX_EVENT;
  p->retry = -1;
}

void sse_reset(sse_parser *p) {
  p->line.len = 0;
  p->data.len = 0;
  p->type.len = 0;
  p->id.len = 0;
  p->retry = -1;
  p->has_data = 0;
  p->after_cr = 0;
  p->started = 0;
  p->bom = 0;
  p->failed = 0;
}

/* The BOM may arrive a byte at a time, so its matched prefix is only
 * counted; on a mismatch those bytes turn out to be the start of the first
 * line and are fed before the rest. */
int sse_feed(sse_parser *p, const char *buf, size_t len) {
  const char *s = buf, *end;
  int rc;
  if (p->failed) return p->failed;
  if (len == 0) return SSE_OK;
  end = s + len;
  if (!p->started) {
    while (s < end && p->bom < 3 && *s == bom_bytes[p->bom]) {
      p->bom++;
      s++;
    }
    if (p->bom < 3 && s == end) return SSE_OK; /* still could be a BOM */
    p->started = 1;
    if (p->bom < 3 && p->bom > 0 && (rc = feed_lines(p, bom_bytes, bom_bytes + p->bom)) != SSE_OK)
      return p->failed = rc;
    if (s == end) return SSE_OK;
  }
  rc = feed_lines(p, s, end);
  if (rc) p->failed = rc;
  return rc;
}

void sse_free(sse_parser *p) {
  free(p->line.p);
  free(p->data.p);
  free(p->type.p);
  free(p->id.p);
  memset(p, 0, sizeof *p);
}
