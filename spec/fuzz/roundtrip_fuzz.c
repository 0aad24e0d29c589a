/* libFuzzer target for the JSON codec's lossless round trip (json.h): what
 * the decoder reads, the encoder writes back as the same JSON value.
 *
 * sources: spec/fuzz/roundtrip_fuzz.c src/json_encode.c src/json_path.c src/json_decode.c src/json_escapes.c src/json_marks.c src/context.c
 *   sh spec/fuzz/run.sh 300 roundtrip      (seeded from the wire captures)
 *
 * Each input that decodes, in one long-lived lua_State:
 * 1. v = decode(input); e1 = encode(v) (only invalid UTF-8 and +-inf may
 *    refuse); w = decode(e1): v and w are the same JSON value, read as the
 *    encoder reads them: an empty table by its marker ([] is not {}), a
 *    null member from the metatable's __jsonnull (null is not absent), an
 *    integer still an integer.
 * 2. o = decode(input, "ordered") is that value too; e2 = encode(o) is a
 *    fixed point (decoded ordered and encoded again, byte for byte); and,
 *    unless the input repeats a name in an object, e2 has the input's token
 *    skeleton: the same brackets, colons, commas, nulls, booleans, strings
 *    and numbers in the same order, each integer token (one that fits
 *    int64) still an integer token. The skeleton is read from the bytes
 *    here, not by the codec.
 * 3. The ordered decode and its encode again in a fresh state whose
 *    allocator fails after a budget taken from the input: no crash, and
 *    after lua_close every byte back. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lua.h>
#include <lauxlib.h>

#include "json.h"

#define FUZZ_NAME "roundtrip_fuzz"
#include "fuzz_codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static lua_State *L0;


/* The JSON kind of a decoded table: 'a' array, 'o' object. */
static int kind(lua_State *L, int t) {
  int k = 0;
  if (lua_getmetatable(L, t)) {
    lua_getfield(L, -1, "__jsontype");
    if (lua_type(L, -1) == LUA_TSTRING) k = lua_tostring(L, -1)[0];
    lua_pop(L, 2);
    if (k == 'a' || k == 'o') return k;
  }
  lua_pushnil(L);
  CHECK(lua_next(L, t)); /* an unmarked table is never empty */
  k = lua_type(L, -2) == LUA_TNUMBER ? 'a' : 'o';
  lua_pop(L, 2);
  return k;
}

/* Is key k (at index k) a null member of the object at t: no value, and
 * named in its metatable's __jsonnull? */
static int null_member(lua_State *L, int t, int k) {
  int yes = 0;
  lua_pushvalue(L, k);
  lua_rawget(L, t);
  if (lua_isnil(L, -1) && lua_getmetatable(L, t)) {
    lua_getfield(L, -1, "__jsonnull");
    if (lua_istable(L, -1)) {
      lua_pushvalue(L, k);
      lua_rawget(L, -2);
      yes = lua_toboolean(L, -1);
      lua_pop(L, 1);
    }
    lua_pop(L, 2);
  }
  lua_pop(L, 1);
  return yes;
}

/* The members of the object at t, null ones included. */
static lua_Integer members(lua_State *L, int t) {
  lua_Integer n = 0;
  lua_pushnil(L);
  while (lua_next(L, t)) {
    n++;
    lua_pop(L, 1);
  }
  if (lua_getmetatable(L, t)) {
    lua_getfield(L, -1, "__jsonnull");
    if (lua_istable(L, -1)) {
      int set = lua_gettop(L);
      lua_pushnil(L);
      while (lua_next(L, set)) {
        lua_pop(L, 1);
        if (null_member(L, t, lua_gettop(L))) n++;
      }
    }
    lua_pop(L, 2);
  }
  return n;
}

static int same(lua_State *L, int a, int b, int depth);

