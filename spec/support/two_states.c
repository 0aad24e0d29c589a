/* A small C host for spec/states_spec.lua: two lua_States in one process,
 * each on its own thread, each with requests in flight on its own engine.
 *   two_states BASE_URL LUA_PATH LUA_CPATH
 * Prints one line per state and exits 0 when both got every answer. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "compat.h" /* LUA_OK on 5.1 */

static const char *base, *lpath, *cpath;

static const char script[] =
  "local name, base = ...\n"
  "local chatgpt = require 'chatgpt'\n"
  "local c = chatgpt.new { base_url = base, auth = 'none' }\n"
  "local reqs, deltas = {}, 0\n"
  "for i = 1, 8 do\n"
  "  reqs[i] = c:chat_async(name .. i, { on_delta = function() deltas = deltas + 1 end })\n"
  "end\n"
  "local left = 8\n"
  "while chatgpt.poll(0.05) > 0 do end\n"
  "for i = 1, 8 do assert(reqs[i]:result(), 'request ' .. i .. ' failed') end\n"
  "-- and two left in flight when the state closes\n"
  "reqs.a = c:chat_async('left'); reqs.b = c:chat_async('behind')\n"
  "chatgpt.poll(0)\n"
  "return name .. ': 8 answers, ' .. deltas .. ' deltas'\n";

static void *run(void *arg) {
  const char *name = (const char *)arg;
  static char out[2][128];
  int slot = name[0] == 'A' ? 0 : 1;
  lua_State *L = luaL_newstate();
  luaL_openlibs(L);
  lua_getglobal(L, "package");
  lua_pushstring(L, lpath);
  lua_setfield(L, -2, "path");
  lua_pushstring(L, cpath);
  lua_setfield(L, -2, "cpath");
  lua_pop(L, 1);
  if (luaL_loadbuffer(L, script, sizeof script - 1, "=two_states") != LUA_OK) {
    snprintf(out[slot], sizeof out[slot], "%s: load: %s", name, lua_tostring(L, -1));
  } else {
    lua_pushstring(L, name);
    lua_pushstring(L, base);
    if (lua_pcall(L, 2, 1, 0) != LUA_OK)
      snprintf(out[slot], sizeof out[slot], "%s: FAILED %s", name, lua_tostring(L, -1));
    else
      snprintf(out[slot], sizeof out[slot], "%s", lua_tostring(L, -1));
  }
  lua_close(L);                     /* requests still in flight: freed here */
  return out[slot];
}

int main(int argc, char **argv) {
  pthread_t a, b;
  void *ra, *rb;
  if (argc != 4) {
    fprintf(stderr, "usage: two_states BASE_URL LUA_PATH LUA_CPATH\n");
    return 2;
  }
  base = argv[1], lpath = argv[2], cpath = argv[3];
  pthread_create(&a, NULL, run, (void *)"A");
  pthread_create(&b, NULL, run, (void *)"B");
  pthread_join(a, &ra);
  pthread_join(b, &rb);
  printf("%s\n%s\n", (char *)ra, (char *)rb);
  return strstr((char *)ra, "FAILED") || strstr((char *)rb, "FAILED") ? 1 : 0;
}
