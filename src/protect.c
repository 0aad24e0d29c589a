/* core.protect: see protect.h. */
#include "protect.h"

#include <lauxlib.h>

#include "compat.h"

static int handler(lua_State *L) {
  const char *msg = lua_tostring(L, 1);
  if (msg) luaL_traceback(L, L, msg, 1);
  return 1;
}

/* The handler is protect's upvalue: on 5.1 and LuaJIT each
 * lua_pushcfunction makes a new closure, and protect runs twice a turn. */
static int protect_call(lua_State *L) {
  int n = lua_gettop(L);
  luaL_checktype(L, 1, LUA_TFUNCTION);
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  if (lua_pcall(L, n - 1, LUA_MULTRET, 1) != 0) {
    lua_pushboolean(L, 0);
    lua_insert(L, -2);
    return 2;
  }
  lua_pushboolean(L, 1);
  lua_replace(L, 1);
  return lua_gettop(L);
}

static const luaL_Reg protect_funcs[] = {
  {"protect", protect_call},
  {NULL, NULL},
};

void protect_open(lua_State *L) {
  lua_pushcfunction(L, handler);
  luaL_setfuncs(L, protect_funcs, 1);
}
