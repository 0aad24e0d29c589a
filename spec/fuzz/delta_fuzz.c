/* libFuzzer target for the stream's fast path (src/json_delta.c).
 *
 * sources: spec/fuzz/delta_fuzz.c src/json_delta.c src/json_decode.c src/json_escapes.c src/json_marks.c src/json_encode.c src/json_path.c src/context.c
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -I/usr/include/lua5.4 \
 *     -Isrc spec/fuzz/delta_fuzz.c src/json_delta.c src/json_decode.c src/json_escapes.c src/json_marks.c src/json_encode.c src/json_path.c \
 *     src/context.c -llua5.4 -o delta_fuzz
 *   ./delta_fuzz -max_total_time=180 corpus/   (seed: ../shared/wire/ *.sse)
 *
 * The whole input, and each line of it that opens with "data: " (so that
 * the captured streams seed it), is read by json_delta as a chat chunk and
 * as a Responses event. Whatever json_delta takes must be what the full
 * decoder reads: it must decode, and the values json_delta gave must be
 * the decoded table's (content, finish_reason, role, index of the one
 * choice; delta, output_index, content_index of the event). What it
 * refuses leaves the stack as it was. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "json.h"

#define CHECK(c)                                                             \
  do {                                                                       \
    if (!(c)) {                                                              \
      fprintf(stderr, "delta_fuzz: check failed at line %d: %s\n", __LINE__, #c); \
      abort();                                                               \
    }                                                                        \
  } while (0)

static lua_State *L0;

/* t[k] of the table at t (nil when t is not a table), pushed. */
static int field(lua_State *L, int t, const char *k) {
  if (lua_type(L, t) != LUA_TTABLE) {
    lua_pushnil(L);
    return lua_gettop(L);
  }
  lua_getfield(L, t, k);
  return lua_gettop(L);
}

/* The same value (strings by content). */
static int equal(lua_State *L, int a, int b) { return lua_rawequal(L, a, b); }

static void check(const char *s, size_t n) {
  lua_State *L = L0;
  int k, got;
  for (k = JSON_DELTA_CHAT; k <= JSON_DELTA_RESPONSE; k++) {
    lua_settop(L, 0);
    got = json_delta(L, s, n, k);
    if (got == 0) {
      CHECK(lua_gettop(L) == 0);
      continue;
    }
    CHECK(got == lua_gettop(L) && got == (k == JSON_DELTA_CHAT ? 9 : 3));
    CHECK(json_decode_buffer(L, s, n, 0)); /* got + 1: the table */
    CHECK(lua_type(L, got + 1) == LUA_TTABLE);
    if (k == JSON_DELTA_CHAT) {
      int choices = field(L, got + 1, "choices"), c, d;
      lua_rawgeti(L, choices, 1);
      c = lua_gettop(L);
      d = field(L, c, "delta");
      CHECK(lua_rawlen(L, choices) == 1);
      if (lua_isnil(L, field(L, c, "index"))) {
        lua_pop(L, 1);
        lua_pushinteger(L, 0);
      }
      CHECK(lua_tonumber(L, -1) == lua_tonumber(L, 1) && lua_type(L, 1) == LUA_TNUMBER);
      CHECK(equal(L, field(L, d, "content"), 2));
      CHECK(equal(L, field(L, c, "finish_reason"), 3));
      CHECK(equal(L, field(L, d, "role"), 4));
      CHECK(equal(L, field(L, got + 1, "system_fingerprint"), 5));
      CHECK(equal(L, field(L, got + 1, "service_tier"), 6));
      CHECK(equal(L, field(L, got + 1, "id"), 7));
      CHECK(equal(L, field(L, got + 1, "model"), 9));
      CHECK(equal(L, field(L, got + 1, "created"), 8));
      CHECK(lua_isnil(L, field(L, got + 1, "usage")));
      CHECK(lua_isnil(L, field(L, got + 1, "error")));
    } else {
      CHECK(lua_type(L, 1) == LUA_TSTRING);
      CHECK(equal(L, field(L, got + 1, "delta"), 1));
      CHECK(equal(L, field(L, got + 1, "output_index"), 2));
      CHECK(equal(L, field(L, got + 1, "content_index"), 3));
      if (lua_type(L, field(L, got + 1, "logprobs")) == LUA_TTABLE) { /* [] or {} only */
        lua_pushnil(L);
        CHECK(lua_next(L, -2) == 0);
      }
      lua_getfield(L, got + 1, "type");
      CHECK(lua_type(L, -1) == LUA_TSTRING && strcmp(lua_tostring(L, -1), "response.output_text.delta") == 0);
    }
  }
  lua_settop(L, 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *s = (const char *)data, *end = s + size, *p = s;
  if (L0 == NULL) {
    L0 = luaL_newstate();
    luaL_openlibs(L0);
  }
  check(s, size);
  while (p < end) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    const char *eol = nl ? nl : end;
    if (eol - p > 6 && memcmp(p, "data: ", 6) == 0) check(p + 6, (size_t)(eol - p - 6));
    p = eol + (nl != NULL);
  }
  return 0;
}
