/* JSON codec for Lua values: see json.h for the rules. */
#include <float.h>
#include <locale.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lua.h>
#include <lauxlib.h>

#include "compat.h"
#include "json.h"

#if defined(__GNUC__)
#define JSON_NOINLINE __attribute__((noinline))
#else
#define JSON_NOINLINE
#endif

const char *const json_array_keys[] = {
  "messages", "tools", "functions", "stop", "tool_calls", "content",
  "required", "enum", "anyOf", "allOf", "oneOf", "prefixItems", "input",
  "prompt", "modalities", "annotations", NULL
};

/* ------------------------------------------------------------------ */
/* Encoder                                                             */
/* ------------------------------------------------------------------ */

/* This state's output buffer, in the registry under this address (a
 * pointer key costs no string hashing per encode). */
static const char jbuf_key = 0;

/* The output buffer lives in a userdata, LPeg-style: if encoding raises, the
 * memory is still owned by a Lua object and __gc frees it. It uses the
 * state's allocator so that a host's memory limit applies to it too. One
 * per lua_State, reused by every encode (nothing reenters the encoder: it
 * calls no Lua code), so a call makes no userdata and no finalizer. */
typedef struct {
  char *p;
  size_t len, cap;
  lua_Alloc alloc;
  void *ud;
} jbuf;

#define JBUF_KEEP (64 * 1024)           /* larger buffers are freed after use */

/* One step of the path from the encoded root to the current value, kept in
 * the C frames of the recursion (no allocation): an array index / integer
 * key, or the stack slot of a string key. */
typedef struct jpath {
  const struct jpath *up;
  lua_Integer index;
  int key;                        /* stack index of a string key, or 0 */
} jpath;

typedef struct {
  lua_State *L;
  jbuf *b;
  int depth;
} encoder;

static void jbuf_release(jbuf *b) {
  if (b->p != NULL) {
    b->alloc(b->ud, b->p, b->cap, 0);
    b->p = NULL;
    b->cap = 0;
  }
  b->len = 0;
}

static int jbuf_gc(lua_State *L) {
  jbuf_release((jbuf *)lua_touserdata(L, 1));
  return 0;
}

/* This state's buffer, emptied (not pushed). */
static jbuf *jbuf_get(lua_State *L) {
  jbuf *b;
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &jbuf_key) == LUA_TUSERDATA) {
    b = (jbuf *)lua_touserdata(L, -1);
  } else {
    lua_pop(L, 1);
    b = (jbuf *)compat_newuserdata(L, sizeof(jbuf), 0);
    b->p = NULL;
    b->len = b->cap = 0;
    b->alloc = lua_getallocf(L, &b->ud);
    lua_createtable(L, 0, 1);
    lua_pushcfunction(L, jbuf_gc);
    lua_setfield(L, -2, "__gc");
    lua_setmetatable(L, -2);
    lua_pushvalue(L, -1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &jbuf_key);
  }
  lua_pop(L, 1);                      /* the registry keeps it */
  if (b->cap > JBUF_KEEP)             /* left big by an encode that raised */
    jbuf_release(b);
  b->len = 0;
  return b;
}

/* Slow path of reserve: grow to at least len + n, doubling. */
static JSON_NOINLINE void jbuf_grow(lua_State *L, jbuf *b, size_t n) {
  size_t cap = b->cap ? b->cap : 256;
  char *p;
  if (n > ((size_t)-1) / 2 - b->len) {
    jbuf_release(b);
    luaL_error(L, "chatgpt: cannot encode: output too large");
  }
  while (cap < b->len + n)
    cap *= 2;
  p = (char *)b->alloc(b->ud, b->p, b->cap, cap);
  if (p == NULL) {
    jbuf_release(b);
    luaL_error(L, "chatgpt: cannot encode: not enough memory");
  }
  b->p = p;
  b->cap = cap;
}

static char *jbuf_reserve(lua_State *L, jbuf *b, size_t n) {
  if (b->cap - b->len < n)
    jbuf_grow(L, b, n);
  return b->p + b->len;
}

static void jbuf_add(lua_State *L, jbuf *b, const char *s, size_t n) {
  if (n == 0)                         /* memcpy to a NULL buffer is UB */
    return;
  memcpy(jbuf_reserve(L, b, n), s, n);
  b->len += n;
}

#define jbuf_addlit(L, b, s) jbuf_add((L), (b), "" s, sizeof(s) - 1)

