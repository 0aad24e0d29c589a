/* What the JSON codec's fuzz targets (json_fuzz.c, roundtrip_fuzz.c) share:
 * CHECK, an encode under lua_pcall, and the out-of-memory run. Each target
 * defines FUZZ_NAME (its name in failure messages) and includes this once. */
#ifndef FUZZ_CODEC_H
#define FUZZ_CODEC_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <lua.h>
#include <lauxlib.h>

#include "json.h"

#define CHECK(c)                                                                \
  do {                                                                          \
    if (!(c)) {                                                                 \
      fprintf(stderr, FUZZ_NAME ": check failed: %s (line %d)\n", #c, __LINE__); \
      abort();                                                                  \
    }                                                                           \
  } while (0)

static int encode_arg(lua_State *L) {
  if (!json_encode_value(L, 1, 0)) return lua_error(L);
  return 1;
}

/* Encodes the value at idx under lua_pcall: pushes the text and returns 1,
 * or pushes the message and returns 0. */
static int try_encode(lua_State *L, int idx) {
  lua_pushcfunction(L, encode_arg);
  lua_pushvalue(L, idx);
  return lua_pcall(L, 1, 1, 0) == LUA_OK;
}

/* An allocator that fails growth once its budget is spent (Lua assumes
 * shrinking never fails) and counts the bytes in use. */
typedef struct {
  size_t inuse;
  long budget; /* < 0: unlimited */
} memctl;

static void *limited_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  memctl *m = (memctl *)ud;
  size_t old = ptr != NULL ? osize : 0;
  void *p;
  if (nsize == 0) {
    m->inuse -= old;
    free(ptr);
    return NULL;
  }
  if (nsize > old) {
    if (m->budget == 0) return NULL;
    if (m->budget > 0) m->budget--;
  }
  p = realloc(ptr, nsize);
  if (p == NULL) return NULL;
  m->inuse = m->inuse - old + nsize;
  return p;
}

/* decode(data, size, ordered), then encode what it gave */
static int decode_encode(lua_State *L) {
  const char *s = (const char *)lua_touserdata(L, 1);
  size_t n = (size_t)lua_tointeger(L, 2);
  if (json_decode_buffer(L, s, n, lua_toboolean(L, 3))) json_encode_value(L, -1, 0);
  return 0;
}

/* The decode and encode again in a fresh state whose allocator fails after
 * a budget taken from the input: no crash, and after lua_close every byte
 * back (nothing held outside Lua's reach). */
static void out_of_memory(const uint8_t *data, size_t size, int ordered) {
  memctl m = {0, -1};
  uint32_t h = 2166136261u;
  size_t i;
  lua_State *L = lua_newstate(limited_alloc, &m);
  CHECK(L != NULL);
  for (i = 0; i < size; i++) h = (h ^ data[i]) * 16777619u;
  lua_pushcfunction(L, decode_encode);
  lua_pushlightuserdata(L, (void *)data);
  lua_pushinteger(L, (lua_Integer)size);
  lua_pushboolean(L, ordered);
  m.budget = (long)(h % (size / 4 + 16));
  (void)lua_pcall(L, 3, 0, 0);
  m.budget = -1;
  lua_close(L);
  CHECK(m.inuse == 0);
}

#endif
