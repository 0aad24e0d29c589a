/* libcurl: one multi engine per lua_State, and the request userdata. */
#ifndef CHATGPT_ENGINE_H
#define CHATGPT_ENGINE_H

#include <lua.h>

/* Connection limits of a new engine (core.configure changes them for the
 * whole lua_State). 256 per host: 64 requests to one host all run at once,
 * as with the official SDKs, which do not queue at 64; no total limit. */
#define ENGINE_MAX_HOST_CONNECTIONS  256
#define ENGINE_MAX_TOTAL_CONNECTIONS 0          /* 0: no limit */
#define ENGINE_MAX_CONNECTIONS_LIMIT 100000     /* the highest either may be */

/* Lua: core.request(spec, body, timeout, idle_timeout) -> request
 *        (created idle; req:start() runs it; spec from core.spec;
 *        timeout: finite > 0 seconds, default 600; idle_timeout: finite
 *        >= 0, 0 = none, default 60)
 *      core.poll(seconds) -> running, ready requests... (seconds finite >= 0)
 *      core.running() -> requests started and not ended
 *      core.configure([{max_host_connections = 1..100000,
 *                       max_total_connections = 0..100000}])
 *        -> current settings, defaults (each a table of those two keys)
 *      core.now() -> monotonic seconds
 *      core.curl_version() -> "7.88.1" */
int engine_request(lua_State *L);
int engine_poll(lua_State *L);
int engine_configure(lua_State *L);
int engine_running(lua_State *L);
int engine_now(lua_State *L);
int engine_curl_version(lua_State *L);
void engine_open(lua_State *L);     /* registers the metatables */

#endif
