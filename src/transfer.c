/* Transfers: see transfer.h. The engine (engine.c) owns their place in its
 * lists and drives curl; this file owns the rest: the callbacks curl calls,
 * the buffers they fill, and the Lua methods. */
#include "transfer.h"
#include "compat.h"
#include "curl_errors.h"
#include "defaults.h"
#include "form.h"
#include "json.h"

#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <lauxlib.h>

/* Appends n bytes unless that makes b longer than max: 0 ok, 1 over the
 * cap, 2 out of memory. Geometric growth; never shrinks. */
static int tbuf_add(tbuf *b, const char *s, size_t n, size_t max) {
  if (n > max - b->len || b->len + n > max) return 1;
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 1024;
    char *p;
    while (cap < b->len + n + 1) cap *= 2;
    if ((p = realloc(b->p, cap)) == NULL) return 2;
    b->p = p;
    b->cap = cap;
  }
  memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = '\0';
  return 0;
}

static void tbuf_free(tbuf *b) {
  free(b->p);
  b->p = NULL;
  b->len = b->cap = 0;
}

/* ---- libcurl callbacks: plain C, no Lua ------------------------------ */

static size_t on_header(char *data, size_t size, size_t n, void *ud) {
  transfer *t = (transfer *)ud;
  size_t len = size * n;
  t->last_byte = engine_clock();
  t->received += len;
  if (len >= 5 && memcmp(data, "HTTP/", 5) == 0) t->hdrs.len = 0; /* 1xx, then the real one */
  switch (tbuf_add(&t->hdrs, data, len, t->max_header)) {
  case 0: return len;
  case 1: t->abort = AB_HEADER; return 0;
  default: t->abort = AB_NOMEM; return 0;
  }
}

/* Events go into one flat queue: [type_len][data_len][type][data] records,
 * so a burst of chunks costs no allocation once the queue has grown. */
static int on_event(void *ctx, const sse_event *ev) {
  transfer *t = (transfer *)ctx;
  uint32_t head[2];
  int plain = ev->type_len == 7 && memcmp(ev->type, "message", 7) == 0;
  if (t->done_seen) return 0; /* nothing counts after [DONE] */
  if (plain && ev->data_len == 6 && memcmp(ev->data, "[DONE]", 6) == 0) {
    t->done_seen = 1;
    engine_mark_ready(t);
    return 0;
  }
  head[0] = plain ? 0 : (uint32_t)ev->type_len;
  head[1] = (uint32_t)ev->data_len;
  if (tbuf_add(&t->events, (const char *)head, sizeof head, SIZE_MAX) ||
      tbuf_add(&t->events, ev->type, head[0], SIZE_MAX) ||
      tbuf_add(&t->events, ev->data, ev->data_len, SIZE_MAX)) {
    t->abort = AB_NOMEM;
    return 1;
  }
  engine_mark_ready(t);
  return 0;
}

/* A piece of a 2xx body on a "bytes" endpoint: one record of the same
 * queue, with no type. Nothing caps the queue: Lua takes it at every poll,
 * and the point of this mode is a body too large to keep whole. */
static size_t queue_bytes(transfer *t, const char *data, size_t len) {
  uint32_t head[2];
  if (len > UINT32_MAX) {
    t->abort = AB_NOMEM;
    return 0;
  }
  head[0] = 0;
  head[1] = (uint32_t)len;
  if (tbuf_add(&t->events, (const char *)head, sizeof head, SIZE_MAX) ||
      tbuf_add(&t->events, data, len, SIZE_MAX)) {
    t->abort = AB_NOMEM;
    return 0;
  }
  engine_mark_ready(t);
  return len;
}

#if LIBCURL_VERSION_NUM >= 0x075000
/* Called once the connection (TLS included) is ready, new or reused, just
 * before the request goes out: what tells a connect timeout from a total
 * one. */
static int on_prereq(void *ud, char *primary_ip, char *local_ip, int primary_port, int local_port) {
  (void)primary_ip;
  (void)local_ip;
  (void)primary_port;
  (void)local_port;
  ((transfer *)ud)->connected = 1;
  return CURL_PREREQFUNC_OK;
}
#endif

