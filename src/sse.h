/* Incremental server-sent-events parser: plain C, no Lua, no curl.
 *
 * Fed whatever byte runs the transport delivers, it applies the WHATWG
 * EventSource parsing rules: lines end in LF, CRLF or CR (a CRLF split
 * across two feeds is one line end); a UTF-8 BOM at the very start is
 * skipped; "field:value" loses one optional space after the colon; a line
 * with no colon is a field with an empty value; several data lines join with
 * "\n"; lines starting with ':' are comments; "event", "id" (ignored when it
 * contains NUL) and "retry" (digits only) are kept; a blank line dispatches
 * the block; a block with no data line dispatches nothing; an unterminated
 * block at the end of the stream is dropped (there is no sse_finish).
 *
 * OpenAI conventions ([DONE], error events) are the caller's business: this
 * file knows nothing about JSON.
 */
#ifndef CHATGPT_SSE_H
#define CHATGPT_SSE_H

#include <stddef.h>

#define SSE_DEFAULT_MAX_EVENT (8u * 1024u * 1024u)

enum {
  SSE_OK = 0,  /* all bytes consumed */
  SSE_STOPPED, /* the callback returned nonzero: parsing stopped there */
  SSE_LIMIT,   /* one event's data (or one line) exceeded max_event */
  SSE_NOMEM    /* allocation failed */
};

typedef struct sse_event {
  const char *type; /* "message" when no event field was given */
  size_t type_len;
  const char *data; /* joined data lines, NUL-terminated */
  size_t data_len;
  const char *id; /* last event id (persists across events), may be "" */
  size_t id_len;
  long retry; /* last retry value in ms, -1 when never given */
} sse_event;

/* Called once per dispatched event; the pointers are valid only during the
 * call (type, data and id are all NUL-terminated at their _len). Return
 * nonzero to stop parsing (sse_feed returns SSE_STOPPED). The callback must
 * not call sse_feed or sse_reset on the parser that called it. */
typedef int (*sse_callback)(void *ctx, const sse_event *ev);

typedef struct sse_buf {
  char *p;
  size_t len, cap;
} sse_buf;

/* Embeddable in a larger struct; all memory hangs off the sse_buf fields.
 * Only cb, ctx and max_event are meant to be read from outside; the rest is
 * private to sse.c. Buffers grow x2 from 256 bytes and never shrink before
 * sse_free, so a long stream of small events runs in constant memory. */
typedef struct sse_parser {
  sse_callback cb; /* may be NULL: events are parsed and dropped */
  void *ctx;
  size_t max_event;  /* cap on one line and on one event's data */
  sse_buf line;      /* the current line, only when it straddles feeds */
  sse_buf data;      /* data of the current block, lines joined by LF */
  sse_buf type;      /* event type of the current block ("" = none) */
  sse_buf id;        /* last event id */
  long retry;        /* last retry, -1 when none */
  int has_data;      /* the block has seen a data line */
  int after_cr;      /* the last feed ended in CR: a leading LF is eaten */
  int started;       /* past the BOM check */
  unsigned char bom; /* BOM bytes matched so far, while !started */
  int failed;        /* a sticky SSE_LIMIT / SSE_NOMEM / SSE_STOPPED */
} sse_parser;

/* max_event 0 selects SSE_DEFAULT_MAX_EVENT. Allocates nothing. */
void sse_init(sse_parser *p, size_t max_event, sse_callback cb, void *ctx);
/* Forget the stream (keeps allocated capacity): for a retried request.
 * Everything goes: partial line and block, id, retry, the BOM check and a
 * sticky failure. */
void sse_reset(sse_parser *p);
/* Parses len bytes (buf may be NULL when len is 0). Returns SSE_OK, or the
 * first failure, which is sticky: every later call returns it again without
 * looking at its bytes, until sse_reset. On SSE_STOPPED the bytes up to and
 * including the end of the blank line that dispatched the event are
 * consumed; the rest of buf is not. On SSE_LIMIT the events before the
 * offending line were delivered. A retry value too large for a long is
 * clamped to LONG_MAX; an empty retry value is ignored. */
int sse_feed(sse_parser *p, const char *buf, size_t len);
/* Frees the buffers and zeroes *p; sse_init before using it again. */
void sse_free(sse_parser *p);

#endif
