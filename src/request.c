/* Messages. Role and content are checked here, before anything is encoded
 * or sent, so that a typo is a Lua error at the call site rather than a 400
 * from the server a round trip later. */
#include "request.h"

#include <string.h>

#include <lauxlib.h>

static const char *const roles[] = {
  "system", "developer", "user", "assistant", "tool", "function", NULL
};

/* NULL when the message at idx is well formed, else what is wrong with it
 * (a string pushed on the stack). */
static const char *check(lua_State *L, int idx) {
  int role, t;
  idx = lua_absindex(L, idx);
  if (lua_type(L, idx) != LUA_TTABLE)
    return lua_pushfstring(L, "message expected, got %s", luaL_typename(L, idx));
  lua_getfield(L, idx, "role");
  if (lua_type(L, -1) != LUA_TSTRING) {
    lua_pop(L, 1);
    return lua_pushliteral(L, "message without a role");
  }
  for (role = 0; roles[role]; role++)
    if (strcmp(roles[role], lua_tostring(L, -1)) == 0) break;
  if (!roles[role]) {
    const char *r = lua_pushfstring(L, "unknown role '%s' (system, developer, user, "
                                       "assistant or tool)", lua_tostring(L, -1));
    lua_remove(L, -2);
    return r;
  }
  lua_pop(L, 1);
  t = lua_getfield(L, idx, "content");
  lua_pop(L, 1);
  if (t == LUA_TNIL || t == LUA_TLIGHTUSERDATA) {   /* nil or the JSON null */
    if (role == 3) {                                 /* assistant */
      int calls = lua_getfield(L, idx, "tool_calls") != LUA_TNIL;
      calls |= lua_getfield(L, idx, "function_call") != LUA_TNIL;
      calls |= lua_getfield(L, idx, "refusal") != LUA_TNIL;
      lua_pop(L, 3);
      if (calls) return NULL;
      return lua_pushliteral(L, "assistant message without content or tool_calls");
    }
    return lua_pushfstring(L, "%s message without content", roles[role]);
  }
  if (t != LUA_TSTRING && t != LUA_TTABLE)
    return lua_pushfstring(L, "content must be a string or a list of parts, got %s",
                           lua_typename(L, t));
  if (role == 4) {                                   /* tool */
    t = lua_getfield(L, idx, "tool_call_id");
    lua_pop(L, 1);
    if (t != LUA_TSTRING) return lua_pushliteral(L, "tool message without tool_call_id");
  }
  return NULL;
}

/* core.message(role, content [, fields]) */
int request_message(lua_State *L) {
  const char *bad;
  luaL_checkstring(L, 1);
  if (!lua_isnoneornil(L, 3)) luaL_checktype(L, 3, LUA_TTABLE);
  lua_settop(L, 3);
  lua_createtable(L, 0, 4);
  if (!lua_isnil(L, 3)) {                  /* fields first: role/content win */
    lua_pushnil(L);
    while (lua_next(L, 3)) {
      lua_pushvalue(L, -2);
      lua_insert(L, -2);
      lua_rawset(L, 4);
    }
  }
  lua_pushvalue(L, 1);
  lua_setfield(L, 4, "role");
  lua_pushvalue(L, 2);
  lua_setfield(L, 4, "content");
  if ((bad = check(L, 4)) != NULL)
    return luaL_argerror(L, strstr(bad, "role") ? 1 : 2, bad);
  return 1;
}

/* core.check_messages(list) -> true | nil, "bad message #i (...)" or
 * "no messages". Returns rather than raises: the callers raise at their
 * own caller's level, and a pcall per chat would cost more than the check. */
int request_check_messages(lua_State *L) {
  lua_Integer i, n;
  luaL_checktype(L, 1, LUA_TTABLE);
  n = luaL_len(L, 1);
  if (n == 0) {
    lua_pushnil(L);
    lua_pushliteral(L, "no messages");
    return 2;
  }
  for (i = 1; i <= n; i++) {
    const char *bad;
    lua_rawgeti(L, 1, i);
    if ((bad = check(L, -1)) != NULL) {
      lua_pushnil(L);
      lua_pushfstring(L, "bad message #%d (%s)", (int)i, bad);
      return 2;
    }
    lua_pop(L, 1);
  }
  lua_pushboolean(L, 1);
  return 1;
}