static void jbuf_addchar(lua_State *L, jbuf *b, char c) {
  *jbuf_reserve(L, b, 1) = c;
  b->len++;
}

/* Length of the valid UTF-8 sequence starting at s (n >= 1 bytes left, s[0]
 * >= 0x80), or 0 if it is invalid: overlong forms, surrogates (U+D800..DFFF)
 * and code points above U+10FFFF are all refused (RFC 3629 table). */
static size_t utf8_seq(const unsigned char *s, size_t n) {
  unsigned c = s[0];
  unsigned lo = 0x80, hi = 0xBF;
  size_t len, i;
  if (c >= 0xC2 && c <= 0xDF) len = 2;
  else if (c >= 0xE0 && c <= 0xEF) {
    len = 3;
    if (c == 0xE0) lo = 0xA0;          /* overlong */
    else if (c == 0xED) hi = 0x9F;     /* surrogates */
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4;
    if (c == 0xF0) lo = 0x90;          /* overlong */
    else if (c == 0xF4) hi = 0x8F;     /* above U+10FFFF */
  } else
    return 0;
  if (n < len || s[1] < lo || s[1] > hi)
    return 0;
  for (i = 2; i < len; i++)
    if ((s[i] & 0xC0) != 0x80)
      return 0;
  return len;
}

/* Offset of the first invalid UTF-8 sequence in s, or n if all is valid. */
static size_t utf8_check(const unsigned char *s, size_t n) {
  size_t i = 0, k;
  while (i < n) {
    if (s[i] < 0x80) { i++; continue; }
    if ((k = utf8_seq(s + i, n - i)) == 0)
      return i;
    i += k;
  }
  return n;
}

static int is_ident(const char *s, size_t n) {
  size_t i;
  if (n == 0 || (s[0] >= '0' && s[0] <= '9'))
    return 0;
  for (i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (!(c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
          (c >= '0' && c <= '9')))
      return 0;
  }
  return 1;
}

/* Appends one path step: .name, ["odd key"] or [n]. */
static void path_step(lua_State *L, luaL_Buffer *B, const jpath *p, int first) {
  size_t n, i, max = 40;
  const char *k;
  int utf8;
  if (p->key == 0) {
    lua_pushfstring(L, "[%I]", (lua_Integer)p->index);
    luaL_addvalue(B);
    return;
  }
  k = lua_tolstring(L, p->key, &n);
  if (is_ident(k, n)) {
    if (!first)
      luaL_addchar(B, '.');
    luaL_addlstring(B, k, n);
    return;
  }
  utf8 = utf8_check((const unsigned char *)k, n) == n;
  luaL_addstring(B, "[\"");
  for (i = 0; i < n && i < max; i++) {
    unsigned char c = (unsigned char)k[i];
    if (c == '"' || c == '\\') {
      luaL_addchar(B, '\\');
      luaL_addchar(B, (char)c);
    } else if (c < 0x20 || c == 0x7F || (c >= 0x80 && !utf8)) {
      lua_pushfstring(L, "\\%d", (int)c);
      luaL_addvalue(B);
    } else
      luaL_addchar(B, (char)c);
  }
  if (i < n)
    luaL_addstring(B, "...");
  luaL_addstring(B, "\"]");
}

/* Pushes "messages[2].content" for the path ending at p; "(top level)" for
 * the root. Very deep paths (cycles) keep their first and last steps. */
static void push_path(lua_State *L, const jpath *p) {
  const jpath *v[JSON_MAX_DEPTH + 2];
  int n = 0, i;
  luaL_Buffer B;
  if (p == NULL) {
    lua_pushliteral(L, "(top level)");
    return;
  }
  for (; p != NULL && n < JSON_MAX_DEPTH + 2; p = p->up)
    v[n++] = p;
  luaL_buffinit(L, &B);
  for (i = n - 1; i >= 0; i--) {
    if (n > 16 && i == n - 9) {
      luaL_addstring(&B, "[...]");
      i = 4;
    }
    path_step(L, &B, v[i], i == n - 1);
  }
  luaL_pushresult(&B);
}

/* Raises "chatgpt: cannot encode: <what> at <path>". */
static void enc_fail(encoder *e, const char *what, const jpath *at) {
  lua_State *L = e->L;
  luaL_checkstack(L, 8, "chatgpt: cannot encode");
  push_path(L, at);
  lua_pushfstring(L, "chatgpt: cannot encode: %s at %s", what,
                  lua_tostring(L, -1));
  jbuf_release(e->b);                 /* a big partial output goes now */
  lua_error(L);
}

