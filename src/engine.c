/* The engine: one curl multi handle per lua_State, shared by every client of
 * that state so that connections, DNS and TLS sessions are reused, and the
 * request userdata that runs one HTTP exchange on it.
 *
 * libcurl's callbacks below are plain C: they append bytes to capped
 * buffers, feed the SSE parser and queue events. No lua_* call ever runs
 * under a curl frame; Lua sees the results after curl_multi_perform has
 * returned, through core.poll and the request's methods.
 *
 * Lifetimes: the engine userdata lives in the registry; its user value is a
 * weak-valued table from each running request to its userdata, for poll to
 * hand back. Unlike luv's handles, a running request does not keep itself
 * alive: no C callback ever needs its Lua side, and whoever drops a request
 * in flight wants it stopped - its __gc does that, with no finalizer in Lua
 * (one per call cost ~3,500 instructions). A request's close (also __close
 * and __gc) leaves the multi and frees everything; the engine's __gc
 * detaches whatever is still running, so the two may be collected in
 * either order at lua_close. Userdata memory outlives its finalizer's run,
 * so the engine's lists may point at a request until its __gc removes it.
 */
#include "engine.h"
#include "compat.h"
#include "spec.h"
#include "sse.h"

#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <lauxlib.h>

#define ENGINE_TYPE  "chatgpt.engine"
#define REQUEST_TYPE "chatgpt.request"

static char engine_key;                 /* registry key of this state's engine */

typedef struct buf { char *p; size_t len, cap; } buf;

enum { ST_IDLE, ST_RUNNING, ST_DONE, ST_CLOSED };
enum { AB_NONE, AB_CANCEL, AB_IDLE, AB_TOTAL, AB_BODY, AB_EVENT, AB_HEADER, AB_NOMEM };

struct request;

typedef struct engine {
  CURLM *multi;
  struct request *live;                 /* inside the multi */
  struct request *ready;                /* news for Lua since the last poll */
  int nlive;
  long max_host, max_total;             /* connection limits (core.configure) */
} engine;

