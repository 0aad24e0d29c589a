/* Response header lines -> {lower-case name = value}: see headers.h. */
#include "headers.h"

#include <string.h>

#include <lauxlib.h>

#include "compat.h"

void headers_push(lua_State *L, const char *p, size_t len) {
  const char *end, *eol, *colon, *v, *ve, *q;
  int n = 0;
  if (!p) {
    lua_newtable(L);
    return;
  }
  for (q = p; (q = memchr(q, '\n', (size_t)(p + len - q))) != NULL; q++) n++;
  lua_createtable(L, 0, n);
  end = p + len;
  for (; p < end; p = eol < end ? eol + 1 : end) {
    char name[128];
    size_t i, nl;
    if ((eol = memchr(p, '\n', (size_t)(end - p))) == NULL) eol = end;
    if ((colon = memchr(p, ':', (size_t)(eol - p))) == NULL) continue; /* status line */
    nl = (size_t)(colon - p);
    if (nl == 0 || nl >= sizeof name) continue;
    for (i = 0; i < nl; i++) {
      char c = p[i];
      name[i] = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
    }
    for (v = colon + 1; v < eol && (*v == ' ' || *v == '\t'); v++) {}
    for (ve = eol; ve > v && (ve[-1] == '\r' || ve[-1] == ' ' || ve[-1] == '\t'); ve--) {}
    lua_pushlstring(L, name, nl);
    if (lua_rawget(L, -2) == LUA_TSTRING) {
      lua_pushlstring(L, name, nl);
      lua_insert(L, -2);
      lua_pushliteral(L, ", ");
      lua_pushlstring(L, v, (size_t)(ve - v));
      lua_concat(L, 3);
    } else {
      lua_pop(L, 1);
      lua_pushlstring(L, name, nl);
      lua_pushlstring(L, v, (size_t)(ve - v));
    }
    lua_rawset(L, -3);
  }
}

/* core.headers(block) -> {lower-case name = value}: the engine hands Lua the
 * raw header block, and most calls never look at it, so it is parsed only
 * when asked for. */
static int headers_parse(lua_State *L) {
  size_t len;
  const char *p = luaL_optlstring(L, 1, NULL, &len);
  headers_push(L, p, p ? len : 0);
  return 1;
}

static const luaL_Reg headers_funcs[] = {
  {"headers", headers_parse},
  {NULL, NULL},
};

void headers_open(lua_State *L) { luaL_setfuncs(L, headers_funcs, 0); }