/* Class of each byte in a string: 0 copies as is, 1 escapes as \u00XX,
 * 2 starts a multibyte sequence to validate, any other value is the letter
 * of a short escape. One lookup per byte on the common path. */
#define M2 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2
static const unsigned char esc_class[256] = {
  1,  1,  1,  1,  1,  1,  1,  1, 'b','t','n',  1,'f','r',  1,  1,
  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,
  0,  0,'"',  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,'\\', 0,  0,  0,
  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
  M2, M2, M2, M2, M2, M2, M2, M2
};
#undef M2

/* "invalid UTF-8 in messages[2].content (byte 5)"; a bad key is reported
 * as "invalid UTF-8 in a key (byte 2) at tools[1].parameters". */
static JSON_NOINLINE void enc_bad_utf8(encoder *e, const jpath *at, int iskey,
                                       size_t i) {
  lua_State *L = e->L;
  luaL_checkstack(L, 8, "chatgpt: cannot encode");
  if (iskey) {
    lua_pushfstring(L, "invalid UTF-8 in a key (byte %I)", (lua_Integer)(i + 1));
    enc_fail(e, lua_tostring(L, -1), at);
  }
  push_path(L, at);
  lua_pushfstring(L, "chatgpt: cannot encode: invalid UTF-8 in %s (byte %I)",
                  lua_tostring(L, -1), (lua_Integer)(i + 1));
  jbuf_release(e->b);
  lua_error(L);
}

/* Writes s as a JSON string, validating UTF-8 as it goes; runs of bytes
 * that need no escape are copied in one piece. */
static void enc_string(encoder *e, const char *str, size_t n, const jpath *at,
                       int iskey) {
  lua_State *L = e->L;
  jbuf *b = e->b;
  const unsigned char *s = (const unsigned char *)str;
  size_t i = 0, run = 0, k;
  jbuf_reserve(L, b, n + 2);          /* the usual size: no escapes */
  b->p[b->len++] = '"';
  for (;;) {
    unsigned x;
    while (n - i >= 4 && !(esc_class[s[i]] | esc_class[s[i + 1]] |
                           esc_class[s[i + 2]] | esc_class[s[i + 3]]))
      i += 4;
    while (i < n && esc_class[s[i]] == 0)
      i++;
    if (i >= n)
      break;
    if ((x = esc_class[s[i]]) == 2) {
      if ((k = utf8_seq(s + i, n - i)) == 0)
        enc_bad_utf8(e, at, iskey, i);
      i += k;
      continue;
    }
    jbuf_add(L, b, str + run, i - run);
    if (x == 1) {
      static const char hex[] = "0123456789abcdef";
      char u[6] = { '\\', 'u', '0', '0', hex[s[i] >> 4], hex[s[i] & 15] };
      jbuf_add(L, b, u, 6);
    } else {
      char u[2] = { '\\', (char)x };
      jbuf_add(L, b, u, 2);
    }
    run = ++i;
  }
  jbuf_add(L, b, str + run, n - run);
  jbuf_addchar(L, b, '"');
}

static void enc_integer(encoder *e, lua_Integer v) {
  char tmp[24], *q = tmp + sizeof tmp;
  lua_Unsigned u = v < 0 ? 0u - (lua_Unsigned)v : (lua_Unsigned)v;
  do {
    *--q = (char)('0' + u % 10);
    u /= 10;
  } while (u != 0);
  if (v < 0)
    *--q = '-';
  jbuf_add(e->L, e->b, q, (size_t)(tmp + sizeof tmp - q));
}

/* Shortest of %.14g..%.17g that reads back as the same double (%.17g always
 * does). printf and strtod both follow LC_NUMERIC, so the round trip is
 * checked in the host's locale and the decimal point is then rewritten to
 * '.': whatever the locale's point is (even multibyte), it is the only text
 * in the output that is not a digit, sign or exponent letter. */
static void enc_float(encoder *e, lua_Number d, const jpath *at) {
  char tmp[64], out[64];
  int prec, len = 0, i, j = 0, dot = 0;
  if (isnan(d))
    enc_fail(e, "NaN", at);
  if (isinf(d))
    enc_fail(e, d > 0 ? "inf" : "-inf", at);
  if (d == 0 && signbit(d)) {         /* "-0" would read back as integer 0 */
    jbuf_addlit(e->L, e->b, "-0.0");
    return;
  }
  for (prec = 14; prec <= 17; prec++) {
    len = snprintf(tmp, sizeof tmp, "%.*g", prec, (double)d);
    if (prec == 17 || strtod(tmp, NULL) == (double)d)
      break;
  }
  for (i = 0; i < len; i++) {
    char c = tmp[i];
    if ((c >= '0' && c <= '9') || c == '-' || c == '+' || c == 'e') {
      out[j++] = c;
      dot = 0;
    } else if (!dot) {
      out[j++] = '.';
      dot = 1;
    }
  }
  jbuf_add(e->L, e->b, out, (size_t)j);
}

