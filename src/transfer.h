/* A transfer ("chatgpt.transfer"): one HTTP exchange on the engine, made
 * from an endpoint (endpoint.h) and a body. Its lifecycle follows liolib's:
 * created closed, given its easy handle, then idle; t:start() runs it (and
 * runs it again for a retry); close, __close and __gc are one idempotent
 * function.
 *
 * libcurl's callbacks (transfer.c) are plain C: they append bytes to capped
 * buffers, feed the SSE parser and queue events. No lua_* call ever runs
 * under a curl frame; Lua sees the results after curl has returned, through
 * core.poll and the transfer's methods. */
#ifndef CHATGPT_TRANSFER_H
#define CHATGPT_TRANSFER_H

#include <stddef.h>

#include <curl/curl.h>
#include <lua.h>

#include "endpoint.h"
#include "engine.h"
#include "form.h"
#include "sse.h"

#define TRANSFER_TYPE "chatgpt.transfer"

/* Where a transfer is in its life. */
enum { ST_IDLE, ST_RUNNING, ST_DONE, ST_CLOSED };

/* Why we ended it, when we did (else curl's result says it). */
enum { AB_NONE, AB_CANCEL, AB_IDLE, AB_TOTAL, AB_BODY, AB_EVENT, AB_HEADER, AB_NOMEM, AB_STREAM,
       AB_FIRST };

typedef struct tbuf {
  char *p;
  size_t len, cap;
} tbuf;

typedef struct transfer {
  CURL *easy;         /* lent by the endpoint until closed */
  endpoint *endpoint; /* kept alive by the user value */
  /* the engine's: its lists, and the deadlines it keeps */
  engine *eng;                  /* NULL once the engine is gone */
  struct transfer *prev, *next; /* the engine's live list */
  struct transfer *ready_next;
  struct transfer *queue_next, **queue_pprev; /* the engine's start queue (pprev:
                                                  the link to t; NULL: not on it) */
  int in_ready, in_multi;
  int state, abort;
  CURLcode result;
  double idle, last_byte;   /* idle_timeout (0: none), time of the last byte; the
                               idle timeout runs once the body has begun */
  double timeout, deadline; /* deadline: this attempt's start + timeout */
  double first_byte, first_deadline; /* first_byte_timeout (0: none); until the
                                        body begins: start + it, else HUGE_VAL */
  /* transfer.c's */
  int stream; /* the endpoint's ENDPOINT_* mode */
  int decided, sse_on, done_seen;
  int bytes_on;    /* a 2xx body goes to the event queue as it arrives */
  curl_mime *mime;  /* a multipart body (form.h), or NULL */
  form_status form; /* why its file part failed, if one did */
  int body_seen; /* a body byte came (this attempt) */
  int connected; /* a connection, TLS included, was ready */
  tbuf body, hdrs, events;
  size_t ev_off;
  size_t max_body, max_header;
  size_t max_stream, streamed; /* an SSE body's bytes (decompressed): its cap, so far */
  sse_parser sse;
  size_t received; /* header + body bytes */
  char errbuf[CURL_ERROR_SIZE];
} transfer;

/* Lua: core.transfer(endpoint, body, timeout, idle_timeout, first_byte_timeout)
 *   -> transfer
 *   (created idle; t:start() runs it; timeout: finite > 0 seconds, default
 *   DEFAULT_TIMEOUT; idle_timeout: finite >= 0, 0 = none, default
 *   DEFAULT_IDLE_TIMEOUT, counted only once the body has begun (its first
 *   byte after the headers: a model may think for minutes before that);
 *   first_byte_timeout: finite >= 0, 0 = none (the default), seconds from
 *   the start to the body's first byte; body: for a POST endpoint a string, or a list of
 *   multipart parts (form.h: the parts are sent again on a retry, files
 *   read from disk by curl), nil for GET and DELETE)
 * Methods: start(), cancel(), close(), event() -> data, type|nil (nothing
 * when the queue is empty; on a "bytes" endpoint each piece of a 2xx body,
 * type nil), response() -> status, header block, body|nil (nil when the
 * body went to the queue), http_version, error|nil (see curl_errors.h),
 * stream_done() -> bool (data: [DONE] came: the end of a chat stream;
 * streams that end otherwise are judged by their reader), state() ->
 * "idle" | "running" | "done" | "closed". */
void transfer_open(lua_State *L);

#endif