static int was_connected(transfer *t) {
#if LIBCURL_VERSION_NUM >= 0x075000
  return t->connected;
#else
  curl_off_t v = 0;
  return curl_easy_getinfo(t->easy, CURLINFO_PRETRANSFER_TIME_T, &v) == CURLE_OK && v > 0;
#endif
}

/* How the body is read; 0 while it cannot be told yet. A 2xx answer on a
 * "bytes" endpoint goes to the queue as it comes. Only a 2xx answer
 * to a stream request may be SSE: text/event-stream says so; without it
 * (servers that omit the type or send text/plain, which the official SDKs
 * read as SSE) the first byte that is not white space decides: '{' or '['
 * is a whole JSON body (a server that ignored stream = true), anything
 * else SSE. An error answer is plain JSON. */
static int decide(transfer *t, const char *data, size_t len) {
  long code = 0;
  char *ct = NULL;
  size_t i = 0;
  if (t->stream) {
    curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_getinfo(t->easy, CURLINFO_CONTENT_TYPE, &ct);
    if (code >= 200 && code < 300) {
      if (t->stream == ENDPOINT_BYTES) {
        t->bytes_on = 1;
      } else if (ct && strncasecmp(ct, "text/event-stream", 17) == 0) {
        t->sse_on = 1;
      } else {
        while (i < len && strchr(" \t\r\n", data[i]) && data[i]) i++;
        if (i == len) return 0;
        t->sse_on = data[i] != '{' && data[i] != '[';
      }
    }
  }
  t->decided = 1;
  return 1;
}

/* Feeds SSE bytes; returns what on_write returns. They count against
 * max_stream as curl hands them over, decompressed: a small gzip body
 * may expand to any size. */
static size_t feed_sse(transfer *t, const char *data, size_t len) {
  if (len > t->max_stream - t->streamed) { /* streamed <= max_stream */
    t->abort = AB_STREAM;
    return 0;
  }
  t->streamed += len;
  switch (sse_feed(&t->sse, data, len)) {
  case SSE_OK: return len;
  case SSE_LIMIT: t->abort = AB_EVENT; return 0;
  case SSE_STOPPED: return t->abort ? 0 : len;
  default: t->abort = AB_NOMEM; return 0;
  }
}

static size_t on_write(char *data, size_t size, size_t n, void *ud) {
  transfer *t = (transfer *)ud;
  size_t len = size * n;
  t->last_byte = engine_clock();
  t->received += len;
  if (!t->body_seen) { /* the idle timeout starts now */
    t->body_seen = 1;
    if (t->idle > 0) engine_due(t, t->last_byte + t->idle);
  }
  /* undecided: leading white space waits in body (never on a "bytes"
   * endpoint: its first byte decides) */
  if (t->bytes_on) return queue_bytes(t, data, len);
  if (!t->decided && decide(t, data, len) && t->bytes_on) return queue_bytes(t, data, len);
  if (t->decided && t->sse_on && t->body.len) {
    size_t held = t->body.len;
    t->body.len = 0;
    if (feed_sse(t, t->body.p, held) != held) return 0;
  }
  if (t->sse_on) return feed_sse(t, data, len);
  switch (tbuf_add(&t->body, data, len, t->max_body)) {
  case 0: return len;
  case 1: t->abort = AB_BODY; return 0;
  default: t->abort = AB_NOMEM; return 0;
  }
}

/* ---- the transfer userdata ------------------------------------------- */

static transfer *checktransfer(lua_State *L) {
  return (transfer *)luaL_checkudata(L, 1, TRANSFER_TYPE);
}

static transfer *totransfer(lua_State *L) {
  transfer *t = checktransfer(L);
  if (t->state == ST_CLOSED) luaL_error(L, "attempt to use a closed transfer");
  return t;
}

/* Leaves the multi without a result: the caller gave up on it. */
static void cancel(lua_State *L, transfer *t) {
  if (t->state == ST_RUNNING) {
    t->abort = AB_CANCEL;
    engine_finish(t, CURLE_ABORTED_BY_CALLBACK);
  }
  engine_forget(L, t);
}

