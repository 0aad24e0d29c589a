/* Messages: see message.h. */
#include "message.h"

#include <string.h>

#include <lauxlib.h>

#include "compat.h"

static const char *const roles[] = {"system", "developer", "user", "assistant",
                                    "tool",   "function",  NULL};

/* NULL when the message at idx is well formed, else what is wrong with it
 * (a string pushed on the stack), and in *arg the argument of core.message
 * at fault: 1 the role, 2 the content, 3 the other fields. */
static const char *check(lua_State *L, int idx, int *arg) {
  int role, t;
  idx = lua_absindex(L, idx);
  *arg = 1;
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
    const char *r = lua_pushfstring(L,
                                    "unknown role '%s' (system, developer, user, "
                                    "assistant or tool)",
                                    lua_tostring(L, -1));
    lua_remove(L, -2);
    return r;
  }
  lua_pop(L, 1);
  *arg = 2;
  t = lua_getfield(L, idx, "content");
  lua_pop(L, 1);
  if (t == LUA_TNIL || t == LUA_TLIGHTUSERDATA) { /* nil or the JSON null */
    if (role == 3) {                              /* assistant */
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
  if (role == 4) { /* tool */
    *arg = 3;
    t = lua_getfield(L, idx, "tool_call_id");
    lua_pop(L, 1);
    if (t != LUA_TSTRING) return lua_pushliteral(L, "tool message without tool_call_id");
  }
  return NULL;
}

static int fail(lua_State *L, const char *why, int arg) {
  lua_pushnil(L);
  lua_pushstring(L, why);
  lua_pushinteger(L, arg);
  return 3;
}

/* core.message(role, content [, fields]) -> message | nil, why, n
 * Returns rather than raises, n naming the argument at fault: the Lua
 * callers raise at their own caller's line, in their own name. */
static int message_new(lua_State *L) {
  const char *bad;
  int arg;
  if (lua_type(L, 1) != LUA_TSTRING)
    return fail(L, lua_pushfstring(L, "string expected, got %s", luaL_typename(L, 1)), 1);
  if (!lua_isnoneornil(L, 3) && lua_type(L, 3) != LUA_TTABLE)
    return fail(L, lua_pushfstring(L, "table expected, got %s", luaL_typename(L, 3)), 3);
  lua_settop(L, 3);
  lua_createtable(L, 0, 4);
  if (!lua_isnil(L, 3)) { /* fields first: role/content win */
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
  if ((bad = check(L, 4, &arg)) != NULL) return fail(L, bad, arg);
  return 1;
}

/* core.check_messages(list) -> true | nil, "bad message #i (...)" or
 * "no messages". Returns rather than raises: the callers raise at their
 * own caller's level, and a pcall per chat would cost more than the check. */
static int message_check_list(lua_State *L) {
  lua_Integer i, n;
  int arg;
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
    if ((bad = check(L, -1, &arg)) != NULL) {
      lua_pushnil(L);
      lua_pushfstring(L, "bad message #%d (%s)", (int)i, bad);
      return 2;
    }
    lua_pop(L, 1);
  }
  lua_pushboolean(L, 1);
  return 1;
}

/* core.check_message(m) -> true | nil, what is wrong with it: one message,
 * for callers that name their own argument. */
static int message_check_one(lua_State *L) {
  const char *bad;
  int arg;
  if ((bad = check(L, 1, &arg)) != NULL) {
    lua_pushnil(L);
    lua_insert(L, -2);
    return 2;
  }
  lua_pushboolean(L, 1);
  return 1;
}

static const luaL_Reg message_funcs[] = {
  {"message", message_new},
  {"check_message", message_check_one},
  {"check_messages", message_check_list},
  {NULL, NULL},
};

void message_open(lua_State *L) { luaL_setfuncs(L, message_funcs, 0); }
