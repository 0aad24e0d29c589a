/* The engine: one curl multi handle per lua_State, shared by every client
 * of that state, and what drives it (core.poll). The transfers it runs are
 * transfer.c's; the engine owns only their place in its two lists. */
#ifndef CHATGPT_ENGINE_H
#define CHATGPT_ENGINE_H

#include <curl/curl.h>
#include <lua.h>
#include <lauxlib.h>

#include "sockets.h"

#define ENGINE_MAX_CONNECTIONS_LIMIT 100000 /* the highest either limit may be */

/* Transfers handed to curl per turn of the engine: curl sets up every new
 * transfer in the first turn after it comes (~60 us each here), so a
 * thousand started at once made one poll(0) of 60 ms; in batches, each
 * turn stays a few ms (bench/RESULTS.md). */
#define ENGINE_START_BATCH 32

struct transfer;

typedef struct engine {
  CURLM *multi;           /* NULL until first used, and once closed */
  struct transfer *live;  /* running: in the multi, or queued for it */
  struct transfer *ready; /* news for Lua since the last poll */
  struct transfer *queue, **queue_tail; /* started, not yet in the multi */
  int nlive;
  double check_at;          /* no idle or total deadline of a live transfer
                               comes before this: sweep() skips the walk */
  long max_host, max_total; /* connection limits (core.configure) */
  sockets socks;            /* what curl wants watched (sockets.h) */
} engine;

/* This state's engine, set up on first use; raises once lua_close has
 * closed it. engine_up: the same, in a function that engine_upvalues
 * registered (its context an upvalue: no registry lookup). */
engine *engine_get(lua_State *L);
engine *engine_up(lua_State *L);
/* luaL_setfuncs for functions that call engine_up or engine_push_ready
 * (core's table on top). */
void engine_upvalues(lua_State *L, const luaL_Reg *funcs);

/* Puts t (its easy handle set) into the live list and queues it for the
 * multi, and holds the userdata at idx for poll to hand back (weakly:
 * dropping it cancels). */
void engine_add(lua_State *L, engine *e, struct transfer *t, int idx);
/* Hands curl the next ENGINE_START_BATCH queued transfers: at the start
 * of every turn. */
void engine_feed(engine *e);
/* Takes a running t out of the multi with this result, and marks it ready. */
void engine_finish(struct transfer *t, CURLcode code);
/* t has a deadline at `at` (monotonic seconds) that may come before the
 * others: the engine looks at it by then. */
void engine_due(struct transfer *t, double at);
/* t has news for Lua (events, or its end): the next poll hands it back. */
void engine_mark_ready(struct transfer *t);
void engine_unmark_ready(struct transfer *t);
/* Forgets t: out of the ready list, and the engine's reference to its
 * userdata dropped (a no-op once the engine is gone). */
void engine_forget(lua_State *L, struct transfer *t);

/* After curl has acted: takes in the transfers it ended, and ends those
 * past their deadlines. */
void engine_settle(engine *e);
/* The earliest idle or total deadline of a running transfer (monotonic
 * seconds), HUGE_VAL for none; possibly earlier than any (a byte may have
 * pushed an idle deadline on since), never later. */
double engine_next_deadline(engine *e);
/* Replaces the stack with: running, the transfers that have news (in a
 * function that engine_upvalues registered). */
int engine_push_ready(lua_State *L, engine *e);

/* Monotonic seconds. */
double engine_clock(void);
/* Seconds (finite, >= 0) to whole milliseconds, rounded up so that a
 * positive time never becomes 0 (curl's "none"), at most max. */
long engine_ms(double s, long max);

/* Lua: core.poll(seconds) -> running, ready transfers... (seconds finite >= 0)
 *      core.running() -> transfers started and not ended
 *      core.configure([{max_host_connections = 1..100000,
 *                       max_total_connections = 0..100000}])
 *        -> current settings, defaults (each a table of those two keys)
 *      core.now() -> monotonic seconds
 *      core.curl_version() -> "7.88.1", TLS backend ("OpenSSL/3.0.11" | nil), HTTP/2 (bool)
 * Also runs libcurl's global setup, once per process. */
void engine_open(lua_State *L);

#endif
