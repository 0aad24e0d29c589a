/* The JSON decoder's reading primitives (json_decode.c), shared with the
 * stream's fast path (json_delta.c), so that a string or a number is read
 * by one set of rules whichever of the two reads it. Private to the codec:
 * json.h is its interface. */
#ifndef CHATGPT_JSON_READER_H
#define CHATGPT_JSON_READER_H

#include <stddef.h>
#include <stdio.h>
#include <lua.h>

#include "json.h"

typedef struct json_reader {
  lua_State *L;
  const char *s, *p, *end;
  int depth;
  json_cache *sc;
  int sc_idx;       /* stack slot of the anchors table (json.h) */
  int slot;         /* cache slot of the last string, or -1 */
  int ordered;      /* record member order (__jsonorder) */
  const char *errp; /* where the failure is */
  char err[48];     /* what it is */
} json_reader;

enum { DEC_ERR = -1, DEC_NULL = 0, DEC_VALUE = 1 };

/* Sets r up to read s[0..len) and pushes the anchors table it needs (one
 * stack slot, r->sc_idx). Leaves r->p at the first byte that is not blank. */
void json_reader_init(lua_State *L, json_reader *r, const char *s, size_t len);

/* r->p is at the value's first byte ('"', or '-' or a digit): pushes the
 * string or number exactly as core.decode would and returns DEC_VALUE, or
 * returns DEC_ERR (the input is not JSON there) with the stack as it was,
 * but for an open luaL_Buffer box that the caller's lua_settop drops. */
int json_read_string(json_reader *r);
int json_read_number(json_reader *r);

/* Bytes that end the fast scan of a string: '"', '\\' and controls. */
extern const unsigned char json_str_stop[256];

/* Records a failure (what, at p) and returns DEC_ERR. */
static inline int json_fail(json_reader *r, const char *what, const char *p) {
  snprintf(r->err, sizeof r->err, "%s", what);
  r->errp = p;
  return DEC_ERR;
}

/* The slow path of json_read_string (json_escapes.c): open is the opening
 * quote, q the first byte that stopped the fast scan ('\\' or a control
 * character). Out of line: its luaL_Buffer is big and the decoder
 * recurses. */
int json_read_escaped(json_reader *r, const char *open, const char *q);

/* r->p is at '"': steps over a string that core.decode would accept,
 * pushing nothing; returns 0 when it would not. */
int json_skip_string(json_reader *r);

const char *json_skip_ws(const char *p, const char *end);

#endif
