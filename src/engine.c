/* The engine: one curl multi handle per lua_State, kept in the state's
 * context (context.h) and shared by every client of that state, so that
 * connections, DNS and TLS sessions are reused.
 *
 * Lifetimes: the context's user value holds a weak-valued table from each
 * running transfer to its userdata, for poll to hand back. Unlike luv's
 * handles, a running transfer does not keep itself alive: no C callback
 * ever needs its Lua side, and whoever drops a transfer in flight wants it
 * stopped - its __gc does that, with no finalizer in Lua. A transfer's
 * close (also __close and __gc) leaves the multi and frees everything; the
 * context's __gc closes the engine, which detaches whatever is still
 * running, so the two may be collected in either order at lua_close.
 * Userdata memory outlives its finalizer's run, so the engine's lists may
 * point at a transfer until its __gc removes it.
 *
 * curl is driven through its socket interface only (sockets.h): drive()
 * polls the sockets itself, or a host's event loop watches them
 * (core.attach, core.action); the deadlines of ours are kept by sweep(),
 * whichever watches. */
#include "engine.h"
#include "context.h"
#include "defaults.h"
#include "transfer.h"

#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <lauxlib.h>

#include "compat.h"

double engine_clock(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* No float->integer conversion is ever out of range. */
long engine_ms(double s, long max) {
  double ms = s * 1000;
  long n;
  if (!(ms > 0)) return 0;
  if (ms >= (double)max) return max;
  n = (long)ms;
  return n < ms ? n + 1 : n;
}

/* ---- the lists ------------------------------------------------------- */

void engine_mark_ready(transfer *t) {
  if (t->in_ready || !t->eng) return;
  t->in_ready = 1;
  t->ready_next = t->eng->ready;
  t->eng->ready = t;
}

void engine_unmark_ready(transfer *t) {
  transfer **pp;
  if (!t->in_ready || !t->eng) return;
  for (pp = &t->eng->ready; *pp; pp = &(*pp)->ready_next)
    if (*pp == t) {
      *pp = t->ready_next;
      break;
    }
  t->in_ready = 0;
}

/* Takes t off the start queue, if it is on it: in O(1), as a script may
 * start ten thousand requests and drop them all before a poll. */
static void unqueue(engine *e, transfer *t) {
  if (t->queue_pprev == NULL) return;
  *t->queue_pprev = t->queue_next;
  if (t->queue_next)
    t->queue_next->queue_pprev = t->queue_pprev;
  else
    e->queue_tail = t->queue_pprev;
  t->queue_next = NULL;
  t->queue_pprev = NULL;
}

void engine_finish(transfer *t, CURLcode code) {
  engine *e = t->eng;
  if (t->state != ST_RUNNING) return;
  if (e) {
    if (t->in_multi)
      curl_multi_remove_handle(e->multi, t->easy);
    else
      unqueue(e, t);
    t->in_multi = 0;
    if (t->prev)
      t->prev->next = t->next;
    else
      e->live = t->next;
    if (t->next) t->next->prev = t->prev;
    e->nlive--;
  }
  t->prev = t->next = NULL;
  t->state = ST_DONE;
  t->result = code;
  engine_mark_ready(t);
}

/* The earliest of t's own deadlines: the total one; until the body
 * begins the first-byte one, after it the idle one. */
static double due_of(const transfer *t) {
  double at = t->deadline;
  if (!t->body_seen) {
    if (t->first_deadline < at) at = t->first_deadline;
  } else if (t->idle > 0 && t->last_byte + t->idle < at) {
    at = t->last_byte + t->idle;
  }
  return at;
}

void engine_due(transfer *t, double at) {
  if (t->eng && at < t->eng->check_at) t->eng->check_at = at;
}

void engine_add(lua_State *L, engine *e, transfer *t, int idx) {
  idx = lua_absindex(L, idx);
  if (due_of(t) < e->check_at) e->check_at = due_of(t);
  t->in_multi = 0;
  t->queue_next = NULL;
  t->queue_pprev = e->queue_tail;
  *e->queue_tail = t;
  e->queue_tail = &t->queue_next;
  t->eng = e;
  t->state = ST_RUNNING;
  t->prev = NULL;
  t->next = e->live;
  if (e->live) e->live->prev = t;
  e->live = t;
  e->nlive++;
  context_push(L, CONTEXT_REFS);
  lua_pushvalue(L, idx);
  lua_rawsetp(L, -2, t); /* refs[t] = userdata */
  lua_pop(L, 1);
}

void engine_feed(engine *e) {
  int n;
  transfer *t;
  for (n = 0; n < ENGINE_START_BATCH && (t = e->queue) != NULL; n++) {
    unqueue(e, t);
    if (curl_multi_add_handle(e->multi, t->easy) == CURLM_OK)
      t->in_multi = 1;
    else
      engine_finish(t, CURLE_OUT_OF_MEMORY); /* curl could not take it */
  }
}

void engine_forget(lua_State *L, transfer *t) {
  engine_unmark_ready(t);
  if (!t->eng) return; /* never started, or the engine is gone */
  context_push(L, CONTEXT_REFS);
  lua_pushnil(L);
  lua_rawsetp(L, -2, t);
  lua_pop(L, 1);
}

/* ---- setting up and closing ------------------------------------------ */

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc;
static void global_init(void) { global_rc = curl_global_init(CURL_GLOBAL_DEFAULT); }

/* At the context's __gc: detaches every running transfer (each frees
 * itself at its own __gc) and closes the multi. */
static void engine_close(engine *e) {
  transfer *t;
  for (t = e->live; t; t = t->next) {
    if (t->in_multi) curl_multi_remove_handle(e->multi, t->easy);
    t->in_multi = 0;
    t->queue_next = NULL;
    t->queue_pprev = NULL;
    t->state = ST_DONE;
    t->abort = AB_CANCEL;
    t->result = CURLE_ABORTED_BY_CALLBACK;
  }
  for (t = e->live; t; t = t->next) t->eng = NULL;
  for (t = e->ready; t; t = t->ready_next) {
    t->in_ready = 0;
    t->eng = NULL;
  }
  e->live = e->ready = e->queue = NULL;
  e->queue_tail = &e->queue;
  curl_multi_cleanup(e->multi);
  e->multi = NULL;
  sockets_free(&e->socks);
}

/* The upvalues of engine_upvalues' functions. */
#define UP_CONTEXT lua_upvalueindex(1)
#define UP_REFS    lua_upvalueindex(2)

static engine *engine_of(lua_State *L, context *c) {
  engine *e = &c->engine;
  if (e->multi) return e;
  if (c->closed) luaL_error(L, "chatgpt: the engine is closed");
  if ((e->multi = curl_multi_init()) == NULL) luaL_error(L, "chatgpt: curl_multi_init failed");
  c->close_engine = engine_close;
  e->queue = NULL;
  e->queue_tail = &e->queue;
  sockets_init(e);
  e->max_host = DEFAULT_MAX_HOST_CONNECTIONS;
  e->max_total = DEFAULT_MAX_TOTAL_CONNECTIONS;
  curl_multi_setopt(e->multi, CURLMOPT_MAX_HOST_CONNECTIONS, e->max_host);
  curl_multi_setopt(e->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, e->max_total);
  return e;
}

engine *engine_get(lua_State *L) { return engine_of(L, context_get(L)); }

engine *engine_up(lua_State *L) { return engine_of(L, (context *)lua_touserdata(L, UP_CONTEXT)); }

void engine_upvalues(lua_State *L, const luaL_Reg *funcs) {
  context_push_upvalues(L);
  luaL_setfuncs(L, funcs, 2);
}

/* ---- core.configure, core.running, core.now ----------------------------- */

/* The settings of core.configure: name, range, default. */
static const struct setting {
  const char *name;
  long min, max, def;
} settings[] = {
  {"max_host_connections", 1, ENGINE_MAX_CONNECTIONS_LIMIT, DEFAULT_MAX_HOST_CONNECTIONS},
  {"max_total_connections", 0, ENGINE_MAX_CONNECTIONS_LIMIT, DEFAULT_MAX_TOTAL_CONNECTIONS},
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
static int engine_configure(lua_State *L) {
  engine *e;
  long v[NSETTINGS], def[NSETTINGS];
  char msg[128];
  size_t i;
  if (!lua_isnoneornil(L, 1)) luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  e = engine_up(L);
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

/* core.running() -> transfers inside the engine (started, not ended) */
static int engine_running(lua_State *L) {
  lua_pushinteger(L, engine_up(L)->nlive);
  return 1;
}

static int engine_now(lua_State *L) {
  lua_pushnumber(L, engine_clock());
  return 1;
}

/* core.curl_version() -> version, TLS backend ("OpenSSL/3.0.11", or nil),
 * whether it speaks HTTP/2 (for :checkhealth) */
static int engine_curl_version(lua_State *L) {
  const curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);
  lua_pushstring(L, v->version);
  lua_pushstring(L, v->ssl_version);
  lua_pushboolean(L, (v->features & CURL_VERSION_HTTP2) != 0);
  return 3;
}

/* ---- core.poll ------------------------------------------------------- */

double engine_next_deadline(engine *e) { return e->live ? e->check_at : HUGE_VAL; }

/* The transfers curl has ended. */
static void collect(engine *e) {
  transfer *t;
  CURLMsg *msg;
  int left;
  while ((msg = curl_multi_info_read(e->multi, &left)) != NULL) {
    if (msg->msg != CURLMSG_DONE) continue;
    curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&t);
    engine_finish(t, msg->data.result);
  }
}

/* Lets curl move bytes: waits at most `wait` seconds for network activity
 * (never when 0), cut short by our own deadlines and curl's timer. When a
 * host watches the sockets, it may still block here (a blocking call):
 * curl is driven the same way, and the host hears of the changes after. */
static void drive(engine *e, double wait) {
  double start = engine_clock();
  engine_feed(e);
  /* curl's timer first when due: it is how curl sends what was just
   * added, and then the answer can come within this same wait (a blocking
   * call turns once, not twice) */
  sockets_timer(e);
  collect(e);
  if (e->ready != NULL || e->queue != NULL) wait = 0; /* more to hand curl next turn */
  if (wait > 0) {
    double d = engine_next_deadline(e) - engine_clock(); /* wake up for our deadlines */
    if (d < wait) wait = d;
  }
  sockets_poll(e, wait, start);
  if (!e->socks.attached) sockets_forget_removed(&e->socks); /* no host to tell */
}

/* Ends the transfers past their total timeout (curl's own timer only fires
 * inside curl_multi_perform, and a callback-heavy Lua side may not get
 * there in time), those whose body has not begun by first_byte_timeout,
 * and those with no byte for idle_timeout seconds once it has. Before the
 * body, silence is the server thinking (a reasoning model may take
 * minutes): only the total and connect timeouts, and first_byte_timeout
 * when asked for, apply there.
 *
 * The idle timeout is ours rather than CURLOPT_LOW_SPEED_LIMIT/TIME: curl's
 * check is a rate (bytes per second, averaged over its last few seconds)
 * that must stay below the limit for whole seconds, not "no byte for N
 * seconds"; it takes whole seconds only, where idle_timeout may be 0.5;
 * and it fails with CURLE_OPERATION_TIMEDOUT, the code of the connect and
 * total timeouts too, which only curl's message would tell apart. */
/* The walk over every live transfer runs only once check_at has come:
 * with many streams in flight it was a fifth of the CPU of a drive
 * (bench/RESULTS.md). Deadlines only move later (a byte pushes an idle
 * one on), so a check_at that came too early only costs one walk, which
 * sets it right; the one deadline that can come earlier, the idle one
 * that starts with the body, is told with engine_due. */
static void sweep(engine *e) {
  double now = engine_clock(), at = HUGE_VAL;
  transfer *t, *next;
  if (now < e->check_at) return;
  for (t = e->live; t; t = next) {
    next = t->next;
    if (now >= t->deadline) {
      t->abort = AB_TOTAL;
      engine_finish(t, CURLE_OPERATION_TIMEDOUT);
    } else if (!t->body_seen && now >= t->first_deadline) {
      t->abort = AB_FIRST;
      engine_finish(t, CURLE_ABORTED_BY_CALLBACK);
    } else if (t->body_seen && t->idle > 0 && now - t->last_byte >= t->idle) {
      t->abort = AB_IDLE;
      engine_finish(t, CURLE_ABORTED_BY_CALLBACK);
    } else if (due_of(t) < at) {
      at = due_of(t);
    }
  }
  e->check_at = at;
}

void engine_settle(engine *e) {
  collect(e);
  sweep(e);
}

int engine_push_ready(lua_State *L, engine *e) {
  transfer *t;
  int n = 0;
  lua_settop(L, 0);
  lua_pushvalue(L, UP_REFS); /* stack: refs */
  lua_pushinteger(L, e->nlive);
  while ((t = e->ready) != NULL) {
    e->ready = t->ready_next;
    t->in_ready = 0;
    luaL_checkstack(L, 2, "too many ready transfers");
    lua_rawgetp(L, 1, t);
    if (lua_isnil(L, -1)) {
      lua_pop(L, 1);
      continue;
    }
    n++;
    if (t->state == ST_DONE) { /* curl is done with it */
      lua_pushnil(L);
      lua_rawsetp(L, 1, t);
    }
  }
  return n + 1;
}

/* core.poll(seconds) -> running, ready transfers...
 * Drives curl, keeps our deadlines, and returns the transfers that have
 * news: queued events, or an end. */
static int engine_poll(lua_State *L) {
  double wait = luaL_optnumber(L, 1, 0);
  engine *e;
  luaL_argcheck(L, isfinite(wait) && wait >= 0, 1, "seconds must be a finite number >= 0");
  e = engine_up(L);
  drive(e, wait);
  engine_settle(e);
  return engine_push_ready(L, e);
}

/* clang-format off */
static const luaL_Reg engine_funcs[] = {
  {"poll", engine_poll},
  {"running", engine_running},
  {"configure", engine_configure},
  {"now", engine_now},
  {"curl_version", engine_curl_version},
  {NULL, NULL},
};
/* clang-format on */

/* Also libcurl's one global setup, here at require time: every easy
 * handle (made by endpoint.c) and the multi come after it. */
void engine_open(lua_State *L) {
  pthread_once(&global_once, global_init);
  if (global_rc != CURLE_OK) luaL_error(L, "chatgpt: curl_global_init failed");
  engine_upvalues(L, engine_funcs);
  sockets_open(L);
}
