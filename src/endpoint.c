/* Prepared endpoints: see endpoint.h. A client makes one per endpoint and
 * reuses it for every call, so reading the options, building the header
 * list (with the key) and configuring a handle happen once, not per call;
 * handles go back to their endpoint's pool configured, not reset. */
#include "endpoint.h"
#include "compat.h"
#include "defaults.h"
#include "key.h"
#include "origin.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#define ENDPOINT_TYPE "chatgpt.endpoint"

static char *dupstr(const char *s) {
  char *p;
  size_t n;
  if (s == NULL) return NULL;
  n = strlen(s) + 1;
  if ((p = (char *)malloc(n)) != NULL) memcpy(p, s, n);
  return p;
}

static void wipe_list(struct curl_slist *h) {
  struct curl_slist *p;
  for (p = h; p; p = p->next) explicit_bzero(p->data, strlen(p->data));
  curl_slist_free_all(h);
}

/* Frees what the handles point to: only once none is lent out. */
static void endpoint_free(endpoint *s) {
  wipe_list(s->headers);
  s->headers = NULL;
  if (s->proxy) explicit_bzero(s->proxy, strlen(s->proxy)); /* user:password@ */
  if (s->key_pass) explicit_bzero(s->key_pass, strlen(s->key_pass));
  free(s->url);
  free(s->user_agent);
  free(s->ca_file);
  free(s->proxy);
  free(s->noproxy);
  free(s->cert_file);
  free(s->key_file);
  free(s->key_pass);
  s->url = s->user_agent = s->ca_file = s->proxy = s->noproxy = NULL;
  s->cert_file = s->key_file = s->key_pass = NULL;
}

static int endpoint_gc(lua_State *L) {
  endpoint *s = (endpoint *)luaL_checkudata(L, 1, ENDPOINT_TYPE);
  if (s->closed) return 0;
  s->closed = 1;
  while (s->npool > 0) curl_easy_cleanup(s->pool[--s->npool]);
  if (s->nout == 0) endpoint_free(s);
  return 0;
}

endpoint *endpoint_check(lua_State *L, int idx) {
  endpoint *s = (endpoint *)luaL_checkudata(L, idx, ENDPOINT_TYPE);
  if (s->closed) luaL_argerror(L, idx, "endpoint is closed");
  return s;
}

/* ---- construction ---------------------------------------------------- */

/* A number field in [lo, hi]; def when absent. Raises on anything else,
 * NaN and infinities included: every cast below is then in range. */
static double optnum(lua_State *L, const char *k, double def, double lo, double hi) {
  double v;
  lua_getfield(L, 1, k);
  v = luaL_opt(L, luaL_checknumber, -1, def);
  lua_pop(L, 1);
  if (!(v >= lo && v <= hi)) luaL_error(L, "chatgpt: endpoint.%s out of range", k);
  return v;
}

/* A string field; raises on an embedded NUL (C would see less of it than
 * Lua checked). */
static const char *optstr(lua_State *L, const char *k, const char *def) {
  const char *v;
  size_t len;
  lua_getfield(L, 1, k);
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    return def;
  }
  v = luaL_checklstring(L, -1, &len);
  if (strlen(v) != len) luaL_error(L, "chatgpt: endpoint.%s holds a NUL byte", k);
  lua_pop(L, 1); /* the table keeps it alive */
  return v;
}

/* A copy of an optional string field in *dst; 0 when out of memory. */
static int optcopy(lua_State *L, const char *k, char **dst) {
  const char *v = optstr(L, k, NULL);
  return v == NULL || (*dst = dupstr(v)) != NULL;
}

static int optbool(lua_State *L, const char *k) {
  int v;
  lua_getfield(L, 1, k);
  v = lua_toboolean(L, -1);
  lua_pop(L, 1);
  return v;
}

static int addheader(endpoint *s, const char *h) {
  struct curl_slist *n = curl_slist_append(s->headers, h);
  if (!n) return 0;
  s->headers = n;
  return 1;
}

/* The key's header, built in C memory that is wiped right after curl has
 * copied it into the list (which is itself wiped when freed). The key and
 * how it goes out are the origin's: nothing else chooses them. */
static int addauth(lua_State *L, endpoint *s, int origin_idx) {
  const origin *o = origin_check(L, origin_idx);
  size_t klen, n;
  const char *k = origin_key(L, origin_idx, &klen), *fmt;
  char *h;
  int ok;
  if (k == NULL || o->auth == AUTH_NONE) return 1;
  fmt = o->auth == AUTH_API_KEY ? "api-key: " : "Authorization: Bearer ";
  n = strlen(fmt);
  if ((h = (char *)malloc(n + klen + 1)) == NULL) return 0;
  memcpy(h, fmt, n);
  memcpy(h + n, k, klen);
  h[n + klen] = '\0';
  ok = addheader(s, h);
  explicit_bzero(h, n + klen);
  free(h);
  return ok;
}

