/* C unit tests for src/sse.c. No framework, no Lua.
 *
 * Every case is an input byte string plus the events it must give (type,
 * data, id, retry) and the final sse_feed status. check_case() feeds it
 * whole, byte by byte, split into two at every point (inputs up to 300
 * bytes) and in random pieces (fixed seed, zero-length pieces included),
 * and each way must give exactly the expected events. After a failure every
 * later feed must return the same status and deliver nothing (sticky).
 *
 * Prints one line per failing case, then "N passed, N failed".
 *   build/sse_test            run the tests
 *   build/sse_test --bench [MiB]  time a realistic stream fed in 16 KiB pieces
 * WIRE_DIR (default ../shared/wire) holds the recorded *.sse captures.
 */
#include "sse.h"

#include <dirent.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int n_passed, n_failed;

/* ------------------------------------------------------------------ */
/* small helpers                                                       */

static void *xmalloc(size_t n)
{
  void *p = malloc(n ? n : 1);
  if (!p) {
    fprintf(stderr, "out of memory\n");
    exit(2);
  }
  return p;
}

static void *xrealloc(void *p, size_t n)
{
  p = realloc(p, n ? n : 1);
  if (!p) {
    fprintf(stderr, "out of memory\n");
    exit(2);
  }
  return p;
}

static char *xmemdup(const char *s, size_t n)
{
  char *d = xmalloc(n + 1);
  if (n)
    memcpy(d, s, n);
  d[n] = '\0';
  return d;
}

static uint64_t rng_state;

static uint64_t rng(void)
{
  uint64_t x = rng_state;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return rng_state = x;
}

/* Printable rendering of a byte string for failure messages (static
 * buffers, rotating, so two can appear in one printf). */
static const char *esc(const char *s, size_t n)
{
  static char bufs[4][200];
  static int k;
  char *o = bufs[k++ & 3];
  size_t i, j = 0;
  o[j++] = '"';
  for (i = 0; i < n && j < 180; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '\n') {
      o[j++] = '\\';
      o[j++] = 'n';
    } else if (c == '\r') {
      o[j++] = '\\';
      o[j++] = 'r';
    } else if (c == '"' || c == '\\') {
      o[j++] = '\\';
      o[j++] = (char)c;
    } else if (c < 0x20 || c >= 0x7f) {
      j += (size_t)snprintf(o + j, 8, "\\x%02X", c);
    } else {
      o[j++] = (char)c;
    }
  }
  if (i < n)
    j += (size_t)snprintf(o + j, 16, "...(%zu)", n);
  o[j++] = '"';
  o[j] = '\0';
  return o;
}

static const char *rcname(int rc)
{
  switch (rc) {
  case SSE_OK: return "SSE_OK";
  case SSE_STOPPED: return "SSE_STOPPED";
  case SSE_LIMIT: return "SSE_LIMIT";
  case SSE_NOMEM: return "SSE_NOMEM";
  }
  return "?";
}

/* ------------------------------------------------------------------ */
/* recording events                                                    */

typedef struct { const char *s; size_t n; } str;
#define S(x) { x, sizeof(x) - 1 }

/* An expected (or recorded) event. */
typedef struct { str type, data, id; long retry; } xev;
#define EV(t, d, i, r) { S(t), S(d), S(i), r }
#define MSG(d) EV("message", d, "", -1)
#define NONE { { NULL, 0 }, { NULL, 0 }, { NULL, 0 }, 0 }

typedef struct {
  xev *v;
  size_t n, cap;
  size_t stop_after;   /* return nonzero from the callback at this event */
  int fed_after_fail;  /* events delivered by a feed after a failure */
  const char *bad;     /* a broken callback invariant */
} rec;

static void rec_clear(rec *r)
{
  size_t i;
  for (i = 0; i < r->n; i++) {
    free((char *)r->v[i].type.s);
    free((char *)r->v[i].data.s);
    free((char *)r->v[i].id.s);
  }
  r->n = 0;
  r->fed_after_fail = 0;
  r->bad = NULL;
}

static void rec_free(rec *r)
{
  rec_clear(r);
  free(r->v);
  r->v = NULL;
  r->cap = 0;
}

static int record_cb(void *ctx, const sse_event *ev)
{
  rec *r = ctx;
  xev *e;
  if (ev->data[ev->data_len] != '\0')
    r->bad = "data not NUL-terminated";
  else if (ev->type[ev->type_len] != '\0' || ev->id[ev->id_len] != '\0')
    r->bad = "type or id not NUL-terminated";
  else if (ev->type_len == 0)
    r->bad = "empty type";
  else if (memchr(ev->id, '\0', ev->id_len))
    r->bad = "id holds NUL";
  if (r->n == r->cap) {
    r->cap = r->cap ? r->cap * 2 : 16;
    r->v = xrealloc(r->v, r->cap * sizeof *r->v);
  }
  e = &r->v[r->n++];
  e->type.s = xmemdup(ev->type, ev->type_len);
  e->type.n = ev->type_len;
  e->data.s = xmemdup(ev->data, ev->data_len);
  e->data.n = ev->data_len;
  e->id.s = xmemdup(ev->id, ev->id_len);
  e->id.n = ev->id_len;
  e->retry = ev->retry;
  return r->stop_after && r->n == r->stop_after;
}

/* Feeds in[] cut into the pieces cuts[0..ncuts) (their sum is len) and
 * returns the final status; checks that a failure is sticky. */
static int run_pieces(sse_parser *p, rec *r, const char *in, size_t len,
                      const size_t *cuts, size_t ncuts)
{
  size_t i, off = 0;
  int rc = SSE_OK;
  for (i = 0; i < ncuts; i++) {
    int got;
    size_t before = r->n;
    got = sse_feed(p, cuts[i] ? in + off : NULL, cuts[i]);
    off += cuts[i];
    if (rc != SSE_OK) {
      if (got != rc && !r->bad)
        r->bad = "failure not sticky";
      if (r->n != before)
        r->fed_after_fail = 1;
    } else {
      rc = got;
    }
  }
  if (off != len)
    r->bad = "test bug: pieces do not add up";
  return rc;
}