static int is_array_key(const char *k) {
  const char *const *p;
  for (p = json_array_keys; *p != NULL; p++)
    if (strcmp(*p, k) == 0)
      return 1;
  return 0;
}

/* Number of elements if the table at t has exactly the keys 1..n, else -1.
 * One lua_next pass: counting the keys and their maximum is O(n). */
static lua_Integer table_seqlen(lua_State *L, int t) {
  lua_Integer n = 0, max = 0;
  lua_pushnil(L);
  while (lua_next(L, t)) {
    lua_Integer k;
    lua_pop(L, 1);
    if (!lua_isinteger(L, -1) || (k = lua_tointeger(L, -1)) < 1) {
      lua_pop(L, 1);
      return -1;
    }
    if (k > max)
      max = k;
    n++;
  }
  return max == n ? n : -1;
}

static void enc_value(encoder *e, int idx, const jpath *at);

static void enc_array(encoder *e, int t, lua_Integer n, const jpath *at) {
  lua_State *L = e->L;
  lua_Integer i;
  jbuf_addchar(L, e->b, '[');
  for (i = 1; i <= n; i++) {
    jpath step;
    step.up = at;
    step.index = i;
    step.key = 0;
    if (i > 1)
      jbuf_addchar(L, e->b, ',');
    lua_rawgeti(L, t, i);
    enc_value(e, lua_gettop(L), &step);
    lua_pop(L, 1);
  }
  jbuf_addchar(L, e->b, ']');
}

static void enc_object(encoder *e, int t, const jpath *at) {
  lua_State *L = e->L;
  int first = 1;
  jbuf_addchar(L, e->b, '{');
  lua_pushnil(L);
  while (lua_next(L, t)) {
    jpath step;
    int top = lua_gettop(L);
    step.up = at;
    step.index = 0;
    step.key = 0;
    if (!first)
      jbuf_addchar(L, e->b, ',');
    first = 0;
    switch (lua_type(L, -2)) {
    case LUA_TSTRING: {
      size_t n;
      const char *k = lua_tolstring(L, -2, &n);
      step.key = top - 1;
      enc_string(e, k, n, at, 1);
      break;
    }
    case LUA_TNUMBER:
      /* Never lua_tolstring a key: it would confuse lua_next. */
      if (lua_isinteger(L, -2)) {
        step.index = lua_tointeger(L, -2);
        jbuf_addchar(L, e->b, '"');
        enc_integer(e, step.index);
        jbuf_addchar(L, e->b, '"');
        break;
      }
      enc_fail(e, "a non-integer number key", at);
      break;
    default:
      lua_pushfstring(L, "a %s key", luaL_typename(L, -2));
      enc_fail(e, lua_tostring(L, -1), at);
    }
    jbuf_addchar(L, e->b, ':');
    enc_value(e, top, &step);
    lua_pop(L, 1);
  }
  jbuf_addchar(L, e->b, '}');
}

/* __jsontype = "array" | "object" in the metatable, raw (no __index). */
enum { JT_AUTO, JT_ARRAY, JT_OBJECT };

static int table_jsontype(encoder *e, int t, const jpath *at) {
  lua_State *L = e->L;
  int jt = JT_AUTO;
  if (!lua_getmetatable(L, t))
    return JT_AUTO;
  lua_pushliteral(L, "__jsontype");
  lua_rawget(L, -2);
  if (lua_type(L, -1) == LUA_TSTRING) {
    const char *s = lua_tostring(L, -1);
    if (strcmp(s, "array") == 0) jt = JT_ARRAY;
    else if (strcmp(s, "object") == 0) jt = JT_OBJECT;
  }
  if (jt == JT_AUTO && !lua_isnil(L, -1))
    enc_fail(e, "a __jsontype that is neither \"array\" nor \"object\"", at);
  lua_pop(L, 2);
  return jt;
}

