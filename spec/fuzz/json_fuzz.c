/* libFuzzer target for the JSON codec (src/json_encode.c, src/json_decode.c).
 *
 * sources: spec/fuzz/json_fuzz.c src/json_encode.c src/json_path.c src/json_decode.c src/json_escapes.c src/json_marks.c src/context.c
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -I/usr/include/lua5.4 \
 *     -Isrc spec/fuzz/json_fuzz.c src/json_encode.c src/json_path.c src/json_decode.c src/json_escapes.c src/json_marks.c \
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

#define FUZZ_NAME "json_fuzz"
#include "fuzz_codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static lua_State *L0;


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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (L0 == NULL)
    L0 = luaL_newstate();
  round_trip(data, size);
  out_of_memory(data, size, 0);
  return 0;
}