typedef struct request {
  CURL *easy;                           /* lent by spec until closed */
  spec *spec;                           /* kept alive by the user value */
  engine *eng;                          /* NULL once the engine is gone */
  struct request *prev, *next;          /* the engine's live list */
  struct request *ready_next;
  int in_ready;
  int state, abort;
  CURLcode result;
  int stream;                           /* the caller asked for SSE */
  int decided, sse_on, done_seen;
  int body_seen;                        /* a body byte came (this attempt) */
  int connected;                        /* a connection, TLS included, was ready */
  buf body, hdrs, events;
  size_t ev_off;
  size_t max_body, max_header;
  sse_parser sse;
  double idle, last_byte;
  double timeout, deadline;             /* deadline: this attempt's start + timeout */
  size_t received;                      /* header + body bytes */
  char errbuf[CURL_ERROR_SIZE];
} request;

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Seconds (finite, >= 0) to whole milliseconds, rounded up so that a
 * positive time never becomes 0 (curl's "none"), at most max: no
 * float->integer conversion is ever out of range. */
static long to_ms(double s, long max) {
  double ms = s * 1000;
  long n;
  if (!(ms > 0)) return 0;
  if (ms >= (double)max) return max;
  n = (long)ms;
  return n < ms ? n + 1 : n;
}

/* Appends n bytes unless that makes b longer than max: 0 ok, 1 over the
 * cap, 2 out of memory. Geometric growth; never shrinks. */
static int buf_add(buf *b, const char *s, size_t n, size_t max) {
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

static void buf_free(buf *b) {
  free(b->p);
  b->p = NULL;
  b->len = b->cap = 0;
}

/* ---- the ready list ------------------------------------------------- */

static void mark_ready(request *r) {
  if (r->in_ready || !r->eng) return;
  r->in_ready = 1;
  r->ready_next = r->eng->ready;
  r->eng->ready = r;
}

static void unmark_ready(request *r) {
  request **pp;
  if (!r->in_ready || !r->eng) return;
  for (pp = &r->eng->ready; *pp; pp = &(*pp)->ready_next)
    if (*pp == r) { *pp = r->ready_next; break; }
  r->in_ready = 0;
}

/* Leaves the multi (if inside it) and marks the request done. */
static void finish(request *r, CURLcode code) {
  engine *e = r->eng;
  if (r->state != ST_RUNNING) return;
  if (e) {
    curl_multi_remove_handle(e->multi, r->easy);
    if (r->prev) r->prev->next = r->next; else e->live = r->next;
    if (r->next) r->next->prev = r->prev;
    e->nlive--;
  }
  r->prev = r->next = NULL;
  r->state = ST_DONE;
  r->result = code;
  mark_ready(r);
}

/* ---- libcurl callbacks: plain C, no Lua ------------------------------ */

static size_t on_header(char *data, size_t size, size_t n, void *ud) {
  request *r = (request *)ud;
  size_t len = size * n;
  r->last_byte = now();
  r->received += len;
  if (len >= 5 && memcmp(data, "HTTP/", 5) == 0) r->hdrs.len = 0;  /* 1xx, then the real one */
  switch (buf_add(&r->hdrs, data, len, r->max_header)) {
    case 0: return len;
    case 1: r->abort = AB_HEADER; return 0;
    default: r->abort = AB_NOMEM; return 0;
  }
}

/* Events go into one flat queue: [type_len][data_len][type][data] records,
 * so a burst of chunks costs no allocation once the queue has grown. */
static int on_event(void *ctx, const sse_event *ev) {
  request *r = (request *)ctx;
  uint32_t head[2];
  int plain = ev->type_len == 7 && memcmp(ev->type, "message", 7) == 0;
  if (r->done_seen) return 0;                    /* nothing counts after [DONE] */
  if (plain && ev->data_len == 6 && memcmp(ev->data, "[DONE]", 6) == 0) {
    r->done_seen = 1;
    mark_ready(r);
    return 0;
  }
  head[0] = plain ? 0 : (uint32_t)ev->type_len;
  head[1] = (uint32_t)ev->data_len;
  if (buf_add(&r->events, (const char *)head, sizeof head, SIZE_MAX) ||
      buf_add(&r->events, ev->type, head[0], SIZE_MAX) ||
      buf_add(&r->events, ev->data, ev->data_len, SIZE_MAX)) {
    r->abort = AB_NOMEM;
    return 1;
  }
  mark_ready(r);
  return 0;
}

#if LIBCURL_VERSION_NUM >= 0x075000
/* Called once the connection (TLS included) is ready, new or reused, just
 * before the request goes out: what tells a connect timeout from a total
 * one. */
static int on_prereq(void *ud, char *primary_ip, char *local_ip, int primary_port, int local_port) {
  (void)primary_ip; (void)local_ip; (void)primary_port; (void)local_port;
  ((request *)ud)->connected = 1;
  return CURL_PREREQFUNC_OK;
}
#endif

static int was_connected(request *r) {
#if LIBCURL_VERSION_NUM >= 0x075000
  return r->connected;
#else
  curl_off_t t = 0;
  return curl_easy_getinfo(r->easy, CURLINFO_PRETRANSFER_TIME_T, &t) == CURLE_OK && t > 0;
#endif
}

/* How the body is read; 0 while it cannot be told yet. Only a 2xx answer
 * to a stream request may be SSE: text/event-stream says so; without it
 * (servers that omit the type or send text/plain, which the official SDKs
 * read as SSE) the first byte that is not white space decides: '{' or '['
 * is a whole JSON body (a server that ignored stream = true), anything
 * else SSE. An error answer is plain JSON. */
static int decide(request *r, const char *data, size_t len) {
  long code = 0;
  char *ct = NULL;
  size_t i = 0;
  if (r->stream) {
    curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_getinfo(r->easy, CURLINFO_CONTENT_TYPE, &ct);
    if (code >= 200 && code < 300) {
      if (ct && strncasecmp(ct, "text/event-stream", 17) == 0) {
        r->sse_on = 1;
      } else {
        while (i < len && strchr(" \t\r\n", data[i]) && data[i]) i++;
        if (i == len) return 0;
        r->sse_on = data[i] != '{' && data[i] != '[';
      }
    }
  }
  r->decided = 1;
  return 1;
}

/* Feeds SSE bytes; returns what on_write returns. */
static size_t feed_sse(request *r, const char *data, size_t len) {
  switch (sse_feed(&r->sse, data, len)) {
    case SSE_OK: return len;
    case SSE_LIMIT: r->abort = AB_EVENT; return 0;
    case SSE_STOPPED: return r->abort ? 0 : len;
    default: r->abort = AB_NOMEM; return 0;
  }
}

static size_t on_write(char *data, size_t size, size_t n, void *ud) {
  request *r = (request *)ud;
  size_t len = size * n;
  r->last_byte = now();
  r->received += len;
  r->body_seen = 1;
  /* undecided: leading white space waits in body */
  if (!r->decided && decide(r, data, len) && r->sse_on && r->body.len) {
    size_t held = r->body.len;
    r->body.len = 0;
    if (feed_sse(r, r->body.p, held) != held) return 0;
  }
  if (r->sse_on) return feed_sse(r, data, len);
  switch (buf_add(&r->body, data, len, r->max_body)) {
    case 0: return len;
    case 1: r->abort = AB_BODY; return 0;
    default: r->abort = AB_NOMEM; return 0;
  }
}

/* ---- the engine ------------------------------------------------------ */

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc;
static void global_init(void) { global_rc = curl_global_init(CURL_GLOBAL_DEFAULT); }

static int engine_gc(lua_State *L) {
  engine *e = (engine *)luaL_checkudata(L, 1, ENGINE_TYPE);
  request *r;
  if (!e->multi) return 0;
  for (r = e->live; r; r = r->next) {   /* detach: the requests free themselves */
    curl_multi_remove_handle(e->multi, r->easy);
    r->state = ST_DONE;
    r->abort = AB_CANCEL;
    r->result = CURLE_ABORTED_BY_CALLBACK;
  }
  for (r = e->live; r; r = r->next) r->eng = NULL;
  for (r = e->ready; r; r = r->ready_next) { r->in_ready = 0; r->eng = NULL; }
  e->live = e->ready = NULL;
  curl_multi_cleanup(e->multi);
  e->multi = NULL;
  return 0;
}

/* This state's engine, made on first use; leaves its user value (the table
 * of strong references) on the stack when refs is true. */
static engine *getengine(lua_State *L, int refs) {
  engine *e;
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &engine_key) == LUA_TUSERDATA) {
    e = (engine *)lua_touserdata(L, -1);
  } else {
    lua_pop(L, 1);
    e = (engine *)compat_newuserdata(L, sizeof(engine), 1);
    memset(e, 0, sizeof *e);
    luaL_setmetatable(L, ENGINE_TYPE);
    lua_newtable(L);                              /* refs: request -> userdata */
    lua_createtable(L, 0, 1);
    lua_pushliteral(L, "v");
    lua_setfield(L, -2, "__mode");
    lua_setmetatable(L, -2);
    compat_setuservalue(L, -2);
    if ((e->multi = curl_multi_init()) == NULL) luaL_error(L, "chatgpt: curl_multi_init failed");
    e->max_host = ENGINE_MAX_HOST_CONNECTIONS;
    e->max_total = ENGINE_MAX_TOTAL_CONNECTIONS;
    curl_multi_setopt(e->multi, CURLMOPT_MAX_HOST_CONNECTIONS, e->max_host);
    curl_multi_setopt(e->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, e->max_total);
    lua_pushvalue(L, -1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &engine_key);
  }
  if (refs) {
    compat_getuservalue(L, -1);
    lua_remove(L, -2);
  } else {
    lua_pop(L, 1);
  }
  return e;
}

