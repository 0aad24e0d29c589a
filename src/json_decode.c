/* JSON decoder: see json.h for the rules. */
#include <float.h>
#include <locale.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lua.h>
#include <lauxlib.h>

#include "compat.h"
#include "context.h"
#include "json.h"
#include "json_marks.h"
#include "json_reader.h"

/* Short strings seen lately, per lua_State (json_cache, in the state's
 * context): keys such as "role" and values such as a stream's id and model
 * repeat in every response and chunk, and one pushed from here is not
 * hashed and interned again. Direct-mapped; each string is anchored at its
 * slot in the context's CONTEXT_STRINGS table, so the pointer kept here
 * stays valid while it is cached. */
#define SCACHE_MAXLEN 40 /* Lua's own short-string limit */

/* Recursive descent straight over the input. A failure records its
 * message here and returns DEC_ERR up the recursion (no longjmp), so the
 * only way out by error is a memory error raised by Lua itself, and then
 * nothing of ours is left to free: escaped strings are built in a
 * luaL_Buffer (json_escapes.c). The message is pushed only after lua_settop has dropped the
 * partial values: Lua 5.4 marks a grown luaL_Buffer box to-be-closed, and
 * such a slot must not be overwritten (lua_replace) while it is open. */
typedef json_reader decoder; /* json_reader.h */