static void enc_table(encoder *e, int t, const jpath *at) {
  lua_State *L = e->L;
  lua_Integer n = -1;
  int jt;
  if (e->depth >= JSON_MAX_DEPTH)
    enc_fail(e, "table nested too deeply (cycle?)", at);
  luaL_checkstack(L, 6, "chatgpt: cannot encode");
  e->depth++;
  jt = table_jsontype(e, t, at);
  if (jt != JT_OBJECT) {
    n = table_seqlen(L, t);
    if (n < 0 && jt == JT_ARRAY)
      enc_fail(e, "a table with keys other than 1..n marked "
               "__jsontype = \"array\"", at);
    if (n == 0 && jt == JT_AUTO &&
        !(at != NULL && at->key != 0 && is_array_key(lua_tostring(L, at->key))))
      n = -1;                         /* {} unless named as a list */
  }
  if (n >= 0)
    enc_array(e, t, n, at);
  else
    enc_object(e, t, at);
  e->depth--;
}

static void enc_value(encoder *e, int idx, const jpath *at) {
  lua_State *L = e->L;
  switch (lua_type(L, idx)) {
  case LUA_TNIL:
    jbuf_addlit(L, e->b, "null");
    break;
  case LUA_TBOOLEAN:
    if (lua_toboolean(L, idx))
      jbuf_addlit(L, e->b, "true");
    else
      jbuf_addlit(L, e->b, "false");
    break;
  case LUA_TNUMBER:
    if (lua_isinteger(L, idx))
      enc_integer(e, lua_tointeger(L, idx));
    else
      enc_float(e, lua_tonumber(L, idx), at);
    break;
  case LUA_TSTRING: {
    size_t n;
    const char *s = lua_tolstring(L, idx, &n);
    enc_string(e, s, n, at, 0);
    break;
  }
  case LUA_TTABLE:
    enc_table(e, idx, at);
    break;
  case LUA_TLIGHTUSERDATA:
    if (lua_touserdata(L, idx) == NULL) {
      jbuf_addlit(L, e->b, "null");
      break;
    }
    enc_fail(e, "a light userdata", at);
    break;
  case LUA_TFUNCTION:
    enc_fail(e, "a function", at);
    break;
  case LUA_TTHREAD:
    enc_fail(e, "a thread", at);
    break;
  default:
    enc_fail(e, "a userdata", at);
  }
}

void json_encode_value(lua_State *L, int idx) {
  encoder e;
  idx = lua_absindex(L, idx);
  luaL_checkstack(L, 8, "chatgpt: cannot encode");
  e.L = L;
  e.depth = 0;
  e.b = jbuf_get(L);
  enc_value(&e, idx, NULL);
  lua_pushlstring(L, e.b->p != NULL ? e.b->p : "", e.b->len);
  if (e.b->cap > JBUF_KEEP)
    jbuf_release(e.b);
  e.b->len = 0;
}

int json_encode(lua_State *L) {
  luaL_checkany(L, 1);
  lua_settop(L, 1);
  json_encode_value(L, 1);
  return 1;
}

/* ------------------------------------------------------------------ */
/* Decoder                                                             */
/* ------------------------------------------------------------------ */

/* Recursive descent straight over the input. A failure records its
 * message here and returns DEC_ERR up the recursion (no longjmp), so the
 * only way out by error is a memory error raised by Lua itself, and then
 * nothing of ours is left to free: escaped strings are built in a
 * luaL_Buffer. The message is pushed only after lua_settop has dropped the
 * partial values: Lua 5.4 marks a grown luaL_Buffer box to-be-closed, and
 * such a slot must not be overwritten (lua_replace) while it is open. */
/* Short strings seen lately, per lua_State: keys such as "role" and values
 * such as a stream's id and model repeat in every response and chunk, and
 * one pushed from here is not hashed and interned again (a lua_pushlstring
 * costs ~200 instructions, a hit ~70). Direct-mapped; each string is
 * anchored at its slot in the cache's user value, a table, so the pointer
 * kept here stays valid while it is cached. */
#define SCACHE_SLOTS 256
#define SCACHE_MAXLEN 40                /* Lua's own short-string limit */

typedef struct {
  const char *p[SCACHE_SLOTS];
  size_t len[SCACHE_SLOTS];
  unsigned char members[SCACHE_SLOTS];  /* of the last object this key began */
} scache;

static const char scache_key = 0;       /* registry key of this state's cache */