/* The settings of core.configure: name, range, default. */
static const struct setting {
  const char *name;
  long min, max, def;
} settings[] = {
  {"max_host_connections", 1, ENGINE_MAX_CONNECTIONS_LIMIT, ENGINE_MAX_HOST_CONNECTIONS},
  {"max_total_connections", 0, ENGINE_MAX_CONNECTIONS_LIMIT, ENGINE_MAX_TOTAL_CONNECTIONS},
};
#define NSETTINGS (sizeof settings / sizeof settings[0])

static void push_settings(lua_State *L, const long *v) {
  size_t i;
  lua_createtable(L, 0, (int)NSETTINGS);
  for (i = 0; i < NSETTINGS; i++) {
    lua_pushinteger(L, (lua_Integer)v[i]);
    lua_setfield(L, -2, settings[i].name);
  }
}

/* core.configure([{max_host_connections = n, max_total_connections = n}])
 *   -> current settings, defaults
 * State-wide: every client of this lua_State shares the engine. All keys
 * are checked before any is applied; an unknown key raises. */
int engine_configure(lua_State *L) {
  engine *e;
  long v[NSETTINGS], def[NSETTINGS];
  char msg[128];
  size_t i;
  if (!lua_isnoneornil(L, 1)) luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  e = getengine(L, 0);
  if (!e->multi) return luaL_error(L, "chatgpt: the engine is closed");
  v[0] = e->max_host;
  v[1] = e->max_total;
  if (lua_istable(L, 1)) {
    lua_pushnil(L);
    while (lua_next(L, 1)) {
      const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
      double x;
      for (i = 0; i < NSETTINGS && !(k && strcmp(k, settings[i].name) == 0); i++) {}
      if (i == NSETTINGS) {
        snprintf(msg, sizeof msg, "unknown setting '%.40s'", k ? k : luaL_typename(L, -2));
        return luaL_argerror(L, 1, msg);
      }
      x = lua_type(L, -1) == LUA_TNUMBER ? lua_tonumber(L, -1) : -1;
      if (!(x >= (double)settings[i].min && x <= (double)settings[i].max) || x != (double)(long)x) {
        snprintf(msg, sizeof msg, "%s must be an integer %ld to %ld%s", k, settings[i].min,
                 settings[i].max, settings[i].min == 0 ? " (0: no limit)" : "");
        return luaL_argerror(L, 1, msg);
      }
      v[i] = (long)x;
      lua_pop(L, 1);
    }
  }
  e->max_host = v[0];
  e->max_total = v[1];
  curl_multi_setopt(e->multi, CURLMOPT_MAX_HOST_CONNECTIONS, e->max_host);
  curl_multi_setopt(e->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, e->max_total);
  for (i = 0; i < NSETTINGS; i++) def[i] = settings[i].def;
  push_settings(L, v);
  push_settings(L, def);
  return 2;
}