static int str_eq(str a, str b)
{
  return a.n == b.n && (a.n == 0 || memcmp(a.s, b.s, a.n) == 0);
}

/* Compares a run's result with the expected one; writes the first
 * difference into msg and returns 0, or returns 1. */
static int same(const rec *r, int rc, const xev *want, size_t nwant,
                int want_rc, char *msg, size_t msgsz)
{
  size_t i;
  if (r->bad) {
    snprintf(msg, msgsz, "%s", r->bad);
    return 0;
  }
  if (r->fed_after_fail) {
    snprintf(msg, msgsz, "events delivered after a failure");
    return 0;
  }
  for (i = 0; i < r->n && i < nwant; i++) {
    const xev *g = &r->v[i], *w = &want[i];
    if (!str_eq(g->type, w->type)) {
      snprintf(msg, msgsz, "event %zu type %s, want %s", i + 1,
               esc(g->type.s, g->type.n), esc(w->type.s, w->type.n));
      return 0;
    }
    if (!str_eq(g->data, w->data)) {
      snprintf(msg, msgsz, "event %zu data %s, want %s", i + 1,
               esc(g->data.s, g->data.n), esc(w->data.s, w->data.n));
      return 0;
    }
    if (!str_eq(g->id, w->id)) {
      snprintf(msg, msgsz, "event %zu id %s, want %s", i + 1,
               esc(g->id.s, g->id.n), esc(w->id.s, w->id.n));
      return 0;
    }
    if (g->retry != w->retry) {
      snprintf(msg, msgsz, "event %zu retry %ld, want %ld", i + 1, g->retry,
               w->retry);
      return 0;
    }
  }
  if (r->n != nwant) {
    snprintf(msg, msgsz, "%zu events, want %zu", r->n, nwant);
    return 0;
  }
  if (rc != want_rc) {
    snprintf(msg, msgsz, "returned %s, want %s", rcname(rc), rcname(want_rc));
    return 0;
  }
  return 1;
}

static void pass(void) { n_passed++; }

static void fail(const char *name, const char *fmt, const char *what)
{
  n_failed++;
  printf("FAIL %s: ", name);
  printf(fmt, what);
  putchar('\n');
}

/* The three-ways (and more) check of one case. */
static void check_case(const char *name, const char *in, size_t len,
                       size_t max_event, size_t stop_after, int want_rc,
                       const xev *want, size_t nwant)
{
  sse_parser p;
  rec r = { 0 };
  size_t *cuts = xmalloc((len + 2) * sizeof *cuts);
  size_t i, k, nrand;
  char msg[600], how[64];
  int rc, ok = 1;

  r.stop_after = stop_after;

  /* whole */
  sse_init(&p, max_event, record_cb, &r);
  cuts[0] = len;
  rc = run_pieces(&p, &r, in, len, cuts, 1);
  if (!same(&r, rc, want, nwant, want_rc, msg, sizeof msg)) {
    strcpy(how, "whole");
    ok = 0;
  }
  sse_free(&p);
  rec_clear(&r);

  /* byte by byte */
  if (ok) {
    sse_init(&p, max_event, record_cb, &r);
    for (i = 0; i < len; i++)
      cuts[i] = 1;
    rc = run_pieces(&p, &r, in, len, cuts, len);
    if (!same(&r, rc, want, nwant, want_rc, msg, sizeof msg)) {
      strcpy(how, "byte by byte");
      ok = 0;
    }
    sse_free(&p);
    rec_clear(&r);
  }

  /* one parser, sse_reset between runs from here on */
  sse_init(&p, max_event, record_cb, &r);
  for (k = 0; ok && len <= 300 && k <= len; k++) {
    cuts[0] = k;
    cuts[1] = len - k;
    sse_reset(&p);
    rc = run_pieces(&p, &r, in, len, cuts, 2);
    if (!same(&r, rc, want, nwant, want_rc, msg, sizeof msg)) {
      snprintf(how, sizeof how, "split at %zu", k);
      ok = 0;
    }
    rec_clear(&r);
  }

  rng_state = 0x9E3779B97F4A7C15u;
  nrand = len <= 300 ? 64 : 8;
  for (k = 0; ok && k < nrand; k++) {
    size_t n = 0, off = 0;
    unsigned maxpiece = 1u << (rng() % 8);
    while (off < len) {
      size_t c = (size_t)(rng() % (maxpiece + 1));
      if (c > len - off)
        c = len - off;
      cuts[n++] = c;
      off += c;
      if (n == len + 1) {                 /* too many zeros: finish */
        cuts[n - 1] += len - off;
        off = len;
      }
    }
    sse_reset(&p);
    rc = run_pieces(&p, &r, in, len, cuts, n);
    if (!same(&r, rc, want, nwant, want_rc, msg, sizeof msg)) {
      snprintf(how, sizeof how, "random pieces #%zu", k);
      ok = 0;
    }
    rec_clear(&r);
  }
  sse_free(&p);
  rec_free(&r);
  free(cuts);

  if (ok) {
    pass();
  } else {
    char line[700];
    snprintf(line, sizeof line, "[%s] %s", how, msg);
    fail(name, "%s", line);
  }
}

/* ------------------------------------------------------------------ */
/* the table                                                           */

#define MAXEV 6
typedef struct {
  const char *name;
  str in;
  size_t max_event;    /* 0: the default */
  size_t stop_after;   /* 0: never stop */
  int rc;
  xev ev[MAXEV];       /* ends at the first with type.s == NULL */
} tcase;

#define CHUNK "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\"," \
  "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"}}]}"

