/* Version-specific Lua C API, in one place: the rest of src/ is written
 * against Lua 5.3/5.4's API, and this header supplies what 5.1, LuaJIT 2.1
 * and 5.2 lack (as lua-compat-5.3 does), so one tree builds for all five.
 *
 * Each file that calls a version-specific function includes this header
 * after lua.h and lauxlib.h. On 5.1 and LuaJIT the missing functions are
 * static inline compat_* functions under the 5.3 names (a #define, so that
 * LuaJIT's own declarations of some of them do not clash).
 *
 * Numbers: before 5.3 every number is a double. compat_isinteger() then
 * says whether a double has an exact integer value in lua_Integer's range
 * (not -0.0: it keeps its sign as a float), so integral doubles go out as
 * integers; integers beyond 2^53 are not exact there. */
#ifndef CHATGPT_COMPAT_H
#define CHATGPT_COMPAT_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include <lua.h>
#include <lauxlib.h>

/* ---- user values: 5.4 has n of them, 5.2/5.3 one, 5.1 the fenv --------- */
/* compat_getuservalue pushes the value and returns its type. */
#if LUA_VERSION_NUM >= 504
#define compat_newuserdata(L, sz, nuv) lua_newuserdatauv((L), (sz), (nuv))
#define compat_getuservalue(L, i)      lua_getiuservalue((L), (i), 1)
#define compat_setuservalue(L, i)      ((void)lua_setiuservalue((L), (i), 1))
#elif LUA_VERSION_NUM == 503
#define compat_newuserdata(L, sz, nuv) lua_newuserdata((L), (sz))
#define compat_getuservalue(L, i)      lua_getuservalue((L), (i))
#define compat_setuservalue(L, i)      lua_setuservalue((L), (i))
#elif LUA_VERSION_NUM == 502
/* 5.2: the user value must be a table (or nil): ours lives at its [1] */
#define compat_newuserdata(L, sz, nuv) lua_newuserdata((L), (sz))
static inline int compat_getuservalue(lua_State *L, int i) {
  lua_getuservalue(L, i);
  if (lua_istable(L, -1)) {
    lua_rawgeti(L, -1, 1);
    lua_remove(L, -2);
  }
  return lua_type(L, -1);
}
static inline void compat_setuservalue(lua_State *L, int i) {
  i = lua_absindex(L, i);
  lua_createtable(L, 1, 0);
  lua_insert(L, -2);
  lua_rawseti(L, -2, 1);
  lua_setuservalue(L, i);
}
#else
/* 5.1: the value lives at [1] of the userdata's environment, a table of
 * its own (a new userdata's environment is the caller's, the globals) */
static inline void *compat_newuserdata(lua_State *L, size_t sz, int nuv) {
  void *p = lua_newuserdata(L, sz);
  if (nuv > 0) {
    lua_createtable(L, 1, 0);
    lua_setfenv(L, -2);
  }
  return p;
}
static inline int compat_getuservalue(lua_State *L, int i) {
  lua_getfenv(L, i);
  lua_rawgeti(L, -1, 1);
  lua_remove(L, -2);
  return lua_type(L, -1);
}
static inline void compat_setuservalue(lua_State *L, int i) {
  if (i < 0 && i > LUA_REGISTRYINDEX) i = lua_gettop(L) + i + 1;
  lua_createtable(L, 1, 0);
  lua_insert(L, -2);
  lua_rawseti(L, -2, 1);
  lua_setfenv(L, i);
}
#endif

/* ---- integers ---------------------------------------------------------- */
#if LUA_VERSION_NUM >= 503
#define COMPAT_I                   "%I"
#define COMPAT_IARG(n)             ((lua_Integer)(n))
#else
/* %I is 5.3's; %f prints an integral double exactly up to 14 digits */
#define COMPAT_I                   "%f"
#define COMPAT_IARG(n)             ((lua_Number)(n))
#ifndef LUA_MAXINTEGER
#define LUA_MAXINTEGER PTRDIFF_MAX /* lua_Integer is ptrdiff_t */
#define LUA_MININTEGER PTRDIFF_MIN
#endif
/* A double is an integer when it is integral, in range and not -0.0; the
 * range check comes first, so the cast in lua_tointeger is defined. */
static inline int compat_isinteger(lua_State *L, int i) {
  lua_Number d;
  if (lua_type(L, i) != LUA_TNUMBER) return 0;
  d = lua_tonumber(L, i);
  return d >= -9223372036854775808.0 && d < 9223372036854775808.0 && d == floor(d) &&
         !(d == 0 && signbit(d));
}
#define lua_isinteger compat_isinteger
#endif

#if LUA_VERSION_NUM < 502
/* ---- 5.2's additions, for 5.1 and LuaJIT ------------------------------- */
#ifndef LUA_OK
#define LUA_OK 0
#endif

static inline int compat_absindex(lua_State *L, int i) {
  return i > 0 || i <= LUA_REGISTRYINDEX ? i : lua_gettop(L) + i + 1;
}
#define lua_absindex compat_absindex

/* 5.1's pushers return nothing: the copy's address, as 5.3's does (not
 * through pushfstring, which parses its format: a pushed "r" cost 300
 * instructions in every turn of the engine) */