/* core.running() -> requests inside the engine (started, not ended) */
int engine_running(lua_State *L) {
  lua_pushinteger(L, getengine(L, 0)->nlive);
  return 1;
}

int engine_now(lua_State *L) {
  lua_pushnumber(L, now());
  return 1;
}

int engine_curl_version(lua_State *L) {
  lua_pushstring(L, curl_version_info(CURLVERSION_NOW)->version);
  return 1;
}

/* core.poll(seconds) -> running, ready requests...
 * Waits at most `seconds` for network activity (never when 0), lets curl
 * move bytes, ends stalled transfers and those past their total timeout
 * (curl's own timer only runs inside curl_multi_perform), and returns the
 * requests that have news: queued events, or an end. */
int engine_poll(lua_State *L) {
  double wait = luaL_optnumber(L, 1, 0), t;
  engine *e;
  request *r, *next;
  CURLMsg *msg;
  int left, running = 0, n = 0;
  luaL_argcheck(L, isfinite(wait) && wait >= 0, 1, "seconds must be a finite number >= 0");
  lua_settop(L, 0);
  e = getengine(L, 1);                            /* stack: refs */
  if (!e->multi) return luaL_error(L, "chatgpt: the engine is closed");
  if (wait > 0 && e->ready == NULL) {
    t = now();
    for (r = e->live; r; r = r->next) {           /* wake up for our deadlines */
      if (r->idle > 0 && r->last_byte + r->idle - t < wait) wait = r->last_byte + r->idle - t;
      if (r->deadline - t < wait) wait = r->deadline - t;
    }
    if (wait > 0) curl_multi_poll(e->multi, NULL, 0, (int)to_ms(wait, INT_MAX), NULL);
    curl_multi_perform(e->multi, &running);
  } else if (e->live) {
    /* poll(0) in a game frame: perform visits every transfer, so it is
     * skipped when no socket is ready and no curl timer is due */
    long due = -1;
    int ready = 1;
    curl_multi_timeout(e->multi, &due);
    if (due != 0) curl_multi_wait(e->multi, NULL, 0, 0, &ready);
    if (ready) curl_multi_perform(e->multi, &running);
  }
  while ((msg = curl_multi_info_read(e->multi, &left)) != NULL) {
    if (msg->msg != CURLMSG_DONE) continue;
    curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&r);
    finish(r, msg->data.result);
  }
  t = now();
  for (r = e->live; r; r = next) {
    next = r->next;
    if (t >= r->deadline) {
      r->abort = AB_TOTAL;
      finish(r, CURLE_OPERATION_TIMEDOUT);
    } else if (r->idle > 0 && t - r->last_byte >= r->idle) {
      r->abort = AB_IDLE;
      finish(r, CURLE_ABORTED_BY_CALLBACK);
    }
  }
  lua_pushinteger(L, e->nlive);
  while ((r = e->ready) != NULL) {
    e->ready = r->ready_next;
    r->in_ready = 0;
    luaL_checkstack(L, 2, "too many ready requests");
    lua_rawgetp(L, 1, r);
    if (lua_isnil(L, -1)) { lua_pop(L, 1); continue; }
    n++;
    if (r->state == ST_DONE) {                    /* curl is done with it */
      lua_pushnil(L);
      lua_rawsetp(L, 1, r);
    }
  }
  return n + 1;
}

