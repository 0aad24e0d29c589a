/* The path to a value the encoder could not encode, as Lua would write
 * it: messages[2].content, tools[1]["odd key"]. Only error messages use
 * it (json_path.h). */
#include <stddef.h>

#include <lua.h>
#include <lauxlib.h>

#include "compat.h"
#include "json.h"
#include "json_path.h"
#include "json_utf8.h"

static int is_ident(const char *s, size_t n) {
  size_t i;
  if (n == 0 || (s[0] >= '0' && s[0] <= '9')) return 0;
  for (i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (!(c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')))
      return 0;
  }
  return 1;
}

/* Appends one path step: .name, ["odd key"] or [n]. */
static void path_step(lua_State *L, luaL_Buffer *B, const jpath *p, int first) {
  size_t n, i, max = 40;
  const char *k;
  int utf8;
  if (p->key == 0) {
    lua_pushfstring(L, "[" COMPAT_I "]", COMPAT_IARG(p->index));
    luaL_addvalue(B);
    return;
  }
  k = lua_tolstring(L, p->key, &n);
  if (is_ident(k, n)) {
    if (!first) luaL_addchar(B, '.');
    luaL_addlstring(B, k, n);
    return;
  }
  utf8 = utf8_check((const unsigned char *)k, n) == n;
  luaL_addstring(B, "[\"");
  for (i = 0; i < n && i < max; i++) {
    unsigned char c = (unsigned char)k[i];
    if (c == '"' || c == '\\') {
      luaL_addchar(B, '\\');
      luaL_addchar(B, (char)c);
    } else if (c < 0x20 || c == 0x7F || (c >= 0x80 && !utf8)) {
      lua_pushfstring(L, "\\%d", (int)c);
      luaL_addvalue(B);
    } else
      luaL_addchar(B, (char)c);
  }
  if (i < n) luaL_addstring(B, "...");
  luaL_addstring(B, "\"]");
}

void json_push_path(lua_State *L, const jpath *p) {
  const jpath *v[JSON_MAX_DEPTH + 2];
  int n = 0, i;
  luaL_Buffer B;
  if (p == NULL) {
    lua_pushliteral(L, "(top level)");
    return;
  }
  for (; p != NULL && n < JSON_MAX_DEPTH + 2; p = p->up) v[n++] = p;
  luaL_buffinit(L, &B);
  for (i = n - 1; i >= 0; i--) {
    if (n > 16 && i == n - 9) {
      luaL_addstring(&B, "[...]");
      i = 4;
    }
    path_step(L, &B, v[i], i == n - 1);
  }
  luaL_pushresult(&B);
}