static const tcase cases[] = {
  /* line endings */
  { "LF", S("data: a\n\n"), 0, 0, SSE_OK, { MSG("a") } },
  { "CRLF", S("data: a\r\n\r\n"), 0, 0, SSE_OK, { MSG("a") } },
  { "CR", S("data: a\r\r"), 0, 0, SSE_OK, { MSG("a") } },
  { "mixed endings join", S("data: a\r\ndata: b\rdata: c\n\r\n"), 0, 0, SSE_OK,
    { MSG("a\nb\nc") } },
  { "CRLF is one line end, not two", S("data: a\r\ndata: b\r\n\r\n"), 0, 0,
    SSE_OK, { MSG("a\nb") } },
  { "LF CR is two line ends", S("data: a\n\rdata: b\n\n"), 0, 0, SSE_OK,
    { MSG("a"), MSG("b") } },
  { "CR CR LF: blank line then an eaten LF", S("data: a\r\r\ndata: b\r\n\n"),
    0, 0, SSE_OK, { MSG("a"), MSG("b") } },
  { "blank CR at the very end dispatches", S("data: a\n\r"), 0, 0, SSE_OK,
    { MSG("a") } },
  { "leading blank lines", S("\r\n\n\r\r\ndata: a\n\n"), 0, 0, SSE_OK,
    { MSG("a") } },

  /* BOM */
  { "BOM skipped", S("\xEF\xBB\xBF" "data: a\n\n"), 0, 0, SSE_OK,
    { MSG("a") } },
  { "BOM then CRLF", S("\xEF\xBB\xBF\r\ndata: a\r\n\r\n"), 0, 0, SSE_OK,
    { MSG("a") } },
  { "only a BOM", S("\xEF\xBB\xBF"), 0, 0, SSE_OK, { NONE } },
  { "second BOM is not skipped",
    S("\xEF\xBB\xBF\xEF\xBB\xBF" "data: a\n\ndata: b\n\n"), 0, 0, SSE_OK,
    { MSG("b") } },
  { "BOM prefix EF BB kept as line bytes",
    S("\xEF\xBB" "data: a\n\ndata: b\n\n"), 0, 0, SSE_OK, { MSG("b") } },
  { "BOM prefix EF kept as line bytes", S("\xEF" "data: a\n\ndata: b\n\n"), 0,
    0, SSE_OK, { MSG("b") } },
  { "EF BB 41 counts toward the line cap", S("\xEF\xBB\x41\x42\n\n"), 3, 0,
    SSE_LIMIT, { NONE } },
  { "BOM prefix alone over the cap", S("\xEF\xBB" "x\n\n"), 1, 0, SSE_LIMIT,
    { NONE } },
  { "EF BB then LF: prefix is its own line", S("\xEF\xBB\ndata: a\n\n"), 0, 0,
    SSE_OK, { MSG("a") } },
  { "BOM mid-stream is not skipped",
    S("data: a\n\n\xEF\xBB\xBF" "data: b\n\n"), 0, 0, SSE_OK, { MSG("a") } },
  { "BOM then comment", S("\xEF\xBB\xBF: hi\ndata: a\n\n"), 0, 0, SSE_OK,
    { MSG("a") } },

  /* fields and values */
  { "one space removed", S("data: a\n\n"), 0, 0, SSE_OK, { MSG("a") } },
  { "only one space removed", S("data:  a\n\n"), 0, 0, SSE_OK, { MSG(" a") } },
  { "no space", S("data:a\n\n"), 0, 0, SSE_OK, { MSG("a") } },
  { "tab is not removed", S("data:\ta\n\n"), 0, 0, SSE_OK, { MSG("\ta") } },
  { "trailing space kept", S("data: a \n\n"), 0, 0, SSE_OK, { MSG("a ") } },
  { "colon in value", S("data: a:b: c\n\n"), 0, 0, SSE_OK, { MSG("a:b: c") } },
  { "no colon: empty data", S("data\n\n"), 0, 0, SSE_OK, { MSG("") } },
  { "no colon twice: one LF", S("data\ndata\n\n"), 0, 0, SSE_OK,
    { MSG("\n") } },
  { "empty value counts as data", S("data:\n\n"), 0, 0, SSE_OK, { MSG("") } },
  { "space-only value is empty", S("data: \n\n"), 0, 0, SSE_OK, { MSG("") } },
  { "multi data lines", S("data: a\ndata: b\ndata: c\n\n"), 0, 0, SSE_OK,
    { MSG("a\nb\nc") } },
  { "empty lines inside data", S("data: a\ndata:\ndata\ndata: b\n\n"), 0, 0,
    SSE_OK, { MSG("a\n\n\nb") } },
  { "field names are case-sensitive", S("Data: a\nDATA: b\n\ndata: c\n\n"), 0,
    0, SSE_OK, { MSG("c") } },
  { "space before colon: other field", S("data : a\n\ndata: b\n\n"), 0, 0,
    SSE_OK, { MSG("b") } },
  { "leading space: other field", S(" data: a\n\ndata: b\n\n"), 0, 0, SSE_OK,
    { MSG("b") } },
  { "unknown fields ignored",
    S("foo: bar\ndata: a\nx\ndatax: y\ndat: z\n\n"), 0, 0, SSE_OK,
    { MSG("a") } },
  { "NUL in data kept", S("data: a\0b\n\n"), 0, 0, SSE_OK, { MSG("a\0b") } },
  { "NUL in field name: no field", S("da\0ta: a\n\ndata: b\n\n"), 0, 0, SSE_OK,
    { MSG("b") } },
  { "UTF-8 intact at every split",
    S("data: h\xC3\xA9llo \xE2\x82\xAC \xF0\x9F\x98\x80\n\n"), 0, 0, SSE_OK,
    { MSG("h\xC3\xA9llo \xE2\x82\xAC \xF0\x9F\x98\x80") } },

  /* comments */
  { "comment ignored", S(": hello\ndata: a\n\n"), 0, 0, SSE_OK, { MSG("a") } },
  { "keep-alive pings only", S(": ping\n\n: ping\n\n:\n\n"), 0, 0, SSE_OK,
    { NONE } },
  { "comment between data lines", S("data: a\n: x\ndata: b\n\n"), 0, 0, SSE_OK,
    { MSG("a\nb") } },
  { "comment with CRLF before event", S(": ping\r\n\r\ndata: a\r\n\r\n"), 0, 0,
    SSE_OK, { MSG("a") } },

  /* event type */
  { "event type set", S("event: add\ndata: a\n\n"), 0, 0, SSE_OK,
    { EV("add", "a", "", -1) } },
  { "event type reset after dispatch", S("event: add\ndata: a\n\ndata: b\n\n"),
    0, 0, SSE_OK, { EV("add", "a", "", -1), MSG("b") } },
  { "event type reset by blank line without data",
    S("event: add\n\ndata: b\n\n"), 0, 0, SSE_OK, { MSG("b") } },
  { "empty event type is message", S("event:\ndata: a\n\n"), 0, 0, SSE_OK,
    { MSG("a") } },
  { "event without colon is message", S("event\ndata: a\n\n"), 0, 0, SSE_OK,
    { MSG("a") } },
  { "last event line wins", S("event: x\nevent: y\ndata: a\n\n"), 0, 0,
    SSE_OK, { EV("y", "a", "", -1) } },
  { "event after data in same block", S("data: a\nevent: late\n\n"), 0, 0,
    SSE_OK, { EV("late", "a", "", -1) } },
  { "event type with NUL", S("event: a\0b\ndata: x\n\n"), 0, 0, SSE_OK,
    { EV("a\0b", "x", "", -1) } },
  { "event: error block",
    S("event: error\ndata: {\"error\":{\"message\":\"boom\","
      "\"type\":\"server_error\"}}\n\n"), 0, 0, SSE_OK,
    { EV("error", "{\"error\":{\"message\":\"boom\",\"type\":\"server_error\"}}",
         "", -1) } },

  /* id */
  { "id set", S("id: 1\ndata: a\n\n"), 0, 0, SSE_OK, { EV("message", "a", "1", -1) } },
  { "id persists across events", S("id: 7\ndata: a\n\ndata: b\n\n"), 0, 0,
    SSE_OK, { EV("message", "a", "7", -1), EV("message", "b", "7", -1) } },
  { "id survives a block without data", S("id: 3\n\ndata: a\n\n"), 0, 0,
    SSE_OK, { EV("message", "a", "3", -1) } },
  { "id with NUL ignored", S("id: 1\ndata: a\n\nid: x\0y\ndata: b\n\n"), 0, 0,
    SSE_OK, { EV("message", "a", "1", -1), EV("message", "b", "1", -1) } },
  { "empty id clears", S("id: 1\ndata: a\n\nid\ndata: b\n\n"), 0, 0, SSE_OK,
    { EV("message", "a", "1", -1), MSG("b") } },
  { "id space rules", S("id:  x \ndata: a\n\n"), 0, 0, SSE_OK,
    { EV("message", "a", " x ", -1) } },
  { "id changes", S("id: 1\ndata: a\n\nid: 2\ndata: b\n\n"), 0, 0, SSE_OK,
    { EV("message", "a", "1", -1), EV("message", "b", "2", -1) } },

  /* retry */
  { "retry digits", S("retry: 1500\ndata: a\n\n"), 0, 0, SSE_OK,
    { EV("message", "a", "", 1500) } },
  { "retry persists", S("retry: 10\ndata: a\n\ndata: b\n\n"), 0, 0, SSE_OK,
    { EV("message", "a", "", 10), EV("message", "b", "", 10) } },
  { "retry non-digits ignored",
    S("retry: 10\nretry: 15a\nretry: -1\nretry: 1.5\nretry:  20\nretry: +3\n"
      "data: a\n\n"), 0, 0, SSE_OK, { EV("message", "a", "", 10) } },
  { "retry empty ignored", S("retry: 5\nretry:\nretry\ndata: a\n\n"), 0, 0,
    SSE_OK, { EV("message", "a", "", 5) } },
  { "retry zero", S("retry: 0\ndata: a\n\n"), 0, 0, SSE_OK,
    { EV("message", "a", "", 0) } },
  { "retry huge clamps", S("retry: 99999999999999999999999999\ndata: a\n\n"), 0,
    0, SSE_OK, { EV("message", "a", "", LONG_MAX) } },
  { "retry alone dispatches nothing", S("retry: 5\n\n"), 0, 0, SSE_OK,
    { NONE } },

  /* blocks */
  { "blank lines with no data", S("\n\n\n\n"), 0, 0, SSE_OK, { NONE } },
  { "block without data dispatches nothing",
    S("event: x\nid: 3\n\ndata: a\n\n"), 0, 0, SSE_OK,
    { EV("message", "a", "3", -1) } },
  { "unterminated block dropped", S("data: a\n"), 0, 0, SSE_OK, { NONE } },
  { "unterminated line dropped", S("data: a"), 0, 0, SSE_OK, { NONE } },
  { "unterminated CR block dropped", S("data: a\r"), 0, 0, SSE_OK,
    { NONE } },
  { "only the last block dropped", S("data: a\n\ndata: b\n"), 0, 0, SSE_OK,
    { MSG("a") } },
  { "[DONE] is a normal event", S("data: " CHUNK "\n\ndata: [DONE]\n\n"), 0, 0,
    SSE_OK, { MSG(CHUNK), MSG("[DONE]") } },
  { "several events, one feed",
    S("data: 1\n\ndata: 2\n\nevent: e\ndata: 3\n\n: x\n\ndata: 4\n\n"), 0, 0,
    SSE_OK, { MSG("1"), MSG("2"), EV("e", "3", "", -1), MSG("4") } },
  { "empty input", S(""), 0, 0, SSE_OK, { NONE } },

  /* limits */
  { "line at the cap", S("data: 0123456789\n\n"), 16, 0, SSE_OK,
    { MSG("0123456789") } },
  { "line over the cap", S("data: a\n\ndata: 01234567890\n\ndata: b\n\n"), 16,
    0, SSE_LIMIT, { MSG("a") } },
  { "unterminated line over the cap", S("data: a\n\ndata: 01234567890"), 16, 0,
    SSE_LIMIT, { MSG("a") } },
  { "comment over the cap", S(": 0123456789abcdef\ndata: a\n\n"), 16, 0,
    SSE_LIMIT, { NONE } },
  { "data at the cap", S("data: 01234567\ndata: 0123456\n\n"), 16, 0, SSE_OK,
    { MSG("01234567\n0123456") } },
  { "data over the cap", S("data: x\n\ndata: 01234567\ndata: 01234567\n\n"),
    16, 0, SSE_LIMIT, { MSG("x") } },
  { "empty data lines add up past the cap",
    S("data\ndata\ndata\ndata\ndata\n\ndata\ndata\ndata\ndata\ndata\ndata\n\n"),
    4, 0, SSE_LIMIT, { MSG("\n\n\n\n") } },
  { "cap of one", S("d\n\nx\n\n:\n\ndata\n\n"), 1, 0, SSE_LIMIT,
    { NONE } },
  { "cap below strlen(\"message\") (fuzz find)", S("\xA1\xF3\rdata\r\r"), 4,
    0, SSE_OK, { MSG("") } },
  { "CRLF does not count toward the cap", S("data: 01\r\n\r\n"), 8, 0, SSE_OK,
    { MSG("01") } },

  /* stopping */
  { "stop at the first event", S("data: a\n\ndata: b\n\ndata: c\n\n"), 0, 1,
    SSE_STOPPED, { MSG("a") } },
  { "stop at the second event", S("data: a\r\n\r\ndata: b\r\n\r\ndata: c\r\n\r\n"),
    0, 2, SSE_STOPPED, { MSG("a"), MSG("b") } },
  { "stop at the last event", S("data: a\n\ndata: b\r"), 0, 1, SSE_STOPPED,
    { MSG("a") } },
};