/* ---- the request userdata -------------------------------------------- */

static request *checkrequest(lua_State *L) {
  return (request *)luaL_checkudata(L, 1, REQUEST_TYPE);
}

static request *torequest(lua_State *L) {
  request *r = checkrequest(L);
  if (r->state == ST_CLOSED) luaL_error(L, "attempt to use a closed request");
  return r;
}

/* Leaves the multi without a result: the caller gave up on it. */
static void cancel(lua_State *L, request *r) {
  if (r->state == ST_RUNNING) {
    r->abort = AB_CANCEL;
    finish(r, CURLE_ABORTED_BY_CALLBACK);
  }
  unmark_ready(r);
  if (!r->eng) return;                 /* never started, or the engine is gone */
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &engine_key) == LUA_TUSERDATA) {
    compat_getuservalue(L, -1);
    lua_pushnil(L);
    lua_rawsetp(L, -2, r);             /* drop the engine's reference */
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
}

/* close, __close and __gc: idempotent. */
static int request_close(lua_State *L) {
  request *r = checkrequest(L);
  if (r->state == ST_CLOSED) return 0;
  cancel(L, r);
  if (r->easy) spec_give(r->spec, r->easy);
  r->easy = NULL;
  buf_free(&r->body);
  buf_free(&r->hdrs);
  buf_free(&r->events);
  sse_free(&r->sse);
  r->state = ST_CLOSED;
  lua_pushnil(L);                      /* the spec can go now */
  compat_setuservalue(L, 1);
  return 0;
}

static int request_cancel(lua_State *L) {
  request *r = checkrequest(L);
  if (r->state != ST_CLOSED) cancel(L, r);
  return 0;
}

/* (Re)starts the exchange: a retry reuses the handle and its options. */
static int request_start(lua_State *L) {
  request *r = torequest(L);
  engine *e;
  CURLMcode mc;
  luaL_argcheck(L, r->state != ST_RUNNING, 1, "request already running");
  e = getengine(L, 1);
  if (!e->multi || (r->eng && r->eng != e)) return luaL_error(L, "chatgpt: the engine is closed");
  unmark_ready(r);
  r->eng = e;
  r->body.len = r->hdrs.len = r->events.len = r->ev_off = 0;
  sse_reset(&r->sse);
  r->decided = r->sse_on = r->done_seen = r->body_seen = r->connected = 0;
  r->abort = AB_NONE;
  r->result = CURLE_OK;
  r->received = 0;
  r->errbuf[0] = '\0';
  r->last_byte = now();
  r->deadline = r->last_byte + r->timeout;
  if ((mc = curl_multi_add_handle(e->multi, r->easy)) != CURLM_OK)
    return luaL_error(L, "chatgpt: curl_multi_add_handle: %s", curl_multi_strerror(mc));
  r->state = ST_RUNNING;
  r->prev = NULL;
  r->next = e->live;
  if (e->live) e->live->prev = r;
  e->live = r;
  e->nlive++;
  lua_pushvalue(L, 1);
  lua_rawsetp(L, -2, r);                          /* refs[r] = request */
  return 0;
}

/* req:event() -> data, type|nil; nothing when the queue is empty.
 * Past the total timeout it hands out nothing more and ends the request
 * as timed out: slow callbacks on a long queue would otherwise run on with
 * no bound, as Lua runs them while curl's timer sleeps. */
