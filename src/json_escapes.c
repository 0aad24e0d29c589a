/* Strings with escapes, the decoder's slow path (see json_reader.h): read
 * into a new string, or only checked (json_skip_string). */
#include <string.h>

#include <lua.h>
#include <lauxlib.h>

#include "json_reader.h"
#include "json_utf8.h"

/* Bytes that end the fast scan of a string: '"', '\\' and controls. */
/* clang-format off */
const unsigned char json_str_stop[256] = {
  1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1, 1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,
  0,0,1,0,0,0,0,0,0,0,0,0,0,0,0,0, 0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,
  0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0, 0,0,0,0,0,0,0,0,0,0,0,0,1,0,0,0,
};
/* clang-format on */

static int hexval(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* The 4 hex digits at p, or -1. */
static long hex4(const char *p, const char *end) {
  long v = 0;
  int i;
  if (end - p < 4) return -1;
  for (i = 0; i < 4; i++) {
    int h = hexval((unsigned char)p[i]);
    if (h < 0) return -1;
    v = v * 16 + h;
  }
  return v;
}

int json_read_escaped(json_reader *d, const char *open, const char *q) {
  const char *end = d->end, *run = open + 1;
  luaL_Buffer B;
  luaL_buffinit(d->L, &B);
  for (;;) {
    while (q < end && !json_str_stop[(unsigned char)*q]) q++;
    if (q >= end) return json_fail(d, "unterminated string", open);
    luaL_addlstring(&B, run, (size_t)(q - run));
    if (*q == '"') break;
    if (*q != '\\') return json_fail(d, "unescaped control character in string", q);
    if (q + 1 >= end) return json_fail(d, "unterminated string", open);
    switch (q[1]) {
    case '"': luaL_addchar(&B, '"'); break;
    case '\\': luaL_addchar(&B, '\\'); break;
    case '/': luaL_addchar(&B, '/'); break;
    case 'b': luaL_addchar(&B, '\b'); break;
    case 'f': luaL_addchar(&B, '\f'); break;
    case 'n': luaL_addchar(&B, '\n'); break;
    case 'r': luaL_addchar(&B, '\r'); break;
    case 't': luaL_addchar(&B, '\t'); break;
    case 'u': {
      long c = hex4(q + 2, end), lo;
      if (c < 0) return json_fail(d, "invalid \\u escape", q);
      q += 6;
      if (c >= 0xD800 && c <= 0xDBFF && end - q >= 6 && q[0] == '\\' && q[1] == 'u' &&
          (lo = hex4(q + 2, end)) >= 0xDC00 && lo <= 0xDFFF) {
        c = 0x10000 + ((c - 0xD800) << 10) + (lo - 0xDC00);
        q += 6;
      } else if (c >= 0xD800 && c <= 0xDFFF)
        c = 0xFFFD; /* lone surrogate */
      {
        char u[4];
        luaL_addlstring(&B, u, utf8_put(u, (unsigned long)c));
      }
      run = q;
      continue;
    }
    default: return json_fail(d, "invalid escape", q);
    }
    q += 2;
    run = q;
  }
  luaL_pushresult(&B);
  d->p = q + 1;
  d->slot = -1;
  return DEC_VALUE;
}

int json_skip_string(json_reader *d) {
  const char *q = d->p + 1, *end = d->end;
  for (;;) {
    while (q < end && !json_str_stop[(unsigned char)*q]) q++;
    if (q >= end || (*q != '"' && *q != '\\')) return 0;
    if (*q == '"') break;
    if (q + 1 >= end) return 0;
    if (q[1] == 'u') {
      if (hex4(q + 2, end) < 0) return 0;
      q += 6;
    } else if (q[1] != '\0' && strchr("\"\\/bfnrt", q[1]) != NULL) {
      q += 2;
    } else
      return 0;
  }
  d->p = q + 1;
  return 1;
}