/* close, __close and __gc: idempotent. */
static int transfer_close(lua_State *L) {
  transfer *t = checktransfer(L);
  if (t->state == ST_CLOSED) return 0;
  cancel(L, t);
  curl_mime_free(t->mime); /* also takes it off the handle */
  t->mime = NULL;
  if (t->easy) endpoint_give(t->endpoint, t->easy);
  t->easy = NULL;
  tbuf_free(&t->body);
  tbuf_free(&t->hdrs);
  tbuf_free(&t->events);
  sse_free(&t->sse);
  t->state = ST_CLOSED;
  lua_pushnil(L); /* the endpoint can go now */
  compat_setuservalue(L, 1);
  return 0;
}

static int transfer_cancel(lua_State *L) {
  transfer *t = checktransfer(L);
  if (t->state != ST_CLOSED) cancel(L, t);
  return 0;
}

/* (Re)starts the exchange: a retry reuses the handle and its options. */
static int transfer_start(lua_State *L) {
  transfer *t = totransfer(L);
  engine *e;
  luaL_argcheck(L, t->state != ST_RUNNING, 1, "transfer already running");
  e = engine_get(L);
  if (t->eng && t->eng != e) return luaL_error(L, "chatgpt: the engine is closed");
  engine_unmark_ready(t);
  t->body.len = t->hdrs.len = t->events.len = t->ev_off = 0;
  sse_reset(&t->sse);
  t->decided = t->sse_on = t->bytes_on = t->done_seen = t->body_seen = t->connected = 0;
  t->abort = AB_NONE;
  t->form.failed = 0;
  t->result = CURLE_OK;
  t->received = t->streamed = 0;
  t->errbuf[0] = '\0';
  t->last_byte = engine_clock();
  t->deadline = t->last_byte + t->timeout;
  t->first_deadline = t->first_byte > 0 ? t->last_byte + t->first_byte : HUGE_VAL;
  engine_add(L, e, t, 1);
  return 0;
}

/* The next queued event: its record (type, then data) at *rec, or NULL
 * when the queue is empty. Past the total timeout it hands out nothing
 * more and ends the transfer as timed out: slow callbacks on a long queue
 * would otherwise run on with no bound, as Lua runs them while curl's
 * timer sleeps. take_event() then steps past it. */
static const char *peek_event(transfer *t, uint32_t head[2]) {
  if (t->ev_off < t->events.len && engine_clock() >= t->deadline) {
    if (t->state == ST_RUNNING) {
      t->abort = AB_TOTAL;
      engine_finish(t, CURLE_OPERATION_TIMEDOUT);
    } else if (t->result == CURLE_OK && !t->abort) { /* a failed transfer keeps its error */
      t->abort = AB_TOTAL;
      t->result = CURLE_OPERATION_TIMEDOUT;
    }
    t->ev_off = t->events.len;
    t->done_seen = 0; /* a [DONE] dropped with the rest never ended the stream for Lua */
  }
  if (t->ev_off >= t->events.len) {
    t->events.len = t->ev_off = 0;
    return NULL;
  }
  memcpy(head, t->events.p + t->ev_off, 2 * sizeof *head);
  return t->events.p + t->ev_off + 2 * sizeof *head;
}

static void take_event(transfer *t, const uint32_t head[2]) {
  t->ev_off += 2 * sizeof *head + head[0] + head[1];
}

/* t:event() -> data, type|nil; nothing when the queue is empty. */
static int transfer_event(lua_State *L) {
  transfer *t = totransfer(L);
  uint32_t head[2];
  const char *p = peek_event(t, head);
  if (p == NULL) return 0;
  lua_pushlstring(L, p + head[0], head[1]);
  if (head[0])
    lua_pushlstring(L, p, head[0]);
  else
    lua_pushnil(L);
  take_event(t, head);
  return 2;
}

/* t:delta(kind) -> the values json_delta pushes for the next event, taken
 * from the queue, when it is the common text event of kind ("chat" or
 * "response"; json.h); false, the event left for t:event(), when it is
 * anything else; nothing when the queue is empty. No string of the
 * event's text is made: most of the cost and all the garbage of a chunk
 * were its decoded table. */
