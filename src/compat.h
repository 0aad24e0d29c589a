/* Version-specific Lua C API calls, kept in one place so that Lua 5.1,
 * LuaJIT and 5.2/5.3 can follow later without touching the other files. */
#ifndef CHATGPT_COMPAT_H
#define CHATGPT_COMPAT_H

#include <lua.h>
#include <lauxlib.h>

#if LUA_VERSION_NUM >= 504
#define compat_newuserdata(L, sz, nuv) lua_newuserdatauv((L), (sz), (nuv))
#define compat_getuservalue(L, i)      lua_getiuservalue((L), (i), 1)
#define compat_setuservalue(L, i)      lua_setiuservalue((L), (i), 1)
#else
#define compat_newuserdata(L, sz, nuv) lua_newuserdata((L), (sz))
#define compat_getuservalue(L, i)      lua_getuservalue((L), (i))
#define compat_setuservalue(L, i)      lua_setuservalue((L), (i))
#endif

#endif