typedef struct {
  lua_State *L;
  const char *s, *p, *end;
  int depth;
  scache *sc;
  int sc_idx;                     /* stack slot of the anchoring table */
  int slot;                       /* cache slot of the last string, or -1 */
  const char *errp;               /* where the failure is */
  char err[48];                   /* what it is */
} decoder;

enum { DEC_ERR = -1, DEC_NULL = 0, DEC_VALUE = 1 };

/* Bytes that end the fast scan of a string: '"', '\\' and controls. */
static const unsigned char str_stop[256] = {
  1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1, 1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,
  0,0,1,0,0,0,0,0,0,0,0,0,0,0,0,0, 0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,
  0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0, 0,0,0,0,0,0,0,0,0,0,0,0,1,0,0,0,
};

static const double pow10_exact[] = {
  1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12,
  1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22
};

static lua_Integer pos(const decoder *d, const char *p) {
  return (lua_Integer)(p - d->s) + 1;
}

static int dec_fail(decoder *d, const char *what, const char *p) {
  snprintf(d->err, sizeof d->err, "%s", what);
  d->errp = p;
  return DEC_ERR;
}

static int dec_unexpected(decoder *d, const char *p) {
  unsigned char c;
  char what[32];
  if (p >= d->end)
    return dec_fail(d, "unexpected end of input", p);
  c = (unsigned char)*p;
  if (c > 0x20 && c < 0x7F)
    snprintf(what, sizeof what, "unexpected '%c'", c);
  else
    snprintf(what, sizeof what, "unexpected byte 0x%02X", c);
  return dec_fail(d, what, p);
}

static const char *skip_ws(const char *p, const char *end) {
  while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
    p++;
  return p;
}

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
  if (end - p < 4)
    return -1;
  for (i = 0; i < 4; i++) {
    int h = hexval((unsigned char)p[i]);
    if (h < 0)
      return -1;
    v = v * 16 + h;
  }
  return v;
}

static void add_utf8(luaL_Buffer *B, unsigned long c) {
  char u[4];
  size_t n;
  if (c < 0x80) { u[0] = (char)c; n = 1; }
  else if (c < 0x800) {
    u[0] = (char)(0xC0 | (c >> 6));
    u[1] = (char)(0x80 | (c & 0x3F));
    n = 2;
  } else if (c < 0x10000) {
    u[0] = (char)(0xE0 | (c >> 12));
    u[1] = (char)(0x80 | ((c >> 6) & 0x3F));
    u[2] = (char)(0x80 | (c & 0x3F));
    n = 3;
  } else {
    u[0] = (char)(0xF0 | (c >> 18));
    u[1] = (char)(0x80 | ((c >> 12) & 0x3F));
    u[2] = (char)(0x80 | ((c >> 6) & 0x3F));
    u[3] = (char)(0x80 | (c & 0x3F));
    n = 4;
  }
  luaL_addlstring(B, u, n);
}

/* Slow path of a string with escapes: open is the opening quote, q the
 * first byte that stopped the fast scan. Kept out of line because the
 * luaL_Buffer is big and dec_value recurses. */
static JSON_NOINLINE int dec_string_escaped(decoder *d, const char *open,
                                            const char *q) {
  const char *end = d->end, *run = open + 1;
  luaL_Buffer B;
  luaL_buffinit(d->L, &B);
  for (;;) {
    while (q < end && !str_stop[(unsigned char)*q])
      q++;
    if (q >= end)
      return dec_fail(d, "unterminated string", open);
    luaL_addlstring(&B, run, (size_t)(q - run));
    if (*q == '"')
      break;
    if (*q != '\\')
      return dec_fail(d, "unescaped control character in string", q);
    if (q + 1 >= end)
      return dec_fail(d, "unterminated string", open);
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
      if (c < 0)
        return dec_fail(d, "invalid \\u escape", q);
      q += 6;
      if (c >= 0xD800 && c <= 0xDBFF && end - q >= 6 && q[0] == '\\' &&
          q[1] == 'u' && (lo = hex4(q + 2, end)) >= 0xDC00 && lo <= 0xDFFF) {
        c = 0x10000 + ((c - 0xD800) << 10) + (lo - 0xDC00);
        q += 6;
      } else if (c >= 0xD800 && c <= 0xDFFF)
        c = 0xFFFD;                   /* lone surrogate */
      add_utf8(&B, (unsigned long)c);
      run = q;
      continue;
    }
    default:
      return dec_fail(d, "invalid escape", q);
    }
    q += 2;
    run = q;
  }
  luaL_pushresult(&B);
  d->p = q + 1;
  d->slot = -1;
  return DEC_VALUE;
}

