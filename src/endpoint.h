/* A prepared endpoint ("chatgpt.endpoint"): what every call of one client
 * to one endpoint shares - URL, method, header list with the key, limits,
 * options - worked out once, and a few easy handles already configured
 * with it. A transfer (transfer.h) then sets only its own body and
 * timeouts. */
#ifndef CHATGPT_ENDPOINT_H
#define CHATGPT_ENDPOINT_H

#include <stddef.h>

#include <curl/curl.h>
#include <lua.h>

#define ENDPOINT_POOL 8 /* idle handles kept per endpoint */

/* How a 2xx answer's body is read (endpoint.stream): whole, as server-sent
 * events, or handed on as it arrives (bytes, for on_data). */
enum { ENDPOINT_WHOLE, ENDPOINT_SSE, ENDPOINT_BYTES };

typedef struct endpoint {
  struct curl_slist *headers; /* holds the key: wiped when freed */
  char *url, *user_agent, *ca_file;
  char *proxy, *noproxy;      /* CURLOPT_PROXY (may hold a password: wiped), CURLOPT_NOPROXY */
  char *cert_file, *key_file; /* a client certificate for mutual TLS */
  char *key_pass;             /* the key's passphrase, or NULL: wiped when freed */
  int post;   /* POST with a body, else GET (or DELETE) without */
  int remove; /* DELETE */
  int stream; /* ENDPOINT_SSE or ENDPOINT_BYTES: a 2xx body goes to the event queue */
  int compressed;
  int no_proxy; /* never through a proxy: the origin is loopback */
  long connect_ms;
  size_t max_body, max_header, max_event, max_stream;
  CURL *pool[ENDPOINT_POOL];
  int npool;
  int nout;   /* handles lent to transfers */
  int closed; /* collected: handles coming back are freed */
} endpoint;

endpoint *endpoint_check(lua_State *L, int idx);

/* A handle configured for ep, from its pool or new (*fresh is then 1);
 * NULL when out of memory. Every handle taken is given back, once. */
CURL *endpoint_take(endpoint *ep, int *fresh);
void endpoint_give(endpoint *ep, CURL *c);

/* Lua: core.endpoint{origin, path, query, method = "GET" | "POST" | "DELETE",
 *   headers = {"Name: value"...}, connect_timeout, max_body, max_header,
 *   max_event, max_stream, stream = true (SSE) | "bytes" | nil, compressed, user_agent,
 *   ca_file, proxy, no_proxy, cert_file, key_file, key_passphrase (a
 *   secret, key.h), without_key} -> endpoint
 * The URL is the origin's base URL + path + query, checked to stay on the
 * origin (origin.h); the key, and how it goes out, are the origin's
 * (without_key: a call that brings its own Authorization sends no key).
 * Absent numbers and user_agent are defaults.h's. proxy and no_proxy go to
 * libcurl as they are (absent: libcurl reads http_proxy, https_proxy,
 * no_proxy...), except for a loopback origin, never proxied. With a
 * certificate, OpenSSL is never let ask for a passphrase on the terminal:
 * an encrypted key without key_passphrase fails the transfer instead. */
void endpoint_open(lua_State *L);

#endif