/* A header line "Name: value": a token for a name, and no CR, LF or NUL
 * anywhere (header injection). */
static int header_ok(const char *h, size_t len) {
  const char *colon = memchr(h, ':', len);
  size_t i;
  if (colon == NULL || colon == h || strlen(h) != len || strpbrk(h, "\r\n")) return 0;
  for (i = 0; h + i < colon; i++)
    if (!strchr("!#$%&'*+-.^_`|~", h[i]) &&
        !((h[i] >= '0' && h[i] <= '9') || (h[i] >= 'A' && h[i] <= 'Z') ||
          (h[i] >= 'a' && h[i] <= 'z')))
      return 0;
  return 1;
}

#define MAX_SECONDS 2147483.0          /* seconds whose milliseconds fit a 32-bit long */
#define MAX_BYTES   9007199254740992.0 /* 2^53: exact as a double, fits size_t */

/* core.endpoint{...}: see endpoint.h. */
static int endpoint_new(lua_State *L) {
  endpoint *s;
  const char *path, *method, *why;
  origin *o;
  lua_Integer i, n;
  double t;
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  lua_getfield(L, 1, "origin");
  o = origin_check(L, 2); /* stays at index 2 */
  path = optstr(L, "path", NULL);
  luaL_argcheck(L, path != NULL, 1, "endpoint.path missing");
  method = optstr(L, "method", "POST");
  luaL_argcheck(L,
                strcmp(method, "GET") == 0 || strcmp(method, "POST") == 0 ||
                  strcmp(method, "DELETE") == 0,
                1, "endpoint.method must be GET, POST or DELETE");

  s = (endpoint *)compat_newuserdata(L, sizeof(endpoint), 0);
  memset(s, 0, sizeof *s); /* __gc frees a half-built one */
  luaL_setmetatable(L, ENDPOINT_TYPE);
  s->post = method[0] == 'P';
  s->remove = method[0] == 'D';
  lua_getfield(L, 1, "stream");
  if (lua_type(L, -1) == LUA_TSTRING) {
    luaL_argcheck(L, strcmp(lua_tostring(L, -1), "bytes") == 0, 1,
                  "endpoint.stream must be true, \"bytes\" or nil");
    s->stream = ENDPOINT_BYTES;
  } else {
    s->stream = lua_toboolean(L, -1) ? ENDPOINT_SSE : ENDPOINT_WHOLE;
  }
  lua_pop(L, 1);
  s->compressed = optbool(L, "compressed");
  t = optnum(L, "connect_timeout", DEFAULT_CONNECT_TIMEOUT, 0, HUGE_VAL);
  luaL_argcheck(L, t > 0 && t < HUGE_VAL, 1,
                "endpoint.connect_timeout must be a finite number > 0");
  s->connect_ms = t >= MAX_SECONDS ? (long)(MAX_SECONDS * 1000) : (long)(t * 1000 + 0.999);
  s->max_body = (size_t)optnum(L, "max_body", DEFAULT_MAX_RESPONSE_BYTES, 1, MAX_BYTES);
  s->max_header = (size_t)optnum(L, "max_header", DEFAULT_MAX_HEADER_BYTES, 1, MAX_BYTES);
  s->max_event = (size_t)optnum(L, "max_event", DEFAULT_MAX_EVENT_BYTES, 1, MAX_BYTES);
  s->max_stream = (size_t)optnum(L, "max_stream", DEFAULT_MAX_STREAM_BYTES, 1, MAX_BYTES);
  if ((s->url = origin_url(o, path, optstr(L, "query", ""), &why)) == NULL)
    return luaL_error(L, "chatgpt: %s", why);
  /* a proxy from the environment could not reach this machine's own
   * server, and would carry a key sent over plain http off it */
  s->no_proxy = o->loopback;
  if ((s->user_agent = dupstr(optstr(L, "user_agent", DEFAULT_USER_AGENT))) == NULL ||
      !optcopy(L, "ca_file", &s->ca_file) || !optcopy(L, "cert_file", &s->cert_file) ||
      !optcopy(L, "key_file", &s->key_file) || !optcopy(L, "proxy", &s->proxy) ||
      !optcopy(L, "no_proxy", &s->noproxy))
    return luaL_error(L, "chatgpt: out of memory");
  if (lua_getfield(L, 1, "key_passphrase") != LUA_TNIL &&
      (s->key_pass = dupstr(secret_bytes(L, -1))) == NULL)
    return luaL_error(L, "chatgpt: out of memory");
  lua_pop(L, 1);

  if (lua_getfield(L, 1, "headers") == LUA_TTABLE) {
    n = luaL_len(L, -1);
    for (i = 1; i <= n; i++) {
      const char *h;
      size_t len = 0;
      lua_rawgeti(L, -1, i);
      h = lua_tolstring(L, -1, &len);
      luaL_argcheck(L, h && header_ok(h, len), 1,
                    "header lines are 'Name: value' without CR, LF or NUL");
      if (!addheader(s, h)) return luaL_error(L, "chatgpt: out of memory");
      lua_pop(L, 1);
    }
  }
  lua_pop(L, 1);
  /* "Name:" with no value removes a header libcurl would add. Answers are
   * decoded whenever a server compresses them; only `compressed` endpoints
   * ask for it: a chat answer is small, and libcurl's writing the header
   * costs more than it saves there. */
  if (!addheader(s, "Expect:") || (!s->compressed && !addheader(s, "Accept-Encoding:")) ||
      (!optbool(L, "without_key") && !addauth(L, s, 2)))
    return luaL_error(L, "chatgpt: out of memory");
  return 1;
}

