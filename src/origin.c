/* Origins: see origin.h. URLs are judged by libcurl's own parser (curl_url),
 * the one that decides where a transfer connects: a split in Lua judged
 * "http://127.0.0.1:x@HOST/" by its userinfo while curl went to HOST. */
#include "origin.h"
#include "compat.h"
#include "key.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <lauxlib.h>

#define ORIGIN_TYPE "chatgpt.origin"

typedef struct parts {
  char *url, *scheme, *host; /* curl_free'd by parts_free */
  long port;
  int userinfo, query, fragment;
} parts;

static void parts_free(parts *p) {
  curl_free(p->url);
  curl_free(p->scheme);
  curl_free(p->host);
  memset(p, 0, sizeof *p);
}

static int present(CURLU *u, CURLUPart what) {
  char *s = NULL;
  int has = curl_url_get(u, what, &s, 0) == CURLUE_OK && s != NULL;
  curl_free(s);
  return has;
}

/* Splits s as libcurl will connect to it. NULL when it parsed, else why
 * not; the message never repeats s, which may hold a password. */
static const char *parse(const char *s, parts *p) {
  CURLU *u = curl_url();
  char *port = NULL;
  const char *why = NULL;
  char *q;
  memset(p, 0, sizeof *p);
  if (!u) return "out of memory";
  if (curl_url_set(u, CURLUPART_URL, s, 0) != CURLUE_OK) {
    why = "not a valid URL";
  } else if (curl_url_get(u, CURLUPART_SCHEME, &p->scheme, 0) != CURLUE_OK ||
             curl_url_get(u, CURLUPART_HOST, &p->host, 0) != CURLUE_OK ||
             curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK ||
             curl_url_get(u, CURLUPART_URL, &p->url, 0) != CURLUE_OK) {
    why = "not a valid URL";
  } else {
    p->port = strtol(port, NULL, 10);
    p->userinfo =
      present(u, CURLUPART_USER) || present(u, CURLUPART_PASSWORD) || present(u, CURLUPART_OPTIONS);
    p->query = present(u, CURLUPART_QUERY);
    p->fragment = present(u, CURLUPART_FRAGMENT);
    for (q = p->host; *q; q++)
      if (*q >= 'A' && *q <= 'Z') *q = (char)(*q + 32);
    if (strcmp(p->scheme, "http") != 0 && strcmp(p->scheme, "https") != 0)
      why = "not an http:// or https:// URL";
  }
  curl_free(port);
  curl_url_cleanup(u);
  if (why) parts_free(p);
  return why;
}

/* This machine: "localhost" and "*.localhost" (libcurl answers those
 * itself, without asking DNS), 127.0.0.0/8 and [::1]. Anything else,
 * [::ffff:127.0.0.1] included, is judged remote: the rule fails closed. */
