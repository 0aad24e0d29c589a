/* libFuzzer target for the JSON codec (src/json_encode.c, src/json_decode.c).
 *
 * sources: spec/fuzz/json_fuzz.c src/json_encode.c src/json_path.c src/json_decode.c src/json_marks.c src/context.c
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -I/usr/include/lua5.4 \
 *     -Isrc spec/fuzz/json_fuzz.c src/json_encode.c src/json_path.c src/json_decode.c src/json_marks.c \
 *     src/context.c -llua5.4 -o json_fuzz
 *   ./json_fuzz -max_total_time=180 corpus/    (seed: ../shared/wire/ *.json)
 *
 * Each input is decoded in one long-lived lua_State. When it decodes, the
 * value x is encoded (only NaN/inf and invalid UTF-8 may refuse) to e1,
 * e1 must decode to y equal to x (numbers by value, floats with their
 * sign), and y must encode to e2 of the same length as e1 (the
 * text may differ only in the order of object members). Then the same
 * input runs again in a fresh state whose allocator fails after a budget
 * taken from the input: a memory error must not crash, and after lua_close
 * every byte must be back (nothing held outside Lua's reach). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lua.h>
#include <lauxlib.h>

#include "json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static lua_State *L0;

#define CHECK(c)                                                  \
  do {                                                            \
    if (!(c)) {                                                   \
      fprintf(stderr, "json_fuzz: check failed: %s (line %d)\n",  \
              #c, __LINE__);                                      \
      abort();                                                    \
    }                                                             \
  } while (0)

/* Equality of two decoded values: same types (number subtypes aside), same
 * keys, floats with the same sign (-0.0 must survive the round trip). */
static int same(lua_State *L, int a, int b, int depth) {
  int t = lua_type(L, a);
  CHECK(depth <= JSON_MAX_DEPTH + 1);
  if (t != lua_type(L, b))
    return 0;
  switch (t) {
  case LUA_TNUMBER:
    if (!lua_rawequal(L, a, b))
      return 0;
    if (!lua_isinteger(L, a) && !lua_isinteger(L, b) &&
        signbit(lua_tonumber(L, a)) != signbit(lua_tonumber(L, b)))
      return 0;
    return 1;
  case LUA_TLIGHTUSERDATA:
    return lua_touserdata(L, a) == lua_touserdata(L, b);
  case LUA_TTABLE: {
    lua_Integer na = 0, nb = 0;
    CHECK(lua_checkstack(L, 6));
    lua_pushnil(L);
    while (lua_next(L, a)) {
      int eq;
      na++;
      lua_pushvalue(L, -2);
      lua_rawget(L, b);
      eq = same(L, lua_gettop(L) - 1, lua_gettop(L), depth + 1);
      lua_pop(L, 2);
      if (!eq) {
        lua_pop(L, 1);
        return 0;
      }
    }
    lua_pushnil(L);
    while (lua_next(L, b)) {
      nb++;
      lua_pop(L, 1);
    }
    return na == nb;
  }
  default:
    return lua_rawequal(L, a, b);
  }
}

static int encode_arg(lua_State *L) {
  if (!json_encode_value(L, 1, 0))
    return lua_error(L);
  return 1;
}

/* Encodes the value at idx under lua_pcall; pushes the text and returns 1,
 * or pushes the message and returns 0. */
static int try_encode(lua_State *L, int idx) {
  lua_pushcfunction(L, encode_arg);
  lua_pushvalue(L, idx);
  return lua_pcall(L, 1, 1, 0) == LUA_OK;
}

static void round_trip(const uint8_t *data, size_t size) {
  lua_State *L = L0;
  size_t n1, n2;
  const char *e1, *e2;
  lua_settop(L, 0);
  if (!json_decode_buffer(L, (const char *)data, size, 0)) {
    CHECK(lua_gettop(L) == 1 && lua_type(L, 1) == LUA_TSTRING);
    lua_settop(L, 0);
    return;
  }
  CHECK(lua_gettop(L) == 1);
  if (!try_encode(L, 1)) {                                   /* 2: e1 */
    const char *msg = lua_tostring(L, -1);
    CHECK(msg != NULL);
    if (!strstr(msg, "invalid UTF-8") && !strstr(msg, "inf at")) {
      fprintf(stderr, "json_fuzz: unexpected encode error: %s\n", msg);
      abort();
    }
    lua_settop(L, 0);
    return;
  }
  e1 = lua_tolstring(L, 2, &n1);
  CHECK(json_decode_buffer(L, e1, n1, 0));                   /* 3: y */
  CHECK(same(L, 1, 3, 0));
  CHECK(try_encode(L, 3));                                   /* 4: e2 */
  e2 = lua_tolstring(L, 4, &n2);
  CHECK(n1 == n2);
  CHECK(json_decode_buffer(L, e2, n2, 0));                   /* 5: z */
  CHECK(same(L, 3, 5, 0));
  lua_settop(L, 0);
}

/* An allocator that fails growth once its budget is spent (Lua assumes
 * shrinking never fails) and counts the bytes in use. */
typedef struct {
  size_t inuse;
  long budget;                    /* < 0: unlimited */
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
    if (m->budget == 0)
      return NULL;
    if (m->budget > 0)
      m->budget--;
  }
  p = realloc(ptr, nsize);
  if (p == NULL)
    return NULL;
  m->inuse = m->inuse - old + nsize;
  return p;
}

static int decode_encode(lua_State *L) {
  const char *s = (const char *)lua_touserdata(L, 1);
  size_t n = (size_t)lua_tointeger(L, 2);
  if (json_decode_buffer(L, s, n, 0))
    json_encode_value(L, -1, 0);
  return 0;
}

static void out_of_memory(const uint8_t *data, size_t size) {
  memctl m = { 0, -1 };
  uint32_t h = 2166136261u;
  size_t i;
  lua_State *L = lua_newstate(limited_alloc, &m);
  CHECK(L != NULL);
  for (i = 0; i < size; i++)
    h = (h ^ data[i]) * 16777619u;
  lua_pushcfunction(L, decode_encode);
  lua_pushlightuserdata(L, (void *)data);
  lua_pushinteger(L, (lua_Integer)size);
  m.budget = (long)(h % (size / 4 + 16));
  (void)lua_pcall(L, 2, 0, 0);
  m.budget = -1;
  lua_close(L);
  CHECK(m.inuse == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (L0 == NULL)
    L0 = luaL_newstate();
  round_trip(data, size);
  out_of_memory(data, size);
  return 0;
}