/* ---- handles ----------------------------------------------------------- */

static void configure(endpoint *s, CURL *c) {
  curl_easy_setopt(c, CURLOPT_URL, s->url);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
#if LIBCURL_VERSION_NUM >= 0x075500
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
#endif
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
  curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
  /* Only where ALPN tells at once whether a connection multiplexes: over
   * plain HTTP/1.1 curl learns it when the first response ends, and every
   * other transfer to that host would wait for it. */
  if (strncmp(s->url, "https://", 8) == 0) curl_easy_setopt(c, CURLOPT_PIPEWAIT, 1L);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, s->headers);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, s->connect_ms);
  curl_easy_setopt(c, CURLOPT_USERAGENT, s->user_agent);
  /* A proxy reads a key only where it travels in the clear anyway: plain
   * http carries one only to a loopback origin (never proxied) or with
   * allow_insecure (origin.c); https goes through a CONNECT tunnel. */
  if (s->no_proxy) {
    curl_easy_setopt(c, CURLOPT_PROXY, "");
  } else {
    if (s->proxy) curl_easy_setopt(c, CURLOPT_PROXY, s->proxy);
    if (s->noproxy) curl_easy_setopt(c, CURLOPT_NOPROXY, s->noproxy);
  }
  if (s->cert_file) curl_easy_setopt(c, CURLOPT_SSLCERT, s->cert_file);
  if (s->key_file) curl_easy_setopt(c, CURLOPT_SSLKEY, s->key_file);
  /* Always a passphrase with a certificate: without one libcurl lets
   * OpenSSL prompt for it on the terminal, from inside a poll. "" makes an
   * encrypted key fail instead. (libcurl keeps its own copy, freed but not
   * wiped with the handle.) */
  if (s->cert_file || s->key_file)
    curl_easy_setopt(c, CURLOPT_KEYPASSWD, s->key_pass ? s->key_pass : "");
  if (s->ca_file) /* a private CA; verification stays on */
    curl_easy_setopt(c, CURLOPT_CAINFO, s->ca_file);
  curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
  if (!s->post) curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
  if (s->remove) curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "DELETE");
}

CURL *endpoint_take(endpoint *s, int *fresh) {
  CURL *c;
  *fresh = 0;
  if (s->npool > 0) {
    c = s->pool[--s->npool];
  } else {
    if ((c = curl_easy_init()) == NULL) return NULL;
    configure(s, c);
    *fresh = 1;
  }
  s->nout++;
  return c;
}

void endpoint_give(endpoint *s, CURL *c) {
  s->nout--;
  if (!s->closed && s->npool < ENDPOINT_POOL) {
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL); /* it pointed into the transfer */
    s->pool[s->npool++] = c;
  } else {
    curl_easy_cleanup(c);
    if (s->closed && s->nout == 0) endpoint_free(s);
  }
}

static const luaL_Reg endpoint_funcs[] = {
  {"endpoint", endpoint_new},
  {NULL, NULL},
};

void endpoint_open(lua_State *L) {
  luaL_newmetatable(L, ENDPOINT_TYPE);
  lua_pushcfunction(L, endpoint_gc);
  lua_setfield(L, -2, "__gc");
  lua_pop(L, 1);
  luaL_setfuncs(L, endpoint_funcs, 0);
}