static void run_table(void)
{
  size_t i, n;
  for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const tcase *c = &cases[i];
    for (n = 0; n < MAXEV && c->ev[n].type.s; n++)
      ;
    check_case(c->name, c->in.s, c->in.n, c->max_event, c->stop_after, c->rc,
               c->ev, n);
  }
}

/* ------------------------------------------------------------------ */
/* cases that need built inputs or look at the parser between feeds    */

#define CHECK(cond, name, what)                                               \
  do {                                                                        \
    if (!(cond)) {                                                            \
      fail(name, "%s", what);                                                 \
      goto done;                                                              \
    }                                                                         \
  } while (0)

static void test_long_line(size_t n)
{
  char *in = xmalloc(n + 16), *want = xmalloc(n);
  size_t i, len;
  xev ev;
  char name[3][80];
  snprintf(name[0], sizeof name[0], "very long line (%zu bytes)", n);
  snprintf(name[1], sizeof name[1], "%zu-byte line at an exact cap", n);
  snprintf(name[2], sizeof name[2], "%zu-byte line one over the cap", n);
  memcpy(in, "data: ", 6);
  for (i = 0; i < n; i++)
    want[i] = (char)('a' + i % 26);
  memcpy(in + 6, want, n);
  memcpy(in + 6 + n, "\r\n\r\n", 4);
  len = n + 10;
  ev.type.s = "message";
  ev.type.n = 7;
  ev.data.s = want;
  ev.data.n = n;
  ev.id.s = "";
  ev.id.n = 0;
  ev.retry = -1;
  check_case(name[0], in, len, 0, 0, SSE_OK, &ev, 1);
  /* the same line (n + 6 bytes) at an exact cap, and one byte over it */
  check_case(name[1], in, len, n + 6, 0, SSE_OK, &ev, 1);
  check_case(name[2], in, len, n + 5, 0, SSE_LIMIT, NULL, 0);
  free(in);
  free(want);
}