static void push_cached(decoder *d, const char *p, size_t n) {
  lua_State *L = d->L;
  scache *sc = d->sc;
  uint32_t a = 0, b = 0, h;
  if (n >= 4) {                   /* the first and last four bytes, and n */
    memcpy(&a, p, 4);
    memcpy(&b, p + n - 4, 4);
  } else if (n > 0) {
    a = (uint32_t)(unsigned char)p[0] | (uint32_t)(unsigned char)p[n - 1] << 8;
  }
  h = (a * 0x9E3779B1u) ^ (b * 0x85EBCA77u) ^ (uint32_t)n;
  h = (h ^ (h >> 16)) % SCACHE_SLOTS;
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

/* This state's cache, pushed (its anchoring table) and returned. */
static scache *scache_push(lua_State *L) {
  scache *sc;
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &scache_key) == LUA_TUSERDATA) {
    sc = (scache *)lua_touserdata(L, -1);
  } else {
    lua_pop(L, 1);
    sc = (scache *)compat_newuserdata(L, sizeof(scache), 1);
    memset(sc, 0, sizeof *sc);
    lua_createtable(L, SCACHE_SLOTS, 0);
    compat_setuservalue(L, -2);
    lua_pushvalue(L, -1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &scache_key);
  }
  compat_getuservalue(L, -1);
  lua_remove(L, -2);
  return sc;
}

/* d->p is at the opening quote. Runs without escapes, i.e. nearly every
 * string on the wire, are pushed straight from the input. */
