/* A prepared kind of request ("chatgpt.spec"): what every call of one
 * client to one endpoint shares - URL, method, header list with the key,
 * limits, options - worked out once, and a few easy handles already
 * configured with it. A call then sets only its own body and timeout. */
#ifndef CHATGPT_SPEC_H
#define CHATGPT_SPEC_H

#include <stddef.h>

#include <curl/curl.h>
#include <lua.h>

#define SPEC_POOL 8                 /* idle handles kept per spec */

typedef struct spec {
  struct curl_slist *headers;       /* holds the key: wiped when freed */
  char *url, *user_agent, *ca_file;
  int post;                         /* POST with a body, else GET without */
  int stream, compressed;
  int no_proxy;                     /* never through a proxy: the origin is loopback */
  long connect_ms;
  size_t max_body, max_header, max_event;
  CURL *pool[SPEC_POOL];
  int npool;
  int nout;                         /* handles lent to requests */
  int closed;                       /* collected: handles coming back are freed */
} spec;

/* Lua: core.spec{origin, path, query, method = "GET" | "POST",
 *   headers = {"Name: value"...}, connect_timeout, max_body, max_header,
 *   max_event, stream, compressed, user_agent, ca_file} -> spec
 * The URL is the origin's base URL + path + query, checked to stay on the
 * origin (origin.h); the key, and how it goes out, are the origin's. */
int spec_new(lua_State *L);
spec *spec_check(lua_State *L, int idx);

/* A handle configured for s, from its pool or new (*fresh is then 1);
 * NULL when out of memory. Every handle taken is given back, once. */
CURL *spec_take(spec *s, int *fresh);
void spec_give(spec *s, CURL *c);

void spec_open(lua_State *L);       /* registers the metatable */

#endif
