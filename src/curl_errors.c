/* curl's error codes: see curl_errors.h. */
#include "curl_errors.h"

#include <stdio.h>

#include <lauxlib.h>

#include "compat.h"

static const curl_error list[] = {
#define X(name, kind, retry) {CURLE_##name, #name, kind, retry},
  CURL_ERRORS(X)
#undef X
};

/* A linear search: it runs once per failed transfer. */
const curl_error *curl_error_find(CURLcode c) {
  size_t i;
  for (i = 0; i < sizeof list / sizeof list[0]; i++)
    if (list[i].code == c) return &list[i];
  return NULL;
}

void curl_error_push(lua_State *L, const char *kind, const char *code, const char *message,
                     int received, int retryable) {
  lua_createtable(L, 0, 5);
  lua_pushstring(L, kind);
  lua_setfield(L, -2, "kind");
  lua_pushstring(L, code);
  lua_setfield(L, -2, "code");
  lua_pushstring(L, message);
  lua_setfield(L, -2, "message");
  lua_pushboolean(L, received);
  lua_setfield(L, -2, "received");
  lua_pushboolean(L, retryable);
  lua_setfield(L, -2, "retryable");
}

/* core.curl_error(n) -> {kind, code, message, received = false, retryable} */
static int curl_errors_get(lua_State *L) {
  lua_Integer n = luaL_checkinteger(L, 1);
  const curl_error *e;
  CURLcode c;
  luaL_argcheck(L, n >= 0 && n <= 10000, 1, "a CURLcode is 0 to 10000");
  c = (CURLcode)n;
  if ((e = curl_error_find(c)) != NULL) {
    curl_error_push(L, e->kind, e->name, curl_easy_strerror(c), 0, e->retry != RETRY_NO);
  } else {
    char name[32];
    snprintf(name, sizeof name, "CURLE_%d", (int)n);
    curl_error_push(L, "network", name, curl_easy_strerror(c), 0, 0);
  }
  return 1;
}

static const luaL_Reg curl_errors_funcs[] = {
  {"curl_error", curl_errors_get},
  {NULL, NULL},
};

void curl_errors_open(lua_State *L) { luaL_setfuncs(L, curl_errors_funcs, 0); }