static inline const char *compat_pushliteral(lua_State *L, const char *s, size_t n) {
  lua_pushlstring(L, s, n);
  return lua_tostring(L, -1);
}
#undef lua_pushliteral
#define lua_pushliteral(L, s) compat_pushliteral((L), "" s, sizeof(s) - 1)

static inline void compat_rawgetp(lua_State *L, int i, const void *p) {
  i = compat_absindex(L, i);
  lua_pushlightuserdata(L, (void *)p);
  lua_rawget(L, i);
}
static inline void compat_rawsetp(lua_State *L, int i, const void *p) {
  i = compat_absindex(L, i);
  lua_pushlightuserdata(L, (void *)p);
  lua_insert(L, -2);
  lua_rawset(L, i);
}
#define lua_rawsetp compat_rawsetp

#define lua_rawlen(L, i) lua_objlen((L), (i))
/* 5.1 has no __len for tables and strings: the raw length is the length */
#define luaL_len(L, i) ((lua_Integer)lua_objlen((L), (i)))

static inline void compat_setfuncs(lua_State *L, const luaL_Reg *l, int nup) {
  luaL_checkstack(L, nup + 1, "too many upvalues");
  for (; l->name; l++) {
    int i;
    for (i = 0; i < nup; i++) lua_pushvalue(L, -nup);
    lua_pushcclosure(L, l->func, nup);
    lua_setfield(L, -(nup + 2), l->name);
  }
  lua_pop(L, nup);
}
#define luaL_setfuncs compat_setfuncs
#ifndef luaL_newlib /* LuaJIT has it */
#define luaL_newlibtable(L, l) lua_createtable((L), 0, (int)(sizeof(l) / sizeof((l)[0]) - 1))
#define luaL_newlib(L, l)      (luaL_newlibtable((L), (l)), luaL_setfuncs((L), (l), 0))
#endif

static inline void compat_setmetatable(lua_State *L, const char *tname) {
  luaL_getmetatable(L, tname);
  lua_setmetatable(L, -2);
}
#define luaL_setmetatable compat_setmetatable

static inline void *compat_testudata(lua_State *L, int i, const char *tname) {
  void *p = lua_touserdata(L, i);
  int same;
  if (p == NULL || !lua_getmetatable(L, i)) return NULL;
  luaL_getmetatable(L, tname);
  same = lua_rawequal(L, -1, -2);
  lua_pop(L, 2);
  return same ? p : NULL;
}
#define luaL_testudata compat_testudata

/* Only a traceback of the running state (L1 == L) is asked for. */
static inline void compat_traceback(lua_State *L, lua_State *L1, const char *msg, int level) {
  (void)L1;
  lua_getfield(L, LUA_GLOBALSINDEX, "debug");
  if (lua_istable(L, -1)) lua_getfield(L, -1, "traceback");
  if (!lua_isfunction(L, -1)) {
    lua_settop(L, lua_gettop(L) - (lua_istable(L, -2) ? 2 : 1));
    lua_pushstring(L, msg);
    return;
  }
  lua_remove(L, -2);
  lua_pushstring(L, msg);
  lua_pushinteger(L, level + 1);
  if (lua_pcall(L, 2, 1, 0) != 0) {
    lua_pop(L, 1);
    lua_pushstring(L, msg);
  }
}
#define luaL_traceback compat_traceback

/* ---- getters that return the type (5.3) -------------------------------- */
static inline int compat_getfield(lua_State *L, int i, const char *k) {
  lua_getfield(L, i, k);
  return lua_type(L, -1);
}
static inline int compat_rawget(lua_State *L, int i) {
  lua_rawget(L, i);
  return lua_type(L, -1);
}
static inline int compat_rawgeti(lua_State *L, int i, int n) {
  lua_rawgeti(L, i, n);
  return lua_type(L, -1);
}
static inline int compat_rawgetp_t(lua_State *L, int i, const void *p) {
  compat_rawgetp(L, i, p);
  return lua_type(L, -1);
}
#define lua_getfield compat_getfield
#define lua_rawget   compat_rawget
#define lua_rawgeti  compat_rawgeti
#define lua_rawgetp  compat_rawgetp_t

#elif LUA_VERSION_NUM == 502
/* 5.2's getters return nothing */
static inline int compat_getfield(lua_State *L, int i, const char *k) {
  lua_getfield(L, i, k);
  return lua_type(L, -1);
}
static inline int compat_rawget(lua_State *L, int i) {
  lua_rawget(L, i);
  return lua_type(L, -1);
}
static inline int compat_rawgeti(lua_State *L, int i, lua_Integer n) {
  lua_rawgeti(L, i, (int)n);
  return lua_type(L, -1);
}
static inline int compat_rawgetp(lua_State *L, int i, const void *p) {
  lua_rawgetp(L, i, p);
  return lua_type(L, -1);
}
#define lua_getfield compat_getfield
#define lua_rawget   compat_rawget
#define lua_rawgeti  compat_rawgeti
#define lua_rawgetp  compat_rawgetp
#endif

#endif