static void test_long_unterminated_memory(void)
{
  const char *name = "unterminated line over the cap stops buffering";
  sse_parser p;
  rec r = { 0 };
  char piece[1000];
  int rc = SSE_OK, i;
  memset(piece, 'x', sizeof piece);
  sse_init(&p, 4096, record_cb, &r);
  CHECK(sse_feed(&p, "data: ", 6) == SSE_OK, name, "first feed failed");
  for (i = 0; i < 100 && rc == SSE_OK; i++)
    rc = sse_feed(&p, piece, sizeof piece);
  CHECK(rc == SSE_LIMIT, name, "no SSE_LIMIT");
  CHECK(i == 5, name, "SSE_LIMIT not at the feed that crossed the cap");
  CHECK(p.line.cap <= 8192, name, "line buffer grew past the cap");
  CHECK(sse_feed(&p, "\n\n", 2) == SSE_LIMIT && r.n == 0, name, "not sticky");
  pass();
done:
  sse_free(&p);
  rec_free(&r);
}

static void test_many_events(void)
{
  size_t n = 1000, i, len = 0;
  char *in = xmalloc(n * 32);
  xev *want = xmalloc(n * sizeof *want);
  char (*nums)[16] = xmalloc(n * sizeof *nums);
  for (i = 0; i < n; i++) {
    int k = snprintf(nums[i], sizeof nums[i], "%zu", i);
    len += (size_t)sprintf(in + len, "data: %s\n\n", nums[i]);
    want[i].type.s = "message";
    want[i].type.n = 7;
    want[i].data.s = nums[i];
    want[i].data.n = (size_t)k;
    want[i].id.s = "";
    want[i].id.n = 0;
    want[i].retry = -1;
  }
  check_case("1000 events in one input", in, len, 0, 0, SSE_OK, want, n);
  free(in);
  free(want);
  free(nums);
}

/* After SSE_STOPPED nothing more is parsed until sse_reset, and the stop
 * left id/retry/partial state that reset must forget. */
static void test_stop_sticky_then_reset(void)
{
  const char *name = "SSE_STOPPED is sticky, reset resumes";
  sse_parser p;
  rec r = { 0 };
  static const char in[] = "id: 9\nretry: 5\ndata: a\n\ndata: b\n\n";
  r.stop_after = 1;
  sse_init(&p, 0, record_cb, &r);
  CHECK(sse_feed(&p, in, sizeof in - 1) == SSE_STOPPED, name,
        "first feed did not stop");
  CHECK(r.n == 1, name, "more than the stopping event delivered");
  CHECK(sse_feed(&p, "data: c\n\n", 9) == SSE_STOPPED && r.n == 1, name,
        "feed after stop was parsed");
  CHECK(sse_feed(&p, NULL, 0) == SSE_STOPPED, name, "empty feed not sticky");
  sse_reset(&p);
  r.stop_after = 0;
  CHECK(sse_feed(&p, "data: z\n\n", 9) == SSE_OK && r.n == 2, name,
        "no event after reset");
  CHECK(r.v[1].id.n == 0 && r.v[1].retry == -1, name,
        "reset kept the id or the retry");
  CHECK(r.v[1].data.n == 1 && r.v[1].data.s[0] == 'z', name, "wrong data");
  pass();
done:
  sse_free(&p);
  rec_free(&r);
}

