/* The origin a client is bound to ("chatgpt.origin"): its base URL, parsed
 * once with libcurl's own URL parser, and the key that may be sent there.
 *
 * Every URL a request goes to is built here from the origin's base URL and
 * a path, parsed again by libcurl, and refused unless it has the origin's
 * scheme, host and port and no user name or password. So the key goes to
 * the origin it was given with and nowhere else: no later change of a Lua
 * field, and no copy of a client's fields, can send it anywhere else. */
#ifndef CHATGPT_ORIGIN_H
#define CHATGPT_ORIGIN_H

#include <stddef.h>
#include <lua.h>

enum { AUTH_NONE, AUTH_BEARER, AUTH_API_KEY };

typedef struct origin {
  char *base;   /* base URL as libcurl writes it, no trailing '/' */
  char *scheme; /* "http" | "https" */
  char *host;   /* lower-cased; an IPv6 address in brackets */
  long port;
  int loopback; /* host is this machine: localhost, 127/8, [::1] */
  int auth;     /* AUTH_*: how the key goes out */
} origin;

origin *origin_check(lua_State *L, int idx);

/* The key bound to the origin at idx: its bytes, or NULL when it has none
 * (auth "none", or no key given). */
const char *origin_key(lua_State *L, int idx, size_t *len);

/* The URL for `path` (which starts with '/') and `query` ("" or "?..."),
 * as libcurl normalises it, in malloc'd memory; NULL with *why set when it
 * would leave the origin or is not a URL. */
char *origin_url(const origin *o, const char *path, const char *query, const char **why);

/* Lua: core.origin{url, key, auth, allow_insecure, key_later} -> origin | nil, why
 *      (key_later: no key yet, but a new origin of this URL will hold one:
 *      the URL is refused as if it had it)
 *      core.origin_of(url) -> "scheme://host:port" | nil, why
 * Methods: o:url(), o:hint() -> "sk-...wxyz" | nil, o:redact(s) -> s
 * with every copy of the key replaced by its hint, o:loopback(). */
void origin_open(lua_State *L); /* also registers the metatable */

#endif