static int request_event(lua_State *L) {
  request *r = torequest(L);
  uint32_t head[2];
  const char *p;
  if (r->ev_off < r->events.len && now() >= r->deadline) {
    if (r->state == ST_RUNNING) {
      r->abort = AB_TOTAL;
      finish(r, CURLE_OPERATION_TIMEDOUT);
    } else if (r->result == CURLE_OK && !r->abort) {  /* a failed transfer keeps its error */
      r->abort = AB_TOTAL;
      r->result = CURLE_OPERATION_TIMEDOUT;
    }
    r->ev_off = r->events.len;
  }
  if (r->ev_off >= r->events.len) {
    r->events.len = r->ev_off = 0;
    return 0;
  }
  p = r->events.p + r->ev_off;
  memcpy(head, p, sizeof head);
  p += sizeof head;
  lua_pushlstring(L, p + head[0], head[1]);
  if (head[0]) lua_pushlstring(L, p, head[0]); else lua_pushnil(L);
  r->ev_off += sizeof head + head[0] + head[1];
  return 2;
}

static int request_state(lua_State *L) {
  static const char *const names[] = {"idle", "running", "done", "closed"};
  lua_pushstring(L, names[checkrequest(L)->state]);
  return 1;
}

static int push_error(lua_State *L, request *r);

/* req:response() -> status, header block, body|nil (nil when read as SSE),
 *   http_version ("1.1" | "2" | "1.0"), error|nil (see push_error).
 * All of an ended exchange in one call. The header block stays a string
 * (core.headers parses it): most callers never read a header, and a table
 * of them costs more than the rest of the call. */
static int request_response(lua_State *L) {
  request *r = torequest(L);
  long code = 0, ver = 0;
  curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &code);
  curl_easy_getinfo(r->easy, CURLINFO_HTTP_VERSION, &ver);
  lua_pushinteger(L, code);
  lua_pushlstring(L, r->hdrs.p ? r->hdrs.p : "", r->hdrs.len);
  if (r->sse_on) lua_pushnil(L);
  else lua_pushlstring(L, r->body.p ? r->body.p : "", r->body.len);
  lua_pushstring(L, ver == CURL_HTTP_VERSION_2_0 ? "2" : ver == CURL_HTTP_VERSION_1_0 ? "1.0" : "1.1");
  return 4 + push_error(L, r);
}

/* req:stream_done() -> true once the stream's data: [DONE] arrived */
static int request_stream_done(lua_State *L) {
  lua_pushboolean(L, torequest(L)->done_seen);
  return 1;
}

/* Stable names for curl's codes, as the error table's `code`. */
static const char *codename(CURLcode c) {
  switch (c) {
    case CURLE_UNSUPPORTED_PROTOCOL: return "UNSUPPORTED_PROTOCOL";
    case CURLE_URL_MALFORMAT: return "URL_MALFORMAT";
    case CURLE_COULDNT_RESOLVE_PROXY: return "COULDNT_RESOLVE_PROXY";
    case CURLE_COULDNT_RESOLVE_HOST: return "COULDNT_RESOLVE_HOST";
    case CURLE_COULDNT_CONNECT: return "COULDNT_CONNECT";
    case CURLE_WEIRD_SERVER_REPLY: return "WEIRD_SERVER_REPLY";
    case CURLE_HTTP2: return "HTTP2";
    case CURLE_PARTIAL_FILE: return "PARTIAL_FILE";
    case CURLE_WRITE_ERROR: return "WRITE_ERROR";
    case CURLE_READ_ERROR: return "READ_ERROR";
    case CURLE_OUT_OF_MEMORY: return "OUT_OF_MEMORY";
    case CURLE_OPERATION_TIMEDOUT: return "OPERATION_TIMEDOUT";
    case CURLE_RANGE_ERROR: return "RANGE_ERROR";
    case CURLE_SSL_CONNECT_ERROR: return "SSL_CONNECT_ERROR";
    case CURLE_ABORTED_BY_CALLBACK: return "ABORTED_BY_CALLBACK";
    case CURLE_TOO_MANY_REDIRECTS: return "TOO_MANY_REDIRECTS";
    case CURLE_GOT_NOTHING: return "GOT_NOTHING";
    case CURLE_SSL_ENGINE_NOTFOUND: return "SSL_ENGINE_NOTFOUND";
    case CURLE_SEND_ERROR: return "SEND_ERROR";
    case CURLE_RECV_ERROR: return "RECV_ERROR";
    case CURLE_SSL_CERTPROBLEM: return "SSL_CERTPROBLEM";
    case CURLE_SSL_CIPHER: return "SSL_CIPHER";
    case CURLE_PEER_FAILED_VERIFICATION: return "PEER_FAILED_VERIFICATION";
    case CURLE_BAD_CONTENT_ENCODING: return "BAD_CONTENT_ENCODING";
    case CURLE_SSL_CACERT_BADFILE: return "SSL_CACERT_BADFILE";
    case CURLE_SSL_SHUTDOWN_FAILED: return "SSL_SHUTDOWN_FAILED";
    case CURLE_AGAIN: return "AGAIN";
    case CURLE_HTTP2_STREAM: return "HTTP2_STREAM";
    case CURLE_HTTP3: return "HTTP3";
    case CURLE_QUIC_CONNECT_ERROR: return "QUIC_CONNECT_ERROR";
    case CURLE_PROXY: return "PROXY";
    case CURLE_SSL_CLIENTCERT: return "SSL_CLIENTCERT";
    case CURLE_UNRECOVERABLE_POLL: return "UNRECOVERABLE_POLL";
    default: return NULL;
  }
}