static void test_limit_sticky_then_reset(void)
{
  const char *name = "SSE_LIMIT is sticky, reset clears it";
  sse_parser p;
  rec r = { 0 };
  sse_init(&p, 8, record_cb, &r);
  CHECK(sse_feed(&p, "data: 0123456\n", 14) == SSE_LIMIT, name, "no limit");
  CHECK(sse_feed(&p, "\n", 1) == SSE_LIMIT, name, "not sticky (1)");
  CHECK(sse_feed(&p, "data: a\n\n", 9) == SSE_LIMIT && r.n == 0, name,
        "not sticky (2)");
  sse_reset(&p);
  CHECK(sse_feed(&p, "data: a\n\n", 9) == SSE_OK && r.n == 1, name,
        "reset did not clear the limit");
  pass();
done:
  sse_free(&p);
  rec_free(&r);
}

/* Reset in the middle of everything: partial line, partial block, event
 * type, id, retry, a pending CR; capacity is kept, the BOM check is redone. */
static void test_reset_forgets(void)
{
  const char *name = "sse_reset forgets the stream, keeps capacity";
  sse_parser p;
  rec r = { 0 };
  static const char a[] = "\xEF\xBB\xBFid: 7\nretry: 5\nevent: x\ndata: part\n"
                          "data: tail-without-line-end";
  static const char b[] = "\xEF\xBB\xBF" "data: fresh\n\n";
  size_t caps[4];
  sse_init(&p, 0, record_cb, &r);
  CHECK(sse_feed(&p, a, sizeof a - 1) == SSE_OK && r.n == 0, name,
        "unexpected event");
  caps[0] = p.line.cap;
  caps[1] = p.data.cap;
  caps[2] = p.type.cap;
  caps[3] = p.id.cap;
  CHECK(caps[0] && caps[1] && caps[2] && caps[3], name, "buffers not used");
  sse_reset(&p);
  CHECK(p.line.cap == caps[0] && p.data.cap == caps[1] &&
        p.type.cap == caps[2] && p.id.cap == caps[3], name,
        "capacity not kept");
  CHECK(sse_feed(&p, b, sizeof b - 1) == SSE_OK && r.n == 1, name,
        "BOM after reset not skipped");
  CHECK(r.v[0].data.n == 5 && memcmp(r.v[0].data.s, "fresh", 5) == 0, name,
        "old partial data leaked");
  CHECK(r.v[0].type.n == 7 && r.v[0].id.n == 0 && r.v[0].retry == -1, name,
        "old type, id or retry leaked");
  pass();
done:
  sse_free(&p);
  rec_free(&r);
}

static void test_reset_mid_bom(void)
{
  const char *name = "sse_reset in the middle of a BOM";
  sse_parser p;
  rec r = { 0 };
  sse_init(&p, 0, record_cb, &r);
  /* EF BB, reset: those bytes are gone, "data: a" is a clean first line */
  CHECK(sse_feed(&p, "\xEF\xBB", 2) == SSE_OK, name, "feed 1");
  sse_reset(&p);
  CHECK(sse_feed(&p, "data: a\n\n", 9) == SSE_OK && r.n == 1, name,
        "prefix survived reset");
  /* EF, reset, BB BF...: the match restarts, so BB BF are line bytes */
  sse_reset(&p);
  CHECK(sse_feed(&p, "\xEF", 1) == SSE_OK, name, "feed 2");
  sse_reset(&p);
  CHECK(sse_feed(&p, "\xBB\xBF" "data: b\n\n", 11) == SSE_OK && r.n == 1, name,
        "BOM match continued across reset");
  pass();
done:
  sse_free(&p);
  rec_free(&r);
}

static void test_crlf_across_feeds(void)
{
  const char *name = "CRLF split across feeds, by hand";
  sse_parser p;
  rec r = { 0 };
  sse_init(&p, 0, record_cb, &r);
  CHECK(sse_feed(&p, "data: a\r", 8) == SSE_OK, name, "feed 1");
  CHECK(sse_feed(&p, "\ndata: b\r", 9) == SSE_OK, name, "feed 2");
  CHECK(sse_feed(&p, "\n\r", 2) == SSE_OK && r.n == 1, name,
        "CR at feed end did not dispatch");
  CHECK(sse_feed(&p, "\n", 1) == SSE_OK && r.n == 1, name,
        "LF after CR made another line");
  CHECK(r.v[0].data.n == 3 && memcmp(r.v[0].data.s, "a\nb", 3) == 0, name,
        "wrong data");
  pass();
done:
  sse_free(&p);
  rec_free(&r);
}

static void test_init_free(void)
{
  const char *name = "init defaults, NULL callback, free zeroes";
  sse_parser p, zero;
  memset(&zero, 0, sizeof zero);
  sse_init(&p, 0, NULL, NULL);
  CHECK(p.max_event == SSE_DEFAULT_MAX_EVENT, name, "default cap not used");
  CHECK(sse_feed(&p, NULL, 0) == SSE_OK, name, "empty feed failed");
  CHECK(sse_feed(&p, "id: 1\nevent: e\ndata: a\n\n", 24) == SSE_OK, name,
        "NULL callback failed");
  CHECK(sse_feed(&p, "data: partial", 13) == SSE_OK, name, "partial failed");
  sse_free(&p);
  CHECK(memcmp(&p, &zero, sizeof p) == 0, name, "sse_free did not zero");
  sse_free(&p);                         /* twice is harmless */
  pass();
done:;
}

