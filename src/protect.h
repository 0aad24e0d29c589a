/* Protected calls that user code cannot yield out of. */
#ifndef CHATGPT_PROTECT_H
#define CHATGPT_PROTECT_H

#include <lua.h>

/* Lua: core.protect(f, ...) -> true, results... | false, message (with a
 * traceback when it is a string). Like xpcall, except that a yield inside
 * f is an error: Lua 5.4 and LuaJIT let a coroutine yield across pcall,
 * and a callback that yielded from inside chatgpt.poll would leave the
 * engine marked as polling, with poll's caller suspended. Called from C
 * without a continuation, f cannot yield. */
void protect_open(lua_State *L);

#endif