static int dec_string(decoder *d) {
  const char *open = d->p, *q = open + 1, *end = d->end;
  while (end - q >= 4) {
    if (str_stop[(unsigned char)q[0]]) goto stop;
    if (str_stop[(unsigned char)q[1]]) { q += 1; goto stop; }
    if (str_stop[(unsigned char)q[2]]) { q += 2; goto stop; }
    if (str_stop[(unsigned char)q[3]]) { q += 3; goto stop; }
    q += 4;
  }
  while (q < end && !str_stop[(unsigned char)*q])
    q++;
  if (q >= end)
    return dec_fail(d, "unterminated string", open);
stop:
  if (*q != '"')
    return dec_string_escaped(d, open, q);
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
  if (n + 16 > sizeof sbuf && (buf = (char *)malloc(n + 16)) == NULL)
    return 0;
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
  if (buf != sbuf)
    free(buf);
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
  if (*p == '-') { neg = 1; p++; }
  if (p < end && *p == '0')
    p++;
  else if (p < end && *p >= '1' && *p <= '9') {
    for (; p < end && *p >= '0' && *p <= '9'; p++) {
      if (nd < 19) { m = m * 10 + (uint64_t)(*p - '0'); nd++; }
      else { inexact = 1; exp10++; }
    }
  } else
    return dec_fail(d, "invalid number", start);
  if (p < end && *p == '.') {
    isfloat = 1;
    p++;
    if (p >= end || *p < '0' || *p > '9')
      return dec_fail(d, "invalid number", start);
    for (; p < end && *p >= '0' && *p <= '9'; p++) {
      if (m == 0 && *p == '0') exp10--;      /* leading zeros */
      else if (nd < 19) { m = m * 10 + (uint64_t)(*p - '0'); nd++; exp10--; }
      else if (*p != '0') inexact = 1;
    }
  }
  if (p < end && (*p == 'e' || *p == 'E')) {
    long ev = 0;
    int eneg = 0;
    isfloat = 1;
    p++;
    if (p < end && (*p == '+' || *p == '-'))
      eneg = *p++ == '-';
    if (p >= end || *p < '0' || *p > '9')
      return dec_fail(d, "invalid number", start);
    for (; p < end && *p >= '0' && *p <= '9'; p++)
      if (ev < 100000)
        ev = ev * 10 + (*p - '0');
    exp10 += eneg ? -ev : ev;
  }
  d->p = p;
  if (!isfloat && !inexact) {
    if (!neg && m <= (uint64_t)LUA_MAXINTEGER) {
      lua_pushinteger(d->L, (lua_Integer)m);
      return DEC_VALUE;
    }
    if (neg && m <= (uint64_t)LUA_MAXINTEGER + 1) {
      lua_pushinteger(d->L, m == (uint64_t)LUA_MAXINTEGER + 1
                      ? LUA_MININTEGER : -(lua_Integer)m);
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
    if (!str2d(start, (size_t)(p - start), &v))
      return dec_fail(d, "invalid number", start);
    lua_pushnumber(d->L, v);
  }
  return DEC_VALUE;
}

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
 * pushed, and left, at once: returns DEC_VALUE then, DEC_NULL when there
 * are members to read, or DEC_ERR. */
static int dec_open(decoder *d, int slots, char close, const char **pp) {
  const char *p;
  if (d->depth >= JSON_MAX_DEPTH)
    return dec_fail(d, "nested too deeply", d->p);
  if (!lua_checkstack(d->L, slots))
    return dec_fail(d, "nested too deeply", d->p);
  p = skip_ws(d->p + 1, d->end);
  if (p < d->end && *p == close) {
    lua_createtable(d->L, 0, 0);
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
  if (open != DEC_NULL)
    return open;
  for (;;) {
    int r;
    d->p = p;
    if ((r = dec_value(d)) == DEC_ERR)
      return DEC_ERR;
    if (r == DEC_NULL)
      lua_pushlightuserdata(L, NULL);
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

/* An object's table is made once its first member is read: objects on the
 * wire come in a few shapes, each known by its first key, so the table is
 * sized for as many members as the last object that began with that key
 * had (no rehash while it fills). */
static int dec_object(decoder *d) {
  lua_State *L = d->L;
  const char *p = NULL;
  int slot = -1, n = 0, open = dec_open(d, 8, '}', &p);
  if (open != DEC_NULL)
    return open;
  for (;;) {
    int r;
    if (p >= d->end || *p != '"')
      return dec_unexpected(d, p);
    d->p = p;
    if (dec_string(d) == DEC_ERR)
      return DEC_ERR;
    if (n == 0)
      slot = d->slot;
    p = skip_ws(d->p, d->end);
    if (p >= d->end || *p != ':')
      return dec_unexpected(d, p);
    d->p = skip_ws(p + 1, d->end);
    if ((r = dec_value(d)) == DEC_ERR)
      return DEC_ERR;
    if (r == DEC_NULL)
      lua_pushnil(L);                 /* omitted; deletes an earlier duplicate */
    if (n++ == 0) {
      int hint = slot >= 0 ? d->sc->members[slot] : 0;
      lua_createtable(L, 0, hint > 0 ? hint : 4);
      lua_insert(L, -3);
    }
    lua_rawset(L, -3);
    p = skip_ws(d->p, d->end);
    if (p < d->end && *p == ',')
      p = skip_ws(p + 1, d->end);
    else if (p < d->end && *p == '}')
      break;
    else
      return dec_unexpected(d, p);
  }
  if (slot >= 0)
    d->sc->members[slot] = (unsigned char)(n < 255 ? n : 255);
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
  if (d->p >= d->end)
    return dec_unexpected(d, d->p);
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
  case '-': case '0': case '1': case '2': case '3': case '4':
  case '5': case '6': case '7': case '8': case '9':
    return dec_number(d);
  default:
    return dec_unexpected(d, d->p);
  }
}

int json_decode_buffer(lua_State *L, const char *s, size_t len) {
  decoder d;
  int base = lua_gettop(L), r;
  luaL_checkstack(L, 9, "chatgpt: cannot decode");
  if (s == NULL)                      /* (NULL, 0): NULL + 0 is UB in C */
    s = "";
  d.sc = scache_push(L);
  d.sc_idx = lua_gettop(L);
  d.slot = -1;
  d.L = L;
  d.s = s;
  d.end = s + len;
  d.depth = 0;
  d.p = skip_ws(s, d.end);
  if (d.p == d.end) {
    lua_settop(L, base);
    lua_pushliteral(L, "empty input");
    return 0;
  }
  r = dec_value(&d);
  if (r != DEC_ERR) {
    const char *p = skip_ws(d.p, d.end);
    if (p != d.end)
      r = dec_fail(&d, "trailing garbage", p);
    else if (r == DEC_NULL)
      lua_pushlightuserdata(L, NULL);
  }
  if (r == DEC_ERR) {
    lua_settop(L, base);              /* closes an open luaL_Buffer box */
    lua_pushfstring(L, "%s at byte %I", d.err, pos(&d, d.errp));
    return 0;
  }
  lua_remove(L, d.sc_idx);
  return 1;
}

int json_decode(lua_State *L) {
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len);
  lua_settop(L, 1);
  if (json_decode_buffer(L, s, len))
    return 1;
  lua_pushnil(L);
  lua_insert(L, -2);
  return 2;
}
