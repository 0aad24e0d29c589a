/* libcurl: one multi engine per lua_State, and the request userdata. */
#ifndef CHATGPT_ENGINE_H
#define CHATGPT_ENGINE_H

#include <lua.h>

/* Lua: core.request(spec, body, timeout, idle_timeout) -> request
 *        (created idle; req:start() runs it; spec from core.spec;
 *        timeout: finite > 0 seconds, default 600; idle_timeout: finite
 *        >= 0, 0 = none, default 60)
 *      core.poll(seconds) -> running, ready requests... (seconds finite >= 0)
 *      core.running() -> requests started and not ended
 *      core.configure{max_connections = n}
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