static const double pow10_exact[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                     1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                     1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

static lua_Integer pos(const decoder *d, const char *p) { return (lua_Integer)(p - d->s) + 1; }

static int dec_unexpected(decoder *d, const char *p) {
  unsigned char c;
  char what[32];
  if (p >= d->end) return json_fail(d, "unexpected end of input", p);
  c = (unsigned char)*p;
  if (c > 0x20 && c < 0x7F)
    snprintf(what, sizeof what, "unexpected '%c'", c);
  else
    snprintf(what, sizeof what, "unexpected byte 0x%02X", c);
  return json_fail(d, what, p);
}

static const char *skip_ws(const char *p, const char *end) {
  while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')) p++;
  return p;
}

static void push_cached(decoder *d, const char *p, size_t n) {
  lua_State *L = d->L;
  json_cache *sc = d->sc;
  uint32_t a = 0, b = 0, h;
  if (n >= 4) { /* the first and last four bytes, and n */
    memcpy(&a, p, 4);
    memcpy(&b, p + n - 4, 4);
  } else if (n > 0) {
    a = (uint32_t)(unsigned char)p[0] | (uint32_t)(unsigned char)p[n - 1] << 8;
  }
  h = (a * 0x9E3779B1u) ^ (b * 0x85EBCA77u) ^ (uint32_t)n;
  h = (h ^ (h >> 16)) % JSON_CACHE_SLOTS;
  d->slot = (int)h;
  if (sc->len[h] == n && sc->p[h] != NULL && memcmp(sc->p[h], p, n) == 0) {
    lua_rawgeti(L, d->sc_idx, (lua_Integer)h + 1);
    return;
  }
  lua_pushlstring(L, p, n);
  sc->p[h] = lua_tostring(L, -1);
  sc->len[h] = n;
  sc->members[h] = 0;
  lua_pushvalue(L, -1);
  lua_rawseti(L, d->sc_idx, (lua_Integer)h + 1);
}

/* d->p is at the opening quote. Runs without escapes, i.e. nearly every
 * string on the wire, are pushed straight from the input. */
static int dec_string(decoder *d) {
  const char *open = d->p, *q = open + 1, *end = d->end;
  while (end - q >= 4) {
    if (json_str_stop[(unsigned char)q[0]]) goto stop;
    if (json_str_stop[(unsigned char)q[1]]) {
      q += 1;
      goto stop;
    }
    if (json_str_stop[(unsigned char)q[2]]) {
      q += 2;
      goto stop;
    }
    if (json_str_stop[(unsigned char)q[3]]) {
      q += 3;
      goto stop;
    }
    q += 4;
  }
  while (q < end && !json_str_stop[(unsigned char)*q]) q++;
  if (q >= end) return json_fail(d, "unterminated string", open);
stop:
  if (*q != '"') return json_read_escaped(d, open, q);
  if ((size_t)(q - open - 1) <= SCACHE_MAXLEN) {
    push_cached(d, open + 1, (size_t)(q - open - 1));
  } else {
    lua_pushlstring(d->L, open + 1, (size_t)(q - open - 1));
    d->slot = -1;
  }
  d->p = q + 1;
  return DEC_VALUE;
}

/* strtod on a token that is known to match the JSON grammar, in any locale:
 * if strtod stops short, LC_NUMERIC's decimal point is not '.' and the
 * token is retried with that point (what Lua's own l_str2d does, without
 * its 200-byte limit). No Lua call happens while buf is malloc'ed. */
static int str2d(const char *tok, size_t n, double *out) {
  char sbuf[64], *buf = sbuf, *endp;
  const char *dp;
  size_t dpn, i, j;
  int ok = 0;
  if (n + 16 > sizeof sbuf && (buf = (char *)malloc(n + 16)) == NULL) return 0;
  memcpy(buf, tok, n);
  buf[n] = '\0';
  *out = strtod(buf, &endp);
  if (endp == buf + n)
    ok = 1;
  else if ((dpn = strlen(dp = localeconv()->decimal_point)) <= 15) {
    for (i = j = 0; i < n; i++) {
      if (tok[i] == '.') {
        memcpy(buf + j, dp, dpn);
        j += dpn;
      } else
        buf[j++] = tok[i];
    }
    buf[j] = '\0';
    *out = strtod(buf, &endp);
    ok = endp == buf + j;
  }
  if (buf != sbuf) free(buf);
  return ok;
}

/* Strict JSON number. Integers that fit int64 stay integers; other numbers
 * with at most 19 significant digits and a small exponent are exact in one
 * IEEE operation (Clinger's fast path); the rest go through strtod. */
static int dec_number(decoder *d) {
  const char *start = d->p, *p = start, *end = d->end;
  uint64_t m = 0;
  int nd = 0, inexact = 0, isfloat = 0, neg = 0;
  long exp10 = 0;
  if (*p == '-') {
    neg = 1;
    p++;
  }
  if (p < end && *p == '0')
    p++;
  else if (p < end && *p >= '1' && *p <= '9') {
    for (; p < end && *p >= '0' && *p <= '9'; p++) {
      if (nd < 19) {
        m = m * 10 + (uint64_t)(*p - '0');
        nd++;
      } else {
        inexact = 1;
        exp10++;
      }
    }
  } else
    return json_fail(d, "invalid number", start);
  if (p < end && *p == '.') {
    isfloat = 1;
    p++;
    if (p >= end || *p < '0' || *p > '9') return json_fail(d, "invalid number", start);
    for (; p < end && *p >= '0' && *p <= '9'; p++) {
      if (m == 0 && *p == '0')
        exp10--; /* leading zeros */
      else if (nd < 19) {
        m = m * 10 + (uint64_t)(*p - '0');
        nd++;
        exp10--;
      } else if (*p != '0')
        inexact = 1;
    }
  }
  if (p < end && (*p == 'e' || *p == 'E')) {
    long ev = 0;
    int eneg = 0;
    isfloat = 1;
    p++;
    if (p < end && (*p == '+' || *p == '-')) eneg = *p++ == '-';
    if (p >= end || *p < '0' || *p > '9') return json_fail(d, "invalid number", start);
    for (; p < end && *p >= '0' && *p <= '9'; p++)
      if (ev < 100000) ev = ev * 10 + (*p - '0');
    exp10 += eneg ? -ev : ev;
  }
  d->p = p;
  if (!isfloat && !inexact) {
    if (!neg && m <= (uint64_t)LUA_MAXINTEGER) {
      lua_pushinteger(d->L, (lua_Integer)m);
      return DEC_VALUE;
    }
    if (neg && m <= (uint64_t)LUA_MAXINTEGER + 1) {
      lua_pushinteger(d->L, m == (uint64_t)LUA_MAXINTEGER + 1 ? LUA_MININTEGER : -(lua_Integer)m);
      return DEC_VALUE;
    }
  }
#if FLT_EVAL_METHOD == 0
  if (!inexact && m <= ((uint64_t)1 << 53) && exp10 >= -22 && exp10 <= 22) {
    double v = (double)m;
    v = exp10 < 0 ? v / pow10_exact[-exp10] : v * pow10_exact[exp10];
    lua_pushnumber(d->L, neg ? -v : v);
    return DEC_VALUE;
  }
#endif
  if (m == 0 && !inexact) {
    lua_pushnumber(d->L, neg ? -0.0 : 0.0);
    return DEC_VALUE;
  }
  {
    double v;
    if (!str2d(start, (size_t)(p - start), &v)) return json_fail(d, "invalid number", start);
    lua_pushnumber(d->L, v);
  }
  return DEC_VALUE;
}

/* The primitives json_delta.c reads with (json_reader.h). */
int json_read_string(decoder *d) { return dec_string(d); }
int json_read_number(decoder *d) { return dec_number(d); }
const char *json_skip_ws(const char *p, const char *end) { return skip_ws(p, end); }

static int dec_value(decoder *d);

/* Array elements are collected on the Lua stack and the table is made when
 * the array closes, at its exact size (no rehash while it fills); a long
 * array is flushed batch by batch so the stack stays small. Objects get a
 * small size hint instead: collecting their pairs costs more API calls than
 * the rehashes it saves on the wire's small objects (measured). */
#define DEC_BATCH 32

/* d->p is at '[' or '{'. Enters one level, with room for `slots` stack
 * values (a table, a key, a value, a luaL_Buffer box and its work), and
 * skips the blanks after the bracket into *pp. An empty container is
 * pushed, with its marker, and left at once: returns DEC_VALUE then,
 * DEC_NULL when there are members to read, or DEC_ERR. */
static int dec_open(decoder *d, int slots, char close, const char **pp) {
  const char *p;
  if (d->depth >= JSON_MAX_DEPTH) return json_fail(d, "nested too deeply", d->p);
  if (!lua_checkstack(d->L, slots)) return json_fail(d, "nested too deeply", d->p);
  p = skip_ws(d->p + 1, d->end);
  if (p < d->end && *p == close) {
    lua_createtable(d->L, 0, 0);
    json_set_marker(d, close == ']' ? JSON_ANCHOR_ARRAY : JSON_ANCHOR_OBJECT);
    d->p = p + 1;
    return DEC_VALUE;
  }
  d->depth++;
  *pp = p;
  return DEC_NULL;
}

/* Moves the n values above t into the array t at i+1..i+n. */
static void arr_flush(lua_State *L, int t, int n, lua_Integer i) {
  int k;
  for (k = 1; k <= n; k++) {
    lua_pushvalue(L, t + k);
    lua_rawseti(L, t, i + k);
  }
  lua_settop(L, t);
}

static int dec_array(decoder *d) {
  lua_State *L = d->L;
  int t = lua_gettop(L) + 1, n = 0, made = 0;
  lua_Integer i = 0;
  const char *p = NULL;
  int open = dec_open(d, DEC_BATCH + 8, ']', &p);
  if (open != DEC_NULL) return open;
  for (;;) {
    int r;
    d->p = p;
    if ((r = dec_value(d)) == DEC_ERR) return DEC_ERR;
    if (r == DEC_NULL) lua_pushlightuserdata(L, NULL);
    if (++n == DEC_BATCH) {
      if (!made) {
        lua_createtable(L, 2 * DEC_BATCH, 0);
        lua_insert(L, t);
        made = 1;
      }
      arr_flush(L, t, n, i);
      i += n;
      n = 0;
    }
    p = skip_ws(d->p, d->end);
    if (p < d->end && *p == ',')
      p = skip_ws(p + 1, d->end);
    else if (p < d->end && *p == ']')
      break;
    else
      return dec_unexpected(d, p);
  }
  if (!made) {
    lua_createtable(L, n, 0);
    lua_insert(L, t);
  }
  arr_flush(L, t, n, i);
  d->p = p + 1;
  d->depth--;
  return DEC_VALUE;
}

/* An object's table is made once its first key is read: objects on the
 * wire come in a few shapes, each known by its first key, so the table is
 * sized for as many members as the last object that began with that key
 * had (no rehash while it fills). In ordered mode the list of names is
 * above the table. */
static int dec_object(decoder *d) {
  lua_State *L = d->L;
  const char *p = NULL;
  int t = lua_gettop(L) + 1, slot = -1, n = 0;
  int open = dec_open(d, 10, '}', &p);
  json_nullnames nn;
  if (open != DEC_NULL) return open;
  nn.count = 0;
  for (;;) {
    const char *q = p;
    int r, kslot;
    if (p >= d->end || *p != '"') return dec_unexpected(d, p);
    d->p = p;
    if (dec_string(d) == DEC_ERR) return DEC_ERR;
    kslot = d->slot;
    if (n++ == 0) {
      int hint;
      slot = kslot;
      hint = slot >= 0 ? d->sc->members[slot] : 0;
      lua_createtable(L, 0, hint > 0 ? hint : 4);
      lua_insert(L, -2);
      if (d->ordered) {
        lua_createtable(L, 4, 0);
        lua_insert(L, -2);
      }
    }
    if (d->ordered) {
      lua_pushvalue(L, -1);
      lua_rawseti(L, t + 1, n);
    }
    p = skip_ws(d->p, d->end);
    if (p >= d->end || *p != ':') return dec_unexpected(d, p);
    d->p = skip_ws(p + 1, d->end);
    if ((r = dec_value(d)) == DEC_ERR) return DEC_ERR;
    if (r == DEC_NULL) {
      lua_pushnil(L); /* left out; deletes an earlier duplicate */
      lua_rawset(L, t);
      if (!d->ordered) json_add_null(d, t, &nn, q, kslot); /* ordered: set_order finds them */
    } else
      lua_rawset(L, t);
    p = skip_ws(d->p, d->end);
    if (p < d->end && *p == ',')
      p = skip_ws(p + 1, d->end);
    else if (p < d->end && *p == '}')
      break;
    else
      return dec_unexpected(d, p);
  }
  if (slot >= 0) d->sc->members[slot] = (unsigned char)(n < 255 ? n : 255);
  if (d->ordered)
    json_set_order(d, t, n);
  else if (nn.count != 0)
    json_set_nulls(d, t, &nn);
  d->p = p + 1;
  d->depth--;
  return DEC_VALUE;
}

static int dec_literal(decoder *d, const char *lit, size_t n) {
  if ((size_t)(d->end - d->p) < n || memcmp(d->p, lit, n) != 0) {
    const char *p = d->p;
    size_t i;
    for (i = 0; p + i < d->end && p[i] == lit[i]; i++)
      ;
    return dec_unexpected(d, p + i);
  }
  d->p += n;
  return DEC_VALUE;
}

/* d->p is at the first byte of a value (whitespace already skipped). */
static int dec_value(decoder *d) {
  if (d->p >= d->end) return dec_unexpected(d, d->p);
  switch (*d->p) {
  case '"': return dec_string(d);
  case '{': return dec_object(d);
  case '[': return dec_array(d);
  case 't':
    if (dec_literal(d, "true", 4) == DEC_ERR) return DEC_ERR;
    lua_pushboolean(d->L, 1);
    return DEC_VALUE;
  case 'f':
    if (dec_literal(d, "false", 5) == DEC_ERR) return DEC_ERR;
    lua_pushboolean(d->L, 0);
    return DEC_VALUE;
  case 'n':
    if (dec_literal(d, "null", 4) == DEC_ERR) return DEC_ERR;
    return DEC_NULL;
  case '-':
  case '0':
  case '1':
  case '2':
  case '3':
  case '4':
  case '5':
  case '6':
  case '7':
  case '8':
  case '9': return dec_number(d);
  default: return dec_unexpected(d, d->p);
  }
}

void json_reader_init(lua_State *L, decoder *d, const char *s, size_t len) {
  if (s == NULL) /* (NULL, 0): NULL + 0 is UB in C */
    s = "";
  d->sc = &context_push(L, CONTEXT_STRINGS)->decoder;
  d->sc_idx = lua_gettop(L);
  d->slot = -1;
  d->ordered = 0;
  d->L = L;
  d->s = s;
  d->end = s + len;
  d->depth = 0;
  d->p = skip_ws(s, d->end);
}

int json_decode_buffer(lua_State *L, const char *s, size_t len, int ordered) {
  decoder d;
  int base = lua_gettop(L), r;
  luaL_checkstack(L, 9, "chatgpt: cannot decode");
  json_reader_init(L, &d, s, len);
  d.ordered = ordered;
  if (d.p == d.end) {
    lua_settop(L, base);
    lua_pushliteral(L, "empty input");
    return 0;
  }
  r = dec_value(&d);
  if (r != DEC_ERR) {
    const char *p = skip_ws(d.p, d.end);
    if (p != d.end)
      r = json_fail(&d, "trailing garbage", p);
    else if (r == DEC_NULL)
      lua_pushlightuserdata(L, NULL);
  }
  if (r == DEC_ERR) {
    lua_settop(L, base); /* closes an open luaL_Buffer box */
    lua_pushfstring(L, "%s at byte " COMPAT_I, d.err, COMPAT_IARG(pos(&d, d.errp)));
    return 0;
  }
  lua_remove(L, d.sc_idx);
  return 1;
}

/* core.decode(string [, "ordered"]) -> value | nil, why */
static int json_decode(lua_State *L) {
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len);
  int ordered = 0;
  if (!lua_isnoneornil(L, 2)) {
    const char *mode = luaL_checkstring(L, 2);
    if (strcmp(mode, "ordered") != 0) return luaL_argerror(L, 2, "\"ordered\" or nil expected");
    ordered = 1;
  }
  lua_settop(L, 1);
  if (json_decode_buffer(L, s, len, ordered)) return 1;
  lua_pushnil(L);
  lua_insert(L, -2);
  return 2;
}

static const luaL_Reg json_decode_funcs[] = {
  {"decode", json_decode},
  {NULL, NULL},
};

void json_decode_open(lua_State *L) {
  luaL_setfuncs(L, json_decode_funcs, 0);
  json_push_marker(L, JSON_ANCHOR_ARRAY);
  lua_setfield(L, -2, "array_mt");
  json_push_marker(L, JSON_ANCHOR_OBJECT);
  lua_setfield(L, -2, "object_mt");
}