static int transfer_delta(lua_State *L) {
  static const char *const kinds[] = {"chat", "response", NULL};
  transfer *t = totransfer(L);
  int kind = luaL_checkoption(L, 2, NULL, kinds) == 0 ? JSON_DELTA_CHAT : JSON_DELTA_RESPONSE, n;
  uint32_t head[2];
  const char *p = peek_event(t, head);
  if (p == NULL) return 0;
  if ((head[0] == 5 && memcmp(p, "error", 5) == 0) || /* request.lua's error event */
      (n = json_delta(L, p + head[0], head[1], kind)) == 0) {
    lua_pushboolean(L, 0);
    return 1;
  }
  take_event(t, head);
  return n;
}

static int transfer_state(lua_State *L) {
  static const char *const names[] = {"idle", "running", "done", "closed"};
  lua_pushstring(L, names[checktransfer(L)->state]);
  return 1;
}

/* Our own ends, by AB_*: kind, code, whether another attempt can help. */
static const struct {
  const char *kind, *code;
  int retry;
} aborts[] = {
  {NULL, NULL, RETRY_NO},                   /* AB_NONE */
  {"cancelled", "CANCELLED", RETRY_NO},     /* AB_CANCEL */
  {"timeout", "IDLE_TIMEOUT", RETRY_FRESH}, /* AB_IDLE */
  {"timeout", NULL, RETRY_FRESH},           /* AB_TOTAL: named below */
  {"limit", "BODY_TOO_LARGE", RETRY_NO},    /* AB_BODY */
  {"limit", "EVENT_TOO_LARGE", RETRY_NO},   /* AB_EVENT */
  {"limit", "HEADERS_TOO_LARGE", RETRY_NO}, /* AB_HEADER */
  {"limit", "OUT_OF_MEMORY", RETRY_NO},     /* AB_NOMEM */
  {"limit", "STREAM_TOO_LARGE", RETRY_NO},  /* AB_STREAM */
  {"timeout", "FIRST_BYTE_TIMEOUT", RETRY_FRESH}, /* AB_FIRST */
};

/* err.os_error: the system's word for why a connection failed ("Connection
 * refused"), which curl's message does not always carry; the command says
 * it in its own words. */
static void push_os_error(lua_State *L, transfer *t) {
  long e = 0;
  if (t->abort != AB_NONE || curl_easy_getinfo(t->easy, CURLINFO_OS_ERRNO, &e) != CURLE_OK || e <= 0)
    return;
  lua_pushstring(L, strerror((int)e));
  lua_setfield(L, -2, "os_error");
}

/* Pushes {kind, code, message, received, retryable} for a transfer that
 * did not complete and returns 1; returns 0 (nothing pushed) otherwise.
 * HTTP statuses are not errors here. */
