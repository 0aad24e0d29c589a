/* libFuzzer target for the error-body parser (lua/chatgpt/error.lua, with
 * the retry rules of lua/chatgpt/retry.lua) fed
 * through the header parser (src/headers.c) and the JSON decoder
 * (src/json_decode.c), the way a failed response reaches it.
 *
 * sources: spec/fuzz/errors_fuzz.c src/headers.c src/json_decode.c src/json_escapes.c src/json_marks.c src/json_encode.c src/json_path.c src/context.c
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -I/usr/include/lua5.4 \
 *     -Isrc spec/fuzz/errors_fuzz.c src/headers.c src/json_decode.c src/json_escapes.c src/json_marks.c \
 *     src/json_encode.c src/json_path.c src/context.c -llua5.4 -o errors_fuzz
 *   ./errors_fuzz -max_total_time=600 -dict=spec/fuzz/errors.dict corpus/
 *   (from the repository root: the modules are loaded from lua/chatgpt/)
 *
 * Input: bytes 0-1 the status (100..599), byte 2 a retry count and jitter;
 * the rest is a header block and a body split at the first blank line
 * (CRLF CRLF or LF LF), or, with no blank line, a body alone. The headers
 * go through headers_push, the body through error.from_http with the C
 * JSON decoder (a preloaded stand-in for chatgpt.core). The Lua checks
 * below must hold, and nothing may raise: any Lua error aborts.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>

#include "headers.h"
#include "json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The Lua modules, as require finds them from the repository root. */
static const char *const LOAD =
  "package.path = 'lua/?.lua;' .. package.path\n"
  "return require 'chatgpt.error', require 'chatgpt.retry'\n";

/* Called with errors, retry, status, headers, body, n, r; raises on a broken rule. */
static const char *const CHECKS =
  "local errors, retry, status, headers, body, n, r = ...\n"
  "local function check(c, what) if not c then error('check failed: ' .. what, 2) end end\n"
  "local function one_line(s, what)\n"
  "  check(type(s) == 'string' and s:sub(1, 9) == 'chatgpt: ', what .. ' prefix')\n"
  "  check(not s:find('[\\r\\n]'), what .. ' is one line')\n"
  "end\n"
  "local err = errors.from_http(status, headers, body)\n"
  "check(errors.is(err), 'an error object')\n"
  "check(err.kind == 'api' or err.kind == 'http', 'kind')\n"
  "check(err.status == status, 'status')\n"
  "check(type(err.message) == 'string', 'message')\n"
  "check(type(err.retryable) == 'boolean', 'retryable')\n"
  "check(err.request_id == headers['x-request-id'], 'request_id')\n"
  "one_line(tostring(err), 'tostring')\n"
  "if err.kind == 'http' then check(#err.message < 400, 'excerpt length') end\n"
  "local ra = err.retry_after\n"
  "check(ra == nil or (math.type(ra) ~= nil and ra >= 0 and ra == ra and ra < math.huge), 'retry_after')\n"
  "local sr = headers['x-should-retry']\n"
  "sr = sr and sr:lower():match('^%s*(.-)%s*$')\n"
  "if sr == 'true' then check(err.retryable, 'x-should-retry: true') end\n"
  "if sr == 'false' then check(not err.retryable, 'x-should-retry: false') end\n"
  "local d = retry.retry_delay(err, n, r)\n"
  "check(d == nil or (d >= 0 and d <= 60), 'delay range')\n"
  "check((d == nil) == (not err.retryable or (ra ~= nil and ra > 60)), 'delay when retryable')\n"
  "if d and ra and ra > 0 then check(d == ra, 'retry-after honoured') end\n"
  "local rl = retry.ratelimit(headers)\n"
  "check(rl == nil or type(rl) == 'table', 'ratelimit')\n"
  "for _, v in pairs(headers) do\n"
  "  local x = retry.parse_duration(v)\n"
  "  check(x == nil or math.type(x) ~= nil, 'parse_duration')\n"
  "end\n"
  "local obj = require('chatgpt.core').decode(body)\n"
  "if obj ~= nil then\n"
  "  local e2 = errors.from_api(obj, status, headers)\n"
  "  check(e2.kind == 'api' and type(e2.message) == 'string', 'from_api')\n"
  "  one_line(tostring(e2), 'tostring(from_api)')\n"
  "end\n";

static lua_State *L0;
static int checks_ref, errors_ref, retry_ref;

static void die(lua_State *L, const char *what) {
  fprintf(stderr, "errors_fuzz: %s: %s\n", what, lua_tostring(L, -1));
  abort();
}

/* The part of chatgpt.core that error.lua uses: the C JSON decoder. */
static int core_stub(lua_State *L) {
  lua_newtable(L);
  json_decode_open(L);
  return 1;
}

static lua_State *setup(void) {
  lua_State *L = luaL_newstate();
  if (!L) abort();
  luaL_openlibs(L);
  lua_getglobal(L, "package");
  lua_getfield(L, -1, "preload");
  lua_pushcfunction(L, core_stub);
  lua_setfield(L, -2, "chatgpt.core");
  lua_settop(L, 0);
  if (luaL_loadstring(L, LOAD) != LUA_OK) die(L, "the loader");
  if (lua_pcall(L, 0, 2, 0) != LUA_OK) die(L, "loading chatgpt.error (run from the repository root)");
  retry_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  errors_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  if (luaL_loadstring(L, CHECKS) != LUA_OK) die(L, "the checks");
  checks_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  return L;
}

static int push_headers(lua_State *L) {
  headers_push(L, (const char *)lua_touserdata(L, 1), (size_t)lua_tointeger(L, 2));
  return 1;
}

static const uint8_t *find(const uint8_t *d, size_t n, const char *pat, size_t pl) {
  size_t i;
  for (i = 0; i + pl <= n; i++)
    if (memcmp(d + i, pat, pl) == 0) return d + i;
  return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  lua_State *L;
  const uint8_t *rest, *sep, *crlf, *lf;
  size_t n, hl = 0, skip = 0;
  int status;
  if (!L0) L0 = setup();
  L = L0;
  if (size < 3) return 0;
  status = 100 + (int)(((unsigned)data[0] << 8 | data[1]) % 500);
  rest = data + 3;
  n = size - 3;
  crlf = find(rest, n, "\r\n\r\n", 4);
  lf = find(rest, n, "\n\n", 2);
  sep = crlf && (!lf || crlf < lf) ? crlf : lf;
  if (sep) {
    hl = (size_t)(sep - rest);
    skip = sep == crlf ? 4 : 2;
  }

  lua_rawgeti(L, LUA_REGISTRYINDEX, checks_ref);
  lua_rawgeti(L, LUA_REGISTRYINDEX, errors_ref);
  lua_rawgeti(L, LUA_REGISTRYINDEX, retry_ref);
  lua_pushinteger(L, status);
  lua_pushcfunction(L, push_headers);
  lua_pushlightuserdata(L, (void *)rest);
  lua_pushinteger(L, (lua_Integer)hl);
  if (lua_pcall(L, 2, 1, 0) != LUA_OK) die(L, "headers_push");
  if (sep) lua_pushlstring(L, (const char *)sep + skip, n - hl - skip);
  else lua_pushlstring(L, (const char *)rest, n);
  lua_pushinteger(L, data[2] % 12);
  lua_pushnumber(L, (double)data[2] / 256.0);
  if (lua_pcall(L, 7, 0, 0) != LUA_OK) die(L, "the checks");
  lua_settop(L, 0);
  lua_gc(L, LUA_GCCOLLECT, 0);   /* frees match mallocs: no leak scan per run */
  return 0;
}