/* ------------------------------------------------------------------ */
/* the wire captures                                                   */

static char *read_file(const char *path, size_t *len)
{
  FILE *f = fopen(path, "rb");
  char *b = NULL;
  size_t n = 0, cap = 0, got;
  if (!f)
    return NULL;
  do {
    if (cap - n < 4096) {
      cap = cap ? cap * 2 : 65536;
      b = xrealloc(b, cap);
    }
    got = fread(b + n, 1, cap - n, f);
    n += got;
  } while (got);
  fclose(f);
  *len = n;
  return b;
}

static int cmp_names(const void *a, const void *b)
{
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_wire_file(const char *path, const char *fname)
{
  size_t len, ndata = 0, i, k, n;
  char *in = read_file(path, &len);
  size_t *cuts;
  char name[300], msg[600];
  sse_parser p;
  rec whole = { 0 }, r = { 0 };
  int rc;
  snprintf(name, sizeof name, "wire %s", fname);
  if (!in) {
    fail(name, "%s", "cannot read");
    return;
  }
  for (i = 0; i + 5 <= len; i++)
    if ((i == 0 || in[i - 1] == '\n') && memcmp(in + i, "data:", 5) == 0)
      ndata++;
  cuts = xmalloc((len + 1) * sizeof *cuts);
  sse_init(&p, 0, record_cb, &whole);
  cuts[0] = len;
  rc = run_pieces(&p, &whole, in, len, cuts, 1);
  sse_free(&p);
  if (rc != SSE_OK || whole.bad) {
    fail(name, "whole: %s", whole.bad ? whole.bad : rcname(rc));
    goto out;
  }
  if (whole.n != ndata) {
    snprintf(msg, sizeof msg, "%zu events for %zu data: lines", whole.n, ndata);
    fail(name, "%s", msg);
    goto out;
  }
  if (whole.n && memmem(in, len, "data: [DONE]", 12) &&
      !str_eq(whole.v[whole.n - 1].data, (str)S("[DONE]"))) {
    fail(name, "%s", "last event is not [DONE]");
    goto out;
  }
  sse_init(&p, 0, record_cb, &r);
  rng_state = 12345;
  for (k = 0; k < 6; k++) {
    const char *how = k == 0 ? "byte by byte" : "random pieces";
    if (k == 0) {
      for (n = 0; n < len; n++)
        cuts[n] = 1;
    } else {
      size_t off = 0, maxpiece = (size_t)1 << (2 * k + 1);
      for (n = 0; off < len; n++) {
        cuts[n] = 1 + (size_t)(rng() % maxpiece);
        if (cuts[n] > len - off)
          cuts[n] = len - off;
        off += cuts[n];
      }
    }
    sse_reset(&p);
    rc = run_pieces(&p, &r, in, len, cuts, n);
    if (!same(&r, rc, whole.v, whole.n, SSE_OK, msg, sizeof msg)) {
      char line[700];
      snprintf(line, sizeof line, "[%s] %s", how, msg);
      fail(name, "%s", line);
      sse_free(&p);
      goto out;
    }
    rec_clear(&r);
  }
  sse_free(&p);
  pass();
out:
  rec_free(&whole);
  rec_free(&r);
  free(cuts);
  free(in);
}

static void test_wire(void)
{
  const char *dir = getenv("WIRE_DIR");
  DIR *d;
  struct dirent *de;
  char **names = NULL;
  size_t n = 0, i;
  if (!dir || !*dir)
    dir = "../shared/wire";
  d = opendir(dir);
  if (!d)
    return;                             /* no captures here: skip */
  while ((de = readdir(d))) {
    size_t l = strlen(de->d_name);
    if (l > 4 && strcmp(de->d_name + l - 4, ".sse") == 0) {
      names = xrealloc(names, (n + 1) * sizeof *names);
      names[n++] = xmemdup(de->d_name, l);
    }
  }
  closedir(d);
  if (n)
    qsort(names, n, sizeof *names, cmp_names);
  for (i = 0; i < n; i++) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, names[i]);
    test_wire_file(path, names[i]);
    free(names[i]);
  }
  free(names);
}

/* ------------------------------------------------------------------ */
/* a long stream: flat memory, and the benchmark                       */

static const char default_chunk[] =
  "data: {\"id\":\"chatcmpl-D7mVuXauQqcmOCb3XP6IL6yHwJaAL\",\"object\":"
  "\"chat.completion.chunk\",\"created\":1770747154,\"model\":"
  "\"gpt-4.1-2025-04-14\",\"service_tier\":\"default\",\"system_fingerprint\":"
  "\"fp_8b22347a3e\",\"choices\":[{\"index\":0,\"delta\":{\"content\":"
  "\"Hello\"},\"logprobs\":null,\"finish_reason\":null}],\"usage\":null,"
  "\"obfuscation\":\"OXJHANtgvy\"}";

typedef struct { size_t n, bytes, bad; } counter;

static int count_cb(void *ctx, const sse_event *ev)
{
  counter *c = ctx;
  c->n++;
  c->bytes += ev->data_len;
  if (ev->data_len < 2 || ev->data[0] != '{' ||
      ev->data[ev->data_len - 1] != '}' || ev->data[ev->data_len] != '\0')
    c->bad++;
  return 0;
}

/* A block of realistic chunks whose content lengths vary (so line ends fall
 * everywhere relative to the pieces); returns its length and event count. */
static char *make_block(const char *line, size_t linelen, size_t target,
                        size_t *len, size_t *nev)
{
  const char *hello = memmem(line, linelen, "\"Hello\"", 7);
  size_t pre = hello ? (size_t)(hello - line) + 1 : linelen;
  char *b = xmalloc(target + 4096);
  size_t n = 0, k = 0;
  while (n < target) {
    size_t clen = k % 17, i;
    memcpy(b + n, line, pre);
    n += pre;
    if (hello) {
      for (i = 0; i < clen; i++)
        b[n++] = (char)('a' + (k + i) % 26);
      memcpy(b + n, hello + 6, linelen - pre - 5);
      n += linelen - pre - 5;
    }
    b[n++] = '\n';
    b[n++] = '\n';
    k++;
  }
  *len = n;
  *nev = k;
  return b;
}