static void setfield(lua_State *L, const char *k, const char *v) {
  lua_pushstring(L, v);
  lua_setfield(L, -2, k);
}

/* Pushes {kind, code, message, received} for a transfer that did not
 * complete and returns 1; returns 0 (nothing pushed) otherwise. HTTP
 * statuses are not errors here. */
static int push_error(lua_State *L, request *r) {
  const char *kind = "network", *code = NULL;
  char msg[CURL_ERROR_SIZE + 64];
  if (r->state != ST_DONE || (r->result == CURLE_OK && !r->abort)) return 0;
  snprintf(msg, sizeof msg, "%s", r->errbuf[0] ? r->errbuf : curl_easy_strerror(r->result));
  switch (r->abort) {
    case AB_CANCEL: kind = "cancelled"; code = "CANCELLED"; snprintf(msg, sizeof msg, "request cancelled"); break;
    case AB_IDLE:
      kind = "timeout"; code = "IDLE_TIMEOUT";
      snprintf(msg, sizeof msg, "no data for %g s (idle_timeout)", r->idle);
      break;
    case AB_BODY:
      kind = "limit"; code = "BODY_TOO_LARGE";
      snprintf(msg, sizeof msg, "response body over %zu bytes (max_response_bytes)", r->max_body);
      break;
    case AB_EVENT:
      kind = "limit"; code = "EVENT_TOO_LARGE";
      snprintf(msg, sizeof msg, "stream event over %zu bytes (max_event_bytes)", r->sse.max_event);
      break;
    case AB_HEADER:
      kind = "limit"; code = "HEADERS_TOO_LARGE";
      snprintf(msg, sizeof msg, "response headers over %zu bytes", r->max_header);
      break;
    case AB_NOMEM: kind = "limit"; code = "OUT_OF_MEMORY"; snprintf(msg, sizeof msg, "out of memory"); break;
    case AB_TOTAL:
      snprintf(msg, sizeof msg, "no complete answer within %g s (timeout)", r->timeout);
      /* fall through */
    default:
      if (r->result == CURLE_OPERATION_TIMEDOUT) {
        /* named from what happened, not from curl's message: no
         * connection ready (DNS, TCP or TLS still going) is a connect
         * timeout, whichever timer fired */
        kind = "timeout";
        code = was_connected(r) ? "TOTAL_TIMEOUT" : "CONNECT_TIMEOUT";
      } else if (r->result == CURLE_OUT_OF_MEMORY && !r->body_seen) {
        /* curl refuses a header line over 100 KiB with this code (later
         * versions: CURLE_TOO_LARGE), before any body byte */
        kind = "limit"; code = "HEADERS_TOO_LARGE";
        snprintf(msg, sizeof msg, "response header line over libcurl's limit (100 KiB)");
#if LIBCURL_VERSION_NUM >= 0x080600
      } else if (r->result == CURLE_TOO_LARGE) {
        kind = "limit"; code = "HEADERS_TOO_LARGE";
#endif
      } else {
        code = codename(r->result);
      }
  }
  lua_createtable(L, 0, 4);
  setfield(L, "kind", kind);
  if (code) {
    setfield(L, "code", code);
  } else {
    lua_pushfstring(L, "CURLE_%d", (int)r->result);
    lua_setfield(L, -2, "code");
  }
  setfield(L, "message", msg);
  lua_pushboolean(L, r->received > 0);
  lua_setfield(L, -2, "received");
  return 1;
}

