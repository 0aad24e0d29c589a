/* The per-state context: see context.h. */
#include "context.h"
#include "compat.h"

#include <string.h>

#include <lauxlib.h>

static const char context_key = 0; /* registry key: its address */

/* Once per state, at lua_close (the registry holds the context until
 * then). Transfers may be collected before or after it: the engine detaches
 * those still running, and each frees itself. Userdata memory outlives its
 * finalizer's run, so a transfer's __gc that comes later still finds the
 * engine's fields, closed. */
static int context_gc(lua_State *L) {
  context *c = (context *)lua_touserdata(L, 1);
  if (c->closed) return 0;
  c->closed = 1;
  if (c->close_engine) c->close_engine(&c->engine);
  json_buffer_free(&c->encoder);
  return 0;
}

static context *make(lua_State *L) {
  context *c = (context *)compat_newuserdata(L, sizeof(context), 1);
  memset(c, 0, sizeof *c);
  lua_createtable(L, 0, 1);
  lua_pushcfunction(L, context_gc);
  lua_setfield(L, -2, "__gc");
  lua_setmetatable(L, -2);
  lua_createtable(L, 2, 0); /* the user value */
  lua_newtable(L);          /* CONTEXT_REFS */
  lua_createtable(L, 0, 1);
  lua_pushliteral(L, "v");
  lua_setfield(L, -2, "__mode");
  lua_setmetatable(L, -2);
  lua_rawseti(L, -2, CONTEXT_REFS);
  lua_createtable(L, JSON_ANCHORS, 0);
  lua_rawseti(L, -2, CONTEXT_STRINGS);
  compat_setuservalue(L, -2);
  lua_pushvalue(L, -1);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &context_key);
  return c;
}

/* Pushes this state's context, made if need be. */
static context *push(lua_State *L) {
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &context_key) == LUA_TUSERDATA)
    return (context *)lua_touserdata(L, -1);
  lua_pop(L, 1);
  return make(L);
}

context *context_get(lua_State *L) {
  context *c = push(L);
  lua_pop(L, 1);
  return c;
}

context *context_push_upvalues(lua_State *L) {
  push(L);
  return context_push(L, CONTEXT_REFS);
}

context *context_push(lua_State *L, int which) {
  context *c = push(L);
  compat_getuservalue(L, -1);
  lua_rawgeti(L, -1, which);
  lua_replace(L, -3);
  lua_pop(L, 1);
  return c;
}
