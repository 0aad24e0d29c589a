/* libFuzzer target for src/headers.c, the response-header parser.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -I/usr/include/lua5.4 \
 *     -Isrc spec/fuzz/headers_fuzz.c src/headers.c -llua5.4 -o headers_fuzz
 *   ./headers_fuzz -max_total_time=600 -dict=spec/fuzz/headers.dict corpus/
 *
 * The input is a raw header block (status line, header lines, anything).
 * headers_push runs under lua_pcall in one long-lived lua_State, and its
 * table must equal what a separate, byte-by-byte reading of the same rules
 * gives: names of 1 to 127 bytes before the first ':' of a line, ASCII
 * upper case folded; values without leading blanks or trailing blanks and
 * CRs; repeats joined with ", "; nothing else in the table. Every key must
 * be free of upper case, ':' and LF, every value of LF.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lua.h>
#include <lauxlib.h>

#include "headers.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                                                    \
  do {                                                              \
    if (!(c)) {                                                     \
      fprintf(stderr, "headers_fuzz: check failed: %s (line %d)\n", \
              #c, __LINE__);                                        \
      abort();                                                      \
    }                                                               \
  } while (0)

static lua_State *L0;

/* headers_push(p, len) under pcall: a light userdata and an integer. */
static int push(lua_State *L) {
  const char *p = (const char *)lua_touserdata(L, 1);
  size_t len = (size_t)lua_tointeger(L, 2);
  headers_push(L, p, len);
  return 1;
}

/* The reference: one (name, value) pair per accepted line, in order. */
typedef struct { const uint8_t *name, *value; size_t nl, vl; } pair;
static pair *pool;                               /* the reference's pairs */
static size_t cap;

static int blank(uint8_t c) { return c == ' ' || c == '\t'; }

static size_t reference(const uint8_t *d, size_t n, pair *out) {
  size_t count = 0, start = 0, i;
  for (i = 0; i <= n; i++) {
    size_t end, colon, v, ve;
    if (i < n && d[i] != '\n') continue;
    end = i;                                     /* the line is d[start, end) */
    for (colon = start; colon < end && d[colon] != ':'; colon++) {}
    if (colon < end && colon > start && colon - start < 128) {
      for (v = colon + 1; v < end && blank(d[v]); v++) {}
      for (ve = end; ve > v && (blank(d[ve - 1]) || d[ve - 1] == '\r'); ve--) {}
      out[count].name = d + start;
      out[count].nl = colon - start;
      out[count].value = d + v;
      out[count].vl = ve - v;
      count++;
    }
    start = i + 1;
  }
  return count;
}

static uint8_t fold(uint8_t c) { return (c >= 'A' && c <= 'Z') ? (uint8_t)(c + 32) : c; }

/* Orders pairs by folded name, then by position: a group of equal names
 * is then a run, in the order the lines came. */
static int order(const void *x, const void *y) {
  const pair *a = (const pair *)x, *b = (const pair *)y;
  size_t i, n = a->nl < b->nl ? a->nl : b->nl;
  for (i = 0; i < n; i++)
    if (fold(a->name[i]) != fold(b->name[i])) return fold(a->name[i]) < fold(b->name[i]) ? -1 : 1;
  if (a->nl != b->nl) return a->nl < b->nl ? -1 : 1;
  return a->name < b->name ? -1 : a->name > b->name;
}

static int same_name(const pair *a, const pair *b) {
  size_t i;
  if (a->nl != b->nl) return 0;
  for (i = 0; i < a->nl; i++)
    if (fold(a->name[i]) != fold(b->name[i])) return 0;
  return 1;
}

/* The value of the run pairs[k, end): joined with ", ". */
static char *joined(const pair *pairs, size_t k, size_t end, size_t *len) {
  size_t i, total = 0, at = 0;
  char *s;
  for (i = k; i < end; i++) total += pairs[i].vl + 2;
  s = malloc(total + 1);
  CHECK(s != NULL);
  for (i = k; i < end; i++) {
    if (i > k) { memcpy(s + at, ", ", 2); at += 2; }
    if (pairs[i].vl) memcpy(s + at, pairs[i].value, pairs[i].vl);
    at += pairs[i].vl;
  }
  *len = at;
  return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  lua_State *L;
  pair *pairs;
  size_t n, i, k, end, unique = 0, keys = 0;
  if (size > 300 * 1024) return -1;             /* over the engine's cap: not kept */
  if (!L0) {
    L0 = luaL_newstate();
    CHECK(L0 != NULL);
    headers_push(L0, NULL, 0);                   /* no block at all */
    lua_pushnil(L0);
    CHECK(lua_next(L0, -2) == 0);
    lua_settop(L0, 0);
  }
  L = L0;
  if (size + 1 > cap) {                         /* kept: a big malloc per run is slow under ASan */
    free(pool);
    cap = size + 1;
    pool = malloc(cap * sizeof *pool);
    CHECK(pool != NULL);
  }
  pairs = pool;
  n = reference(data, size, pairs);

  lua_pushcfunction(L, push);
  lua_pushlightuserdata(L, (void *)data);
  lua_pushinteger(L, (lua_Integer)size);
  CHECK(lua_pcall(L, 2, 1, 0) == LUA_OK);
  CHECK(lua_type(L, -1) == LUA_TTABLE);

  /* every expected name is there, with the expected value */
  qsort(pairs, n, sizeof *pairs, order);
  for (k = 0; k < n; k = end) {
    char name[128], *want;
    size_t wl, gl;
    const char *got;
    for (end = k + 1; end < n && same_name(&pairs[end], &pairs[k]); end++) {}
    unique++;
    for (i = 0; i < pairs[k].nl; i++) name[i] = (char)fold(pairs[k].name[i]);
    lua_pushlstring(L, name, pairs[k].nl);
    CHECK(lua_rawget(L, -2) == LUA_TSTRING);
    got = lua_tolstring(L, -1, &gl);
    want = joined(pairs, k, end, &wl);
    CHECK(gl == wl && memcmp(got, want, wl) == 0);
    free(want);
    lua_pop(L, 1);
  }

  /* and nothing else; keys and values keep the invariants */
  lua_pushnil(L);
  while (lua_next(L, -2) != 0) {
    size_t kl, vl;
    const char *key, *val;
    CHECK(lua_type(L, -2) == LUA_TSTRING && lua_type(L, -1) == LUA_TSTRING);
    key = lua_tolstring(L, -2, &kl);
    val = lua_tolstring(L, -1, &vl);
    CHECK(kl >= 1 && kl < 128);
    for (i = 0; i < kl; i++) CHECK(key[i] != ':' && key[i] != '\n' && !(key[i] >= 'A' && key[i] <= 'Z'));
    CHECK(memchr(val, '\n', vl) == NULL);
    keys++;
    lua_pop(L, 1);
  }
  CHECK(keys == unique);

  lua_settop(L, 0);
  lua_gc(L, LUA_GCCOLLECT, 0);   /* frees match mallocs: no leak scan per run */
  return 0;
}