/* ---- construction ---------------------------------------------------- */

/* core.request(spec, body, timeout, idle_timeout) -> an idle request. Only
 * what differs between calls is set here; the rest is the spec's (the
 * body is copied: a retry sends it again). */
int engine_request(lua_State *L) {
  spec *s = spec_check(L, 1);
  size_t bodylen = 0;
  const char *body = luaL_optlstring(L, 2, NULL, &bodylen);
  double timeout = luaL_optnumber(L, 3, 600), idle = luaL_optnumber(L, 4, 60);
  request *r;
  CURL *c;
  long ms;
  int fresh;
  luaL_argcheck(L, (body != NULL) == (s->post != 0), 2,
                s->post ? "a POST needs a body" : "a GET has no body");
  luaL_argcheck(L, isfinite(timeout) && timeout > 0, 3, "timeout must be a finite number > 0");
  luaL_argcheck(L, isfinite(idle) && idle >= 0, 4,
                "idle_timeout must be a finite number >= 0 (0: none)");
  lua_settop(L, 4);                       /* the body stays on the stack */
  r = (request *)compat_newuserdata(L, sizeof(request), 1);
  memset(r, 0, sizeof *r);
  r->state = ST_CLOSED;                   /* closed until fully built */
  luaL_setmetatable(L, REQUEST_TYPE);
  lua_pushvalue(L, 1);
  compat_setuservalue(L, 5);              /* keeps the spec alive */
  r->spec = s;
  r->stream = s->stream;
  r->idle = idle;
  r->timeout = timeout;
  r->max_body = s->max_body;
  r->max_header = s->max_header;
  sse_init(&r->sse, s->max_event, on_event, r);
  if ((c = spec_take(s, &fresh)) == NULL) return luaL_error(L, "chatgpt: curl_easy_init failed");
  r->easy = c;
  r->state = ST_IDLE;
  if (fresh) {
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
#if LIBCURL_VERSION_NUM >= 0x075000
    curl_easy_setopt(c, CURLOPT_PREREQFUNCTION, on_prereq);
#endif
  }
  curl_easy_setopt(c, CURLOPT_PRIVATE, (char *)r);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
#if LIBCURL_VERSION_NUM >= 0x075000
  curl_easy_setopt(c, CURLOPT_PREREQDATA, r);
#endif
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, r->errbuf);
  /* curl's timer as well as ours: it also fires inside a long perform.
   * Past INT_MAX ms (24.8 days) r->deadline alone keeps the time. */
  ms = to_ms(timeout, INT_MAX);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, ms < INT_MAX ? ms : 0L);
  if (body) {
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)bodylen);
    if (curl_easy_setopt(c, CURLOPT_COPYPOSTFIELDS, body) != CURLE_OK)
      return luaL_error(L, "chatgpt: out of memory");
  }
  return 1;
}

static const luaL_Reg request_methods[] = {
  {"start", request_start},
  {"cancel", request_cancel},
  {"close", request_close},
  {"event", request_event},
  {"response", request_response},
  {"stream_done", request_stream_done},
  {"state", request_state},
  {NULL, NULL}
};

static const luaL_Reg request_meta[] = {
  {"__gc", request_close},
  {"__close", request_close},
  {"__index", NULL},
  {NULL, NULL}
};

/* Also libcurl's one global setup, here at require time: every easy
 * handle (made by spec.c) and the multi come after it. */
void engine_open(lua_State *L) {
  pthread_once(&global_once, global_init);
  if (global_rc != CURLE_OK) luaL_error(L, "chatgpt: curl_global_init failed");
  luaL_newmetatable(L, ENGINE_TYPE);
  lua_pushcfunction(L, engine_gc);
  lua_setfield(L, -2, "__gc");
  lua_pop(L, 1);
  luaL_newmetatable(L, REQUEST_TYPE);
  luaL_setfuncs(L, request_meta, 0);
  luaL_newlib(L, request_methods);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
}
