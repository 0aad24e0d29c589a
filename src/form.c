/* Multipart bodies: see form.h. */
#include "form.h"

#include <string.h>

#include <lauxlib.h>

#include "compat.h"

/* The string field k of the part at the top of the stack, or NULL when
 * absent; raises when it is there but not a string without NUL (a name,
 * path or type; `data` may hold any bytes: its length is given). */
static const char *field(lua_State *L, lua_Integer i, const char *k, size_t *len, int bytes) {
  const char *s;
  size_t n;
  lua_getfield(L, -1, k);
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    return NULL;
  }
  if (lua_type(L, -1) != LUA_TSTRING)
    luaL_error(L, "chatgpt: form part #%d: %s must be a string", (int)i, k);
  s = lua_tolstring(L, -1, &n);
  if (!bytes && strlen(s) != n) luaL_error(L, "chatgpt: form part #%d: %s holds a NUL byte", (int)i, k);
  if (len) *len = n;
  lua_pop(L, 1); /* the part table keeps it alive */
  return s;
}

static void check(lua_State *L, CURLcode rc) {
  if (rc == CURLE_OUT_OF_MEMORY) luaL_error(L, "chatgpt: out of memory");
}

void form_build(lua_State *L, int idx, curl_mime *mime) {
  lua_Integer i, n;
  idx = lua_absindex(L, idx);
  n = luaL_len(L, idx);
  for (i = 1; i <= n; i++) {
    const char *name, *data, *file, *filename, *type;
    size_t len = 0;
    curl_mimepart *part;
    lua_rawgeti(L, idx, i);
    if (!lua_istable(L, -1)) luaL_error(L, "chatgpt: form part #%d is not a table", (int)i);
    name = field(L, i, "name", NULL, 0);
    data = field(L, i, "data", &len, 1);
    file = field(L, i, "file", NULL, 0);
    filename = field(L, i, "filename", NULL, 0);
    type = field(L, i, "type", NULL, 0);
    if (name == NULL || (data == NULL) == (file == NULL))
      luaL_error(L, "chatgpt: form part #%d needs a name and one of data or file", (int)i);
    if ((part = curl_mime_addpart(mime)) == NULL) luaL_error(L, "chatgpt: out of memory");
    check(L, curl_mime_name(part, name));
    if (data)
      check(L, curl_mime_data(part, data, len));
    else
      check(L, curl_mime_filedata(part, file)); /* READ_ERROR: curl says so when it reads */
    if (filename) check(L, curl_mime_filename(part, filename));
    if (type) check(L, curl_mime_type(part, type));
    lua_pop(L, 1);
  }
}