/* Every member of the object at a, null ones included, is b's too. */
static int members_in(lua_State *L, int a, int b, int depth) {
  lua_pushnil(L);
  while (lua_next(L, a)) {
    int eq;
    lua_pushvalue(L, -2);
    lua_rawget(L, b);
    eq = same(L, lua_gettop(L) - 1, lua_gettop(L), depth + 1);
    lua_pop(L, 2);
    if (!eq) {
      lua_pop(L, 1);
      return 0;
    }
  }
  if (lua_getmetatable(L, a)) {
    lua_getfield(L, -1, "__jsonnull");
    if (lua_istable(L, -1)) {
      int set = lua_gettop(L);
      lua_pushnil(L);
      while (lua_next(L, set)) {
        int k;
        lua_pop(L, 1);
        k = lua_gettop(L);
        if (null_member(L, a, k) && !null_member(L, b, k)) {
          lua_pop(L, 3);
          return 0;
        }
      }
    }
    lua_pop(L, 2);
  }
  return 1;
}

/* Are the decoded values at a and b the same JSON value? */
static int same(lua_State *L, int a, int b, int depth) {
  int ta = lua_type(L, a), tb = lua_type(L, b);
  CHECK(depth <= JSON_MAX_DEPTH + 1);
  CHECK(lua_checkstack(L, 10));
  if (ta == LUA_TLIGHTUSERDATA) ta = LUA_TNIL; /* the null sentinel */
  if (tb == LUA_TLIGHTUSERDATA) tb = LUA_TNIL;
  if (ta != tb) return 0;
  switch (ta) {
  case LUA_TNIL: return 1;
  case LUA_TNUMBER:
    if (lua_isinteger(L, a) && !lua_isinteger(L, b)) return 0; /* 2.0 may become 2, not back */
    if (!lua_rawequal(L, a, b)) return 0;
    return lua_isinteger(L, a) || lua_isinteger(L, b) ||
           signbit(lua_tonumber(L, a)) == signbit(lua_tonumber(L, b));
  case LUA_TTABLE: {
    int k = kind(L, a);
    lua_Integer i, n;
    if (k != kind(L, b)) return 0;
    if (k == 'a') {
      n = (lua_Integer)lua_rawlen(L, a);
      if (n != (lua_Integer)lua_rawlen(L, b)) return 0;
      for (i = 1; i <= n; i++) {
        int eq;
        lua_rawgeti(L, a, i);
        lua_rawgeti(L, b, i);
        eq = same(L, lua_gettop(L) - 1, lua_gettop(L), depth + 1);
        lua_pop(L, 2);
        if (!eq) return 0;
      }
      return 1;
    }
    return members(L, a) == members(L, b) && members_in(L, a, b, depth);
  }
  default: return lua_rawequal(L, a, b);
  }
}

/* Does any object of the ordered value at v name a member twice? */
static int repeats_a_name(lua_State *L, int v, int depth) {
  int found = 0;
  CHECK(depth <= JSON_MAX_DEPTH + 1);
  CHECK(lua_checkstack(L, 10));
  if (lua_type(L, v) != LUA_TTABLE) return 0;
  if (lua_getmetatable(L, v)) {
    lua_getfield(L, -1, "__jsonorder");
    if (lua_istable(L, -1)) {
      int order = lua_gettop(L);
      lua_Integer i, n = (lua_Integer)lua_rawlen(L, order);
      lua_newtable(L);
      for (i = 1; i <= n && !found; i++) {
        lua_rawgeti(L, order, i);
        lua_pushvalue(L, -1);
        lua_rawget(L, order + 1);
        found = !lua_isnil(L, -1);
        lua_pop(L, 1);
        lua_pushboolean(L, 1);
        lua_rawset(L, order + 1);
      }
      lua_pop(L, 1);
    }
    lua_pop(L, 2);
  }
  lua_pushnil(L);
  while (!found && lua_next(L, v)) {
    found = repeats_a_name(L, lua_gettop(L), depth + 1);
    lua_pop(L, 1);
  }
  if (found) lua_settop(L, v);
  return found;
}

/* The token skeleton of the JSON text s: one byte per token ({}[]:, as
 * they are; s string; i an integer that fits int64; n another number; N
 * null; t true; f false), white space dropped. s is valid JSON. Returns
 * the skeleton's length; out holds at least n bytes. */