static int push_error(lua_State *L, transfer *t) {
  const char *kind = "network", *code = NULL;
  int retry = RETRY_NO;
  char msg[CURL_ERROR_SIZE + 64];
  if (t->state != ST_DONE || (t->result == CURLE_OK && !t->abort)) return 0;
  if (t->form.failed && !t->abort) { /* a file part that could not be sent whole */
    curl_error_push(L, "network", "READ_ERROR", t->form.msg, t->received > 0, 0);
    return 1;
  }
  snprintf(msg, sizeof msg, "%s", t->errbuf[0] ? t->errbuf : curl_easy_strerror(t->result));
  if (t->abort != AB_NONE) {
    kind = aborts[t->abort].kind;
    code = aborts[t->abort].code;
    retry = aborts[t->abort].retry;
  }
  switch (t->abort) {
  case AB_CANCEL: snprintf(msg, sizeof msg, "request cancelled"); break;
  case AB_IDLE: snprintf(msg, sizeof msg, "no data for %g s (idle_timeout)", t->idle); break;
  case AB_FIRST:
    snprintf(msg, sizeof msg, "no answer began within %g s (first_byte_timeout)", t->first_byte);
    break;
  case AB_BODY:
    snprintf(msg, sizeof msg, "response body over %zu bytes (max_response_bytes)", t->max_body);
    break;
  case AB_EVENT:
    snprintf(msg, sizeof msg, "stream event over %zu bytes (max_event_bytes)", t->sse.max_event);
    break;
  case AB_HEADER:
    snprintf(msg, sizeof msg, "response headers over %zu bytes", t->max_header);
    break;
  case AB_NOMEM: snprintf(msg, sizeof msg, "out of memory"); break;
  case AB_STREAM:
    snprintf(msg, sizeof msg, "stream over %zu bytes (max_stream_bytes)", t->max_stream);
    break;
  case AB_TOTAL:
    snprintf(msg, sizeof msg, "no complete answer within %g s (timeout)", t->timeout);
    /* fall through */
  default:
    if (t->result == CURLE_OPERATION_TIMEDOUT) {
      /* named from what happened, not from curl's message: no
       * connection ready (DNS, TCP or TLS still going) is a connect
       * timeout, whichever timer fired */
      kind = "timeout";
      code = was_connected(t) ? "TOTAL_TIMEOUT" : "CONNECT_TIMEOUT";
      retry = RETRY_FRESH;
    } else if ((t->result == CURLE_OUT_OF_MEMORY && !t->body_seen)
#if LIBCURL_VERSION_NUM >= 0x080600
               || t->result == CURLE_TOO_LARGE
#endif
    ) {
      /* curl refuses a header line over 100 KiB with this code (later
       * versions: CURLE_TOO_LARGE), before any body byte */
      kind = "limit";
      code = "HEADERS_TOO_LARGE";
      retry = RETRY_NO;
      if (t->result == CURLE_OUT_OF_MEMORY)
        snprintf(msg, sizeof msg, "response header line over libcurl's limit (100 KiB)");
    } else {
      const curl_error *e = curl_error_find(t->result);
      kind = e ? e->kind : "network";
      code = e ? e->name : NULL;
      retry = e ? e->retry : RETRY_NO;
      if (t->result == CURLE_SSL_CERTPROBLEM && strstr(msg, "private key"))
        snprintf(msg + strlen(msg), sizeof msg - strlen(msg), " (%s)",
                 t->endpoint->key_pass ? "is key_passphrase the key's?"
                                       : "an encrypted key_file needs key_passphrase");
    }
  }
  if (code == NULL) { /* not in the list */
    char name[32];
    snprintf(name, sizeof name, "CURLE_%d", (int)t->result);
    curl_error_push(L, kind, name, msg, t->received > 0, 0);
    return 1;
  }
  curl_error_push(L, kind, code, msg, t->received > 0,
                  retry == RETRY_FRESH ? t->received == 0 : retry == RETRY_YES);
  push_os_error(L, t);
  return 1;
}

/* t:response() -> status, header block, body|nil (nil when read as SSE
 *   or handed on as bytes),
 *   http_version ("1.1" | "2" | "1.0"), error|nil (see push_error).
 * All of an ended exchange in one call. The header block stays a string
 * (core.headers parses it): most callers never read a header, and a table
 * of them costs more than the rest of the call. */
static int transfer_response(lua_State *L) {
  transfer *t = totransfer(L);
  long code = 0, ver = 0;
  curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &code);
  curl_easy_getinfo(t->easy, CURLINFO_HTTP_VERSION, &ver);
  lua_pushinteger(L, code);
  lua_pushlstring(L, t->hdrs.p ? t->hdrs.p : "", t->hdrs.len);
  if (t->sse_on || t->bytes_on)
    lua_pushnil(L);
  else
    lua_pushlstring(L, t->body.p ? t->body.p : "", t->body.len);
  lua_pushstring(L, ver == CURL_HTTP_VERSION_2_0   ? "2"
                    : ver == CURL_HTTP_VERSION_1_0 ? "1.0"
                                                   : "1.1");
  return 4 + push_error(L, t);
}

/* t:stream_done() -> true once the stream's data: [DONE] arrived */
static int transfer_stream_done(lua_State *L) {
  lua_pushboolean(L, totransfer(L)->done_seen);
  return 1;
}

/* ---- construction ---------------------------------------------------- */

/* core.transfer(endpoint, body, timeout, idle_timeout, first_byte_timeout)
 * -> an idle transfer.
 * Only what differs between calls is set here; the rest is the endpoint's
 * (the body is copied, a multipart body built once: a retry sends either
 * again). */
