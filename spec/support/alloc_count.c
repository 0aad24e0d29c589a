/* A C host with a counting allocator (lua_setallocf), for
 * spec/alloc_spec.lua: how many allocations a streamed chat makes.
 *   alloc_count SCRIPT LUA_PATH LUA_CPATH [args...]
 * The script gets the global allocs() -> allocations so far, and its
 * arguments in `...`; what it returns is printed. */
#include <stdio.h>
#include <stdlib.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "compat.h" /* LUA_OK on 5.1 */

static long long count;

static void *counting_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  (void)ud;
  if (nsize == 0) {
    free(ptr);
    return NULL;
  }
  if (ptr == NULL || nsize > osize) count++;     /* a new block, or a growth */
  (void)osize;
  return realloc(ptr, nsize);
}

static int allocs(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)count);
  return 1;
}

int main(int argc, char **argv) {
  lua_State *L;
  int i, rc;
  if (argc < 4) {
    fprintf(stderr, "usage: alloc_count SCRIPT LUA_PATH LUA_CPATH [args...]\n");
    return 2;
  }
  L = lua_newstate(counting_alloc, NULL);
  luaL_openlibs(L);
  lua_register(L, "allocs", allocs);
  lua_getglobal(L, "package");
  lua_pushstring(L, argv[2]);
  lua_setfield(L, -2, "path");
  lua_pushstring(L, argv[3]);
  lua_setfield(L, -2, "cpath");
  lua_pop(L, 1);
  if (luaL_loadfile(L, argv[1]) != LUA_OK) {
    fprintf(stderr, "%s\n", lua_tostring(L, -1));
    return 1;
  }
  for (i = 4; i < argc; i++) lua_pushstring(L, argv[i]);
  rc = lua_pcall(L, argc - 4, 1, 0);
  printf("%s\n", lua_tostring(L, -1) ? lua_tostring(L, -1) : "(nil)");
  lua_close(L);
  return rc == LUA_OK ? 0 : 1;
}