static const char *wire_line(char **owned, size_t *len)
{
  const char *dir = getenv("WIRE_DIR");
  char path[4096];
  char *f, *nl;
  size_t flen;
  *owned = NULL;
  if (!dir || !*dir)
    dir = "../shared/wire";
  snprintf(path, sizeof path, "%s/%s", dir,
           "chat_stream_include_usage_cached_gpt-4.1_2026-02.sse");
  f = read_file(path, &flen);
  if (f) {
    /* the second line: a content delta */
    char *l = memmem(f, flen, "\n\ndata: ", 8);
    if (l && (nl = memchr(l + 2, '\n', flen - (size_t)(l + 2 - f)))) {
      *owned = f;
      *len = (size_t)(nl - (l + 2));
      return l + 2;
    }
    free(f);
  }
  *len = sizeof default_chunk - 1;
  return default_chunk;
}

/* Feeds total bytes of the block, cycled, in pieces of `piece` bytes. */
static void stream(sse_parser *p, const char *block, size_t blen,
                   size_t total, size_t piece, size_t *maxcap, int *rc)
{
  size_t done = 0, off = 0;
  *rc = SSE_OK;
  *maxcap = 0;
  while (done < total && *rc == SSE_OK) {
    size_t n = piece;
    if (n > blen - off)
      n = blen - off;
    *rc = sse_feed(p, block + off, n);
    off += n;
    done += n;
    if (off == blen)
      off = 0;
    if (p->line.cap > *maxcap)
      *maxcap = p->line.cap;
    if (p->data.cap > *maxcap)
      *maxcap = p->data.cap;
  }
}

static void test_big_stream(void)
{
  const char *name = "long stream in 4 KiB pieces, memory flat";
  size_t mib = 100, blen, nev, maxcap, total, reps;
  const char *env = getenv("SSE_TEST_STREAM_MIB");
  char *block, msg[200];
  sse_parser p;
  counter c = { 0, 0, 0 };
  int rc;
  /* 100 MiB takes ~0.1 s even under ASan (memchr/memcpy bound), so it is
   * only cut down under valgrind. */
  if (getenv("CHATGPT_VALGRIND"))
    mib = 4;
  if (env && *env)
    mib = (size_t)strtoul(env, NULL, 10);
  block = make_block(default_chunk, sizeof default_chunk - 1, 1 << 20, &blen,
                     &nev);
  reps = (mib << 20) / blen + 1;
  total = reps * blen;
  sse_init(&p, 0, count_cb, &c);
  stream(&p, block, blen, total, 4096, &maxcap, &rc);
  if (rc != SSE_OK) {
    fail(name, "returned %s", rcname(rc));
  } else if (c.n != reps * nev || c.bad) {
    snprintf(msg, sizeof msg, "%zu events (%zu bad), want %zu", c.n, c.bad,
             reps * nev);
    fail(name, "%s", msg);
  } else if (maxcap >= 64 * 1024 || p.type.cap >= 64 * 1024 ||
             p.id.cap >= 64 * 1024) {
    snprintf(msg, sizeof msg, "buffer capacity reached %zu bytes", maxcap);
    fail(name, "%s", msg);
  } else {
    pass();
  }
  sse_free(&p);
  free(block);
}

static double now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Two figures: a 1 MiB block cycled (cache-resident, like the buffer curl
 * has just written into), and one 100 MiB buffer read once (cold memory). */
static int bench_one(const char *line, size_t linelen, size_t blocksz,
                     size_t mib, const char *what)
{
  char *block;
  size_t blen, nev, reps, total, maxcap = 0;
  sse_parser p;
  counter c = { 0, 0, 0 };
  double t0, t1, best = 1e9;
  int rc, round;
  block = make_block(line, linelen, blocksz, &blen, &nev);
  reps = (mib << 20) / blen + 1;
  total = reps * blen;
  for (round = 0; round < 3; round++) {
    c.n = c.bytes = c.bad = 0;
    sse_init(&p, 0, count_cb, &c);
    t0 = now();
    stream(&p, block, blen, total, 16384, &maxcap, &rc);
    t1 = now();
    sse_free(&p);
    if (rc != SSE_OK || c.bad || c.n != reps * nev) {
      printf("bench: wrong result (%s, %zu bad)\n", rcname(rc), c.bad);
      return 1;
    }
    if (t1 - t0 < best)
      best = t1 - t0;
  }
  printf("bench %s: %.1f MiB, %zu events of ~%zu bytes, 16 KiB pieces: "
         "%.0f MB/s, %.1f ns/event (best of 3: %.4f s), max buffer %zu bytes\n",
         what, (double)total / (1 << 20), c.n, total / c.n,
         (double)total / best / 1e6, best * 1e9 / (double)c.n, best, maxcap);
  free(block);
  return 0;
}

static int bench(size_t mib)
{
  char *owned;
  size_t linelen;
  const char *line = wire_line(&owned, &linelen);
  int rc;
  printf("bench line (%s): %.*s\n", owned ? "wire" : "built-in",
         (int)(linelen > 100 ? 100 : linelen), line);
  rc = bench_one(line, linelen, 1 << 20, mib, "hot 1 MiB block cycled");
  if (!rc)
    rc = bench_one(line, linelen, mib << 20, mib, "cold one-pass buffer");
  free(owned);
  return rc;
}

int main(int argc, char **argv)
{
  if (argc > 1 && strcmp(argv[1], "--bench") == 0)
    return bench(argc > 2 ? (size_t)strtoul(argv[2], NULL, 10) : 100);

  run_table();
  test_long_line(100000);
  test_long_unterminated_memory();
  test_many_events();
  test_stop_sticky_then_reset();
  test_limit_sticky_then_reset();
  test_reset_forgets();
  test_reset_mid_bom();
  test_crlf_across_feeds();
  test_init_free();
  test_wire();
  test_big_stream();

  printf("%d passed, %d failed\n", n_passed, n_failed);
  return n_failed ? 1 : 0;
}