static int transfer_new(lua_State *L) {
  endpoint *ep = endpoint_check(L, 1);
  size_t bodylen = 0;
  int form = lua_istable(L, 2);
  const char *body = form ? NULL : luaL_optlstring(L, 2, NULL, &bodylen);
  double timeout = luaL_optnumber(L, 3, DEFAULT_TIMEOUT);
  double idle = luaL_optnumber(L, 4, DEFAULT_IDLE_TIMEOUT);
  double first = luaL_optnumber(L, 5, DEFAULT_FIRST_BYTE_TIMEOUT);
  transfer *t;
  CURL *c;
  long ms;
  int fresh;
  luaL_argcheck(L, (body != NULL || form) == (ep->post != 0), 2,
                ep->post ? "a POST needs a body" : "a GET or DELETE has no body");
  luaL_argcheck(L, isfinite(timeout) && timeout > 0, 3, "timeout must be a finite number > 0");
  luaL_argcheck(L, isfinite(idle) && idle >= 0, 4,
                "idle_timeout must be a finite number >= 0 (0: none)");
  luaL_argcheck(L, isfinite(first) && first >= 0, 5,
                "first_byte_timeout must be a finite number >= 0 (0: none)");
  lua_settop(L, 5); /* the body stays on the stack */
  t = (transfer *)compat_newuserdata(L, sizeof(transfer), 1);
  memset(t, 0, sizeof *t);
  t->state = ST_CLOSED; /* closed until fully built */
  luaL_setmetatable(L, TRANSFER_TYPE);
  lua_pushvalue(L, 1);
  compat_setuservalue(L, 6); /* keeps the endpoint alive */
  t->endpoint = ep;
  t->stream = ep->stream;
  t->idle = idle;
  t->first_byte = first;
  t->timeout = timeout;
  t->max_body = ep->max_body;
  t->max_header = ep->max_header;
  t->max_stream = ep->max_stream;
  sse_init(&t->sse, ep->max_event, on_event, t);
  if ((c = endpoint_take(ep, &fresh)) == NULL)
    return luaL_error(L, "chatgpt: curl_easy_init failed");
  t->easy = c;
  t->state = ST_IDLE;
  if (fresh) {
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
#if LIBCURL_VERSION_NUM >= 0x075000
    curl_easy_setopt(c, CURLOPT_PREREQFUNCTION, on_prereq);
#endif
  }
  curl_easy_setopt(c, CURLOPT_PRIVATE, (char *)t);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, t);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, t);
#if LIBCURL_VERSION_NUM >= 0x075000
  curl_easy_setopt(c, CURLOPT_PREREQDATA, t);
#endif
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, t->errbuf);
  /* curl's timer as well as ours: it also fires inside a long perform.
   * Past INT_MAX ms (24.8 days) t->deadline alone keeps the time. */
  ms = engine_ms(timeout, INT_MAX);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, ms < INT_MAX ? ms : 0L);
  if (body) {
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)bodylen);
    if (curl_easy_setopt(c, CURLOPT_COPYPOSTFIELDS, body) != CURLE_OK)
      return luaL_error(L, "chatgpt: out of memory");
  } else if (form) {
    /* t owns it from here: an error in form_build leaks nothing */
    if ((t->mime = curl_mime_init(c)) == NULL) return luaL_error(L, "chatgpt: out of memory");
    form_build(L, 2, t->mime, &t->form);
    if (curl_easy_setopt(c, CURLOPT_MIMEPOST, t->mime) != CURLE_OK)
      return luaL_error(L, "chatgpt: curl_easy_setopt(CURLOPT_MIMEPOST) failed");
  }
  return 1;
}

/* clang-format off */
static const luaL_Reg transfer_methods[] = {
  {"start", transfer_start},
  {"cancel", transfer_cancel},
  {"close", transfer_close},
  {"event", transfer_event},
  {"delta", transfer_delta},
  {"response", transfer_response},
  {"stream_done", transfer_stream_done},
  {"state", transfer_state},
  {NULL, NULL},
};
/* clang-format on */

static const luaL_Reg transfer_meta[] = {
  {"__gc", transfer_close},
  {"__close", transfer_close},
  {"__index", NULL},
  {NULL, NULL},
};

static const luaL_Reg transfer_funcs[] = {
  {"transfer", transfer_new},
  {NULL, NULL},
};

void transfer_open(lua_State *L) {
  luaL_newmetatable(L, TRANSFER_TYPE);
  luaL_setfuncs(L, transfer_meta, 0);
  luaL_newlib(L, transfer_methods);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
  luaL_setfuncs(L, transfer_funcs, 0);
}