static int is_loopback(const char *host) {
  size_t n = strlen(host);
  unsigned char a[16];
  char inner[64];
  if (strcmp(host, "localhost") == 0) return 1;
  if (n > 10 && strcmp(host + n - 10, ".localhost") == 0) return 1;
  if (inet_pton(AF_INET, host, a) == 1) return a[0] == 127;
  if (n > 2 && n < sizeof inner + 2 && host[0] == '[' && host[n - 1] == ']') {
    memcpy(inner, host + 1, n - 2);
    inner[n - 2] = '\0';
    if (inet_pton(AF_INET6, inner, a) == 1) {
      static const unsigned char one[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
      return memcmp(a, one, 16) == 0;
    }
  }
  return 0;
}

static char *dupstr(const char *s) {
  size_t n = strlen(s) + 1;
  char *p = (char *)malloc(n);
  if (p) memcpy(p, s, n);
  return p;
}

origin *origin_check(lua_State *L, int idx) {
  return (origin *)luaL_checkudata(L, idx, ORIGIN_TYPE);
}

const char *origin_key(lua_State *L, int idx, size_t *len) {
  const char *k = NULL;
  origin_check(L, idx);
  if (compat_getuservalue(L, idx) == LUA_TUSERDATA) k = key_bytes(L, -1, len);
  lua_pop(L, 1); /* the origin keeps the key alive */
  return k;
}

char *origin_url(const origin *o, const char *path, const char *query, const char **why) {
  size_t nb = strlen(o->base), np = strlen(path), nq = strlen(query);
  char *full, *url = NULL;
  parts p;
  if (path[0] != '/') {
    *why = "a path starts with '/'";
    return NULL;
  }
  if ((full = (char *)malloc(nb + np + nq + 1)) == NULL) {
    *why = "out of memory";
    return NULL;
  }
  memcpy(full, o->base, nb);
  memcpy(full + nb, path, np);
  memcpy(full + nb + np, query, nq + 1);
  if ((*why = parse(full, &p)) == NULL) {
    if (p.userinfo || strcmp(p.scheme, o->scheme) != 0 || strcmp(p.host, o->host) != 0 ||
        p.port != o->port)
      *why = "the URL would leave the client's origin";
    else if ((url = dupstr(p.url)) == NULL)
      *why = "out of memory";
    parts_free(&p);
  }
  free(full);
  return url;
}

static int origin_gc(lua_State *L) {
  origin *o = origin_check(L, 1);
  free(o->base);
  free(o->scheme);
  free(o->host);
  o->base = o->scheme = o->host = NULL;
  return 0;
}

static int fail(lua_State *L, const char *why) {
  lua_pushnil(L);
  lua_pushstring(L, why);
  return 2;
}

/* A string field of the options table; NULL when absent. Raises on an
 * embedded NUL: C would see a shorter string than Lua checked. */
static const char *strfield(lua_State *L, const char *k) {
  size_t len;
  const char *s;
  if (lua_getfield(L, 1, k) == LUA_TNIL) {
    lua_pop(L, 1);
    return NULL;
  }
  s = luaL_checklstring(L, -1, &len);
  if (strlen(s) != len) luaL_error(L, "chatgpt: %s holds a NUL byte", k);
  lua_pop(L, 1); /* the table keeps it alive */
  return s;
}

/* core.origin{url, key, auth, allow_insecure, key_later} -> origin | nil, why
 * key_later: no key yet, one will come (a new origin of the same URL holds
 * it): the URL is judged as if it had one. */
static int origin_new(lua_State *L) {
  const char *url, *auth, *why;
  int insecure, has_key, keyed;
  origin *o;
  parts p;
  size_t n;
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  url = strfield(L, "url");
  auth = strfield(L, "auth");
  luaL_argcheck(L, url != NULL, 1, "origin.url missing");
  if (auth == NULL) auth = "bearer";
  lua_getfield(L, 1, "allow_insecure");
  insecure = lua_toboolean(L, -1);
  lua_getfield(L, 1, "key");                   /* stack: opts, insecure, key */
  if (!lua_isnil(L, -1)) key_bytes(L, -1, &n); /* raises when not a key */
  has_key = !lua_isnil(L, -1) && strcmp(auth, "none") != 0;
  lua_getfield(L, 1, "key_later");
  keyed = has_key || (lua_toboolean(L, -1) && strcmp(auth, "none") != 0);
  lua_pop(L, 1);

  if ((why = parse(url, &p)) != NULL) return fail(L, why);
  if (p.userinfo)
    why = "a user name or password in the URL (userinfo) is not allowed";
  else if (p.query || p.fragment)
    why = "a query or fragment is not allowed (use the query option)";
  if (why) {
    parts_free(&p);
    return fail(L, why);
  }
  if (keyed && strcmp(p.scheme, "http") == 0 && !is_loopback(p.host) && !insecure) {
    lua_pushnil(L);
    lua_pushfstring(L,
                    "refusing to send the API key over plain http:// to %s; use https://, "
                    "auth = \"none\" for a server that needs no key, or allow_insecure = true",
                    p.host);
    parts_free(&p);
    return 2;
  }

  o = (origin *)compat_newuserdata(L, sizeof(origin), 1);
  memset(o, 0, sizeof *o);
  luaL_setmetatable(L, ORIGIN_TYPE);
  n = strlen(p.url);
  while (n > 0 && p.url[n - 1] == '/') n--; /* paths are appended with their '/' */
  o->base = dupstr(p.url);
  o->scheme = dupstr(p.scheme);
  o->host = dupstr(p.host);
  o->port = p.port;
  o->loopback = is_loopback(p.host);
  o->auth = strcmp(auth, "none") == 0      ? AUTH_NONE
            : strcmp(auth, "api-key") == 0 ? AUTH_API_KEY
                                           : AUTH_BEARER;
  parts_free(&p);
  if (!o->base || !o->scheme || !o->host) return luaL_error(L, "chatgpt: out of memory");
  o->base[n] = '\0';
  if (has_key) {
    lua_pushvalue(L, 3);
    compat_setuservalue(L, -2);
  }
  return 1;
}

/* core.origin_of(url) -> "scheme://host:port": what to compare when a key
 * may go to one origin only (the environment's key). */
static int origin_of(lua_State *L) {
  parts p;
  const char *why = parse(luaL_checkstring(L, 1), &p);
  if (why) return fail(L, why);
  lua_pushfstring(L, "%s://%s:%d", p.scheme, p.host, (int)p.port);
  parts_free(&p);
  return 1;
}

static int origin_tourl(lua_State *L) {
  lua_pushstring(L, origin_check(L, 1)->base);
  return 1;
}

static int origin_loopback(lua_State *L) {
  lua_pushboolean(L, origin_check(L, 1)->loopback);
  return 1;
}

/* o:hint() -> the key's hint, or nil without a key */
static int origin_hint(lua_State *L) {
  origin_check(L, 1);
  if (compat_getuservalue(L, 1) != LUA_TUSERDATA) return 0;
  lua_getfield(L, -1, "hint");
  lua_insert(L, -2);
  lua_call(L, 1, 1);
  return 1;
}

/* o:redact(s) -> s with the key replaced by its hint (text from a server
 * that echoes it) */
static int origin_redact(lua_State *L) {
  origin_check(L, 1);
  luaL_checkstring(L, 2);
  if (compat_getuservalue(L, 1) != LUA_TUSERDATA) {
    lua_settop(L, 2);
    return 1;
  }
  lua_pushcfunction(L, key_redact);
  lua_pushvalue(L, 2);
  lua_pushvalue(L, -3);
  lua_call(L, 2, 1);
  return 1;
}

static int origin_tostring(lua_State *L) {
  lua_pushfstring(L, "chatgpt.origin (%s)", origin_check(L, 1)->base);
  return 1;
}

/* clang-format off */
static const luaL_Reg origin_methods[] = {
  {"url", origin_tourl},
  {"hint", origin_hint},
  {"redact", origin_redact},
  {"loopback", origin_loopback},
  {NULL, NULL},
};
/* clang-format on */

static const luaL_Reg origin_meta[] = {
  {"__gc", origin_gc},
  {"__tostring", origin_tostring},
  {"__index", NULL},
  {NULL, NULL},
};

static const luaL_Reg origin_funcs[] = {
  {"origin", origin_new},
  {"origin_of", origin_of},
  {NULL, NULL},
};

void origin_open(lua_State *L) {
  luaL_newmetatable(L, ORIGIN_TYPE);
  luaL_setfuncs(L, origin_meta, 0);
  luaL_newlib(L, origin_methods);
  lua_setfield(L, -2, "__index");
  lua_pushliteral(L, "not yours"); /* getmetatable(origin) hides it */
  lua_setfield(L, -2, "__metatable");
  lua_pop(L, 1);
  luaL_setfuncs(L, origin_funcs, 0);
}