static size_t skeleton(const char *s, size_t n, char *out) {
  size_t i = 0, k = 0;
  while (i < n) {
    char c = s[i];
    if (c == ' ' || c == '\n' || c == '\r' || c == '\t') {
      i++;
    } else if (c == '"') {
      for (i++; s[i] != '"'; i++)
        if (s[i] == '\\') i++;
      i++;
      out[k++] = 's';
    } else if (c == '-' || (c >= '0' && c <= '9')) {
      size_t j = i;
      int integral = 1;
      char tok[400];
      while (j < n && (s[j] == '-' || s[j] == '+' || s[j] == '.' || s[j] == 'e' || s[j] == 'E' ||
                       (s[j] >= '0' && s[j] <= '9'))) {
        if (s[j] == '.' || s[j] == 'e' || s[j] == 'E') integral = 0;
        j++;
      }
      if (integral && j - i < sizeof tok) {
        memcpy(tok, s + i, j - i);
        tok[j - i] = '\0';
        errno = 0;
        (void)strtoll(tok, NULL, 10);
        integral = errno == 0;
      } else
        integral = 0;
      out[k++] = integral ? 'i' : 'n';
      i = j;
    } else if (c == 't' || c == 'n') {
      out[k++] = c == 't' ? 't' : 'N';
      i += 4;
    } else if (c == 'f') {
      out[k++] = 'f';
      i += 5;
    } else {
      out[k++] = c;
      i++;
    }
  }
  return k;
}

static void round_trip(const uint8_t *data, size_t size) {
  lua_State *L = L0;
  const char *e1, *e2;
  size_t n1, n2, k1, k2, i;
  char *s1, *s2;
  lua_settop(L, 0);
  if (!json_decode_buffer(L, (const char *)data, size, 0)) { /* 1: v */
    lua_settop(L, 0);
    CHECK(!json_decode_buffer(L, (const char *)data, size, 1)); /* no more in ordered mode */
    lua_settop(L, 0);
    return;
  }
  if (!try_encode(L, 1)) { /* 2: e1 */
    const char *msg = lua_tostring(L, -1);
    CHECK(msg != NULL);
    if (!strstr(msg, "invalid UTF-8") && !strstr(msg, "inf at")) {
      fprintf(stderr, "roundtrip_fuzz: unexpected encode error: %s\n", msg);
      abort();
    }
    lua_settop(L, 0);
    return;
  }
  e1 = lua_tolstring(L, 2, &n1);
  CHECK(json_decode_buffer(L, e1, n1, 0)); /* 3: w */
  CHECK(same(L, 1, 3, 0));

  CHECK(json_decode_buffer(L, (const char *)data, size, 1)); /* 4: o */
  CHECK(same(L, 1, 4, 0));
  CHECK(try_encode(L, 4)); /* 5: e2 */
  e2 = lua_tolstring(L, 5, &n2);
  CHECK(json_decode_buffer(L, e2, n2, 1)); /* 6 */
  CHECK(same(L, 4, 6, 0));
  CHECK(try_encode(L, 6)); /* 7: e3 */
  CHECK(lua_rawequal(L, 5, 7));

  if (!repeats_a_name(L, 4, 0)) {
    s1 = (char *)malloc(size + 1);
    s2 = (char *)malloc(n2 + 1);
    CHECK(s1 != NULL && s2 != NULL);
    k1 = skeleton((const char *)data, size, s1);
    k2 = skeleton(e2, n2, s2);
    if (k1 != k2) {
      fprintf(stderr, "roundtrip_fuzz: skeletons differ: %.*s | %.*s\n", (int)k1, s1, (int)k2, s2);
      abort();
    }
    for (i = 0; i < k1; i++) /* a float such as 2.0 may go out as 2 */
      CHECK(s1[i] == s2[i] || (s1[i] == 'n' && s2[i] == 'i'));
    free(s1);
    free(s2);
  }
  lua_settop(L, 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (L0 == NULL) L0 = luaL_newstate();
  round_trip(data, size);
  out_of_memory(data, size, 1);
  return 0;
}
