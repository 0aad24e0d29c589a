/* JSON encoder for Lua values: see json.h for the rules.
 *
 * A value with no JSON form is not raised: the failure pushes its message
 * (path included) and returns ENC_ERR up the recursion, which leaves it on
 * top of the stack, as the decoder does, so core.encode can return nil,
 * why without a protected call. Only memory errors raise; the output
 * buffer is the state's (context.h), so they leak nothing. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lua.h>
#include <lauxlib.h>

#include "compat.h"
#include "context.h"
#include "json.h"
#include "json_path.h"
#include "json_utf8.h"

#if defined(__GNUC__)
#define JSON_NOINLINE __attribute__((noinline))
#else
#define JSON_NOINLINE
#endif

enum { ENC_OK = 0, ENC_ERR = 1 };

#define BUF_KEEP (64 * 1024) /* larger buffers are freed after use */

typedef struct {
  lua_State *L;
  json_buffer *b;
  int depth;
  int keys; /* stack index of the array_keys set, or 0 */
} encoder;

void json_buffer_free(json_buffer *b) {
  if (b->p != NULL) {
    b->alloc(b->ud, b->p, b->cap, 0);
    b->p = NULL;
    b->cap = 0;
  }
  b->len = 0;
}

/* Slow path of reserve: grow to at least len + n, doubling. Raises when
 * memory runs out (a length past half the address space included). */
static JSON_NOINLINE void buf_grow(lua_State *L, json_buffer *b, size_t n) {
  size_t cap = b->cap ? b->cap : 256;
  char *p;
  if (n > ((size_t)-1) / 2 - b->len) {
    json_buffer_free(b);
    luaL_error(L, "chatgpt: cannot encode: output too large");
  }
  while (cap < b->len + n) cap *= 2;
  p = (char *)b->alloc(b->ud, b->p, b->cap, cap);
  if (p == NULL) {
    json_buffer_free(b);
    luaL_error(L, "chatgpt: cannot encode: not enough memory");
  }
  b->p = p;
  b->cap = cap;
}

static char *buf_reserve(lua_State *L, json_buffer *b, size_t n) {
  if (b->cap - b->len < n) buf_grow(L, b, n);
  return b->p + b->len;
}

static void buf_add(lua_State *L, json_buffer *b, const char *s, size_t n) {
  if (n == 0) /* memcpy to a NULL buffer is UB */
    return;
  memcpy(buf_reserve(L, b, n), s, n);
  b->len += n;
}

#define buf_addlit(L, b, s) buf_add((L), (b), "" s, sizeof(s) - 1)

static void buf_addchar(lua_State *L, json_buffer *b, char c) {
  *buf_reserve(L, b, 1) = c;
  b->len++;
}

/* Pushes "cannot encode: <what> at <path>" and returns ENC_ERR: every
 * caller returns at once, so the reason stays on top of the stack. */
static int enc_fail(encoder *e, const char *what, const jpath *at) {
  lua_State *L = e->L;
  luaL_checkstack(L, 8, "chatgpt: cannot encode");
  json_push_path(L, at);
  lua_pushfstring(L, "cannot encode: %s at %s", what, lua_tostring(L, -1));
  return ENC_ERR;
}

/* Class of each byte in a string: 0 copies as is, 1 escapes as \u00XX,
 * 2 starts a multibyte sequence to validate, any other value is the letter
 * of a short escape. One lookup per byte on the common path. */
/* clang-format off */
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
/* clang-format on */

/* "invalid UTF-8 in messages[2].content (byte 5)"; a bad key is reported
 * as "invalid UTF-8 in a key (byte 2) at tools[1].parameters". */
static JSON_NOINLINE int enc_bad_utf8(encoder *e, const jpath *at, int iskey, size_t i) {
  lua_State *L = e->L;
  luaL_checkstack(L, 8, "chatgpt: cannot encode");
  if (iskey) {
    lua_pushfstring(L, "invalid UTF-8 in a key (byte " COMPAT_I ")", COMPAT_IARG(i + 1));
    return enc_fail(e, lua_tostring(L, -1), at);
  }
  json_push_path(L, at);
  lua_pushfstring(L, "cannot encode: invalid UTF-8 in %s (byte " COMPAT_I ")", lua_tostring(L, -1),
                  COMPAT_IARG(i + 1));
  return ENC_ERR;
}

/* Writes s as a JSON string, validating UTF-8 as it goes; runs of bytes
 * that need no escape are copied in one piece. */
static int enc_string(encoder *e, const char *str, size_t n, const jpath *at, int iskey) {
  lua_State *L = e->L;
  json_buffer *b = e->b;
  const unsigned char *s = (const unsigned char *)str;
  size_t i = 0, run = 0, k;
  buf_reserve(L, b, n + 2); /* the usual size: no escapes */
  b->p[b->len++] = '"';
  for (;;) {
    unsigned x;
    while (n - i >= 4 &&
           !(esc_class[s[i]] | esc_class[s[i + 1]] | esc_class[s[i + 2]] | esc_class[s[i + 3]]))
      i += 4;
    while (i < n && esc_class[s[i]] == 0) i++;
    if (i >= n) break;
    if ((x = esc_class[s[i]]) == 2) {
      if ((k = utf8_seq(s + i, n - i)) == 0) return enc_bad_utf8(e, at, iskey, i);
      i += k;
      continue;
    }
    buf_add(L, b, str + run, i - run);
    if (x == 1) {
      static const char hex[] = "0123456789abcdef";
      char u[6] = {'\\', 'u', '0', '0', hex[s[i] >> 4], hex[s[i] & 15]};
      buf_add(L, b, u, 6);
    } else {
      char u[2] = {'\\', (char)x};
      buf_add(L, b, u, 2);
    }
    run = ++i;
  }
  buf_add(L, b, str + run, n - run);
  buf_addchar(L, b, '"');
  return ENC_OK;
}

static void enc_integer(encoder *e, lua_Integer v) {
  char tmp[24], *q = tmp + sizeof tmp;
  unsigned long long u = v < 0 ? 0u - (unsigned long long)v : (unsigned long long)v;
  do {
    *--q = (char)('0' + u % 10);
    u /= 10;
  } while (u != 0);
  if (v < 0) *--q = '-';
  buf_add(e->L, e->b, q, (size_t)(tmp + sizeof tmp - q));
}

/* Shortest of %.14g..%.17g that reads back as the same double (%.17g always
 * does). printf and strtod both follow LC_NUMERIC, so the round trip is
 * checked in the host's locale and the decimal point is then rewritten to
 * '.': whatever the locale's point is (even multibyte), it is the only text
 * in the output that is not a digit, sign or exponent letter. */
static int enc_float(encoder *e, lua_Number d, const jpath *at) {
  char tmp[64], out[64];
  int prec, len = 0, i, j = 0, dot = 0;
  if (isnan(d)) return enc_fail(e, "NaN", at);
  if (isinf(d)) return enc_fail(e, d > 0 ? "inf" : "-inf", at);
  if (d == 0 && signbit(d)) { /* "-0" would read back as integer 0 */
    buf_addlit(e->L, e->b, "-0.0");
    return ENC_OK;
  }
  for (prec = 14; prec <= 17; prec++) {
    len = snprintf(tmp, sizeof tmp, "%.*g", prec, (double)d);
    if (prec == 17 || strtod(tmp, NULL) == (double)d) break;
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
  buf_add(e->L, e->b, out, (size_t)j);
  return ENC_OK;
}

/* The caller's policy: an empty table under a key its array_keys set holds
 * goes out as []. Only empty tables get here, so a call pays nothing for
 * the set on the common path. */
static int is_array_key(encoder *e, int key) {
  lua_State *L = e->L;
  int yes;
  lua_pushvalue(L, key);
  lua_rawget(L, e->keys);
  yes = lua_toboolean(L, -1);
  lua_pop(L, 1);
  return yes;
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
    if (k > max) max = k;
    n++;
  }
  return max == n ? n : -1;
}

static int enc_value(encoder *e, int idx, const jpath *at);

static int enc_array(encoder *e, int t, lua_Integer n, const jpath *at) {
  lua_State *L = e->L;
  lua_Integer i;
  buf_addchar(L, e->b, '[');
  for (i = 1; i <= n; i++) {
    jpath step;
    step.up = at;
    step.index = i;
    step.key = 0;
    if (i > 1) buf_addchar(L, e->b, ',');
    lua_rawgeti(L, t, i);
    if (enc_value(e, lua_gettop(L), &step)) return ENC_ERR;
    lua_pop(L, 1);
  }
  buf_addchar(L, e->b, ']');
  return ENC_OK;
}

/* Writes the key at index k (a string, or an integer as "123"), its
 * separator and its colon; step gets its path. */
static int enc_key(encoder *e, int k, int *first, jpath *step, const jpath *at) {
  lua_State *L = e->L;
  if (!*first) buf_addchar(L, e->b, ',');
  *first = 0;
  switch (lua_type(L, k)) {
  case LUA_TSTRING: {
    size_t n;
    const char *s = lua_tolstring(L, k, &n);
    step->key = k;
    if (enc_string(e, s, n, at, 1)) return ENC_ERR;
    break;
  }
  case LUA_TNUMBER:
    /* Never lua_tolstring a key: it would confuse lua_next. */
    if (lua_isinteger(L, k)) {
      step->index = lua_tointeger(L, k);
      buf_addchar(L, e->b, '"');
      enc_integer(e, step->index);
      buf_addchar(L, e->b, '"');
      break;
    }
    return enc_fail(e, "a non-integer number key", at);
  default:
    lua_pushfstring(L, "a %s key", luaL_typename(L, k));
    return enc_fail(e, lua_tostring(L, -1), at);
  }
  buf_addchar(L, e->b, ':');
  return ENC_OK;
}

/* An object's metatable fields (json.h): stack indices of the __jsonorder
 * list and the __jsonnull set, or 0; and how many values table_jsontype
 * left on the stack for them. */
typedef struct {
  int order, nulls, pushed;
} jshape;

/* The members named by the order list first, each once (done: a set of
 * those written, on the stack); a name the table lacks is written as null
 * when the null set has it, else skipped. */
static int enc_ordered(encoder *e, int t, const jshape *sh, int done, int *first, const jpath *at) {
  lua_State *L = e->L;
  lua_Integer i, n = (lua_Integer)lua_rawlen(L, sh->order);
  for (i = 1; i <= n; i++) {
    jpath step;
    int k, top = lua_gettop(L);
    step.up = at;
    step.index = 0;
    step.key = 0;
    lua_rawgeti(L, sh->order, i);
    k = lua_gettop(L);
    lua_pushvalue(L, k);
    if (lua_isnil(L, k) || lua_rawget(L, done) != LUA_TNIL) {
      lua_settop(L, top);
      continue;
    }
    lua_pop(L, 1);
    lua_pushvalue(L, k);
    if (lua_rawget(L, t) == LUA_TNIL) {
      int null = 0;
      if (sh->nulls) {
        lua_pushvalue(L, k);
        lua_rawget(L, sh->nulls);
        null = lua_toboolean(L, -1);
      }
      if (!null) {
        lua_settop(L, top);
        continue;
      }
      if (enc_key(e, k, first, &step, at)) return ENC_ERR;
      buf_addlit(L, e->b, "null");
    } else {
      if (enc_key(e, k, first, &step, at)) return ENC_ERR;
      if (enc_value(e, k + 1, &step)) return ENC_ERR;
    }
    lua_pushvalue(L, k);
    lua_pushboolean(L, 1);
    lua_rawset(L, done);
    lua_settop(L, top);
  }
  return ENC_OK;
}

static int enc_object(encoder *e, int t, const jshape *sh, const jpath *at) {
  lua_State *L = e->L;
  int first = 1, done = 0;
  buf_addchar(L, e->b, '{');
  if (sh != NULL && sh->order) {
    lua_newtable(L);
    done = lua_gettop(L);
    if (enc_ordered(e, t, sh, done, &first, at)) return ENC_ERR;
  }
  lua_pushnil(L);
  while (lua_next(L, t)) {
    jpath step;
    int top = lua_gettop(L);
    step.up = at;
    step.index = 0;
    step.key = 0;
    if (done) {
      lua_pushvalue(L, top - 1);
      if (lua_rawget(L, done) != LUA_TNIL) {
        lua_pop(L, 2);
        continue;
      }
      lua_pop(L, 1);
    }
    if (enc_key(e, top - 1, &first, &step, at)) return ENC_ERR;
    if (enc_value(e, top, &step)) return ENC_ERR;
    lua_pop(L, 1);
  }
  if (sh != NULL && sh->nulls) { /* the null members the table has no value for */
    lua_pushnil(L);
    while (lua_next(L, sh->nulls)) {
      jpath step;
      int top = lua_gettop(L), skip = !lua_toboolean(L, top);
      step.up = at;
      step.index = 0;
      step.key = 0;
      if (!skip) {
        lua_pushvalue(L, top - 1);
        skip = lua_rawget(L, t) != LUA_TNIL;
        lua_pop(L, 1);
      }
      if (!skip && done) {
        lua_pushvalue(L, top - 1);
        skip = lua_rawget(L, done) != LUA_TNIL;
        lua_pop(L, 1);
      }
      if (!skip) {
        if (enc_key(e, top - 1, &first, &step, at)) return ENC_ERR;
        buf_addlit(L, e->b, "null");
      }
      lua_pop(L, 1);
    }
  }
  if (done) lua_pop(L, 1);
  buf_addchar(L, e->b, '}');
  return ENC_OK;
}

enum { JT_ERR = -1, JT_AUTO, JT_ARRAY, JT_OBJECT };

/* The table's kind from its metatable, read raw (no __index); for an
 * object, its __jsonorder and __jsonnull tables are left on the stack
 * (their indices in *sh, 0 when absent). */
static int table_jsontype(encoder *e, int t, jshape *sh, const jpath *at) {
  lua_State *L = e->L;
  int jt = JT_AUTO, mt;
  sh->order = sh->nulls = sh->pushed = 0;
  if (!lua_getmetatable(L, t)) return JT_AUTO;
  mt = lua_gettop(L);
  lua_pushliteral(L, "__jsontype");
  lua_rawget(L, mt);
  if (lua_type(L, -1) == LUA_TSTRING) {
    const char *s = lua_tostring(L, -1);
    if (strcmp(s, "array") == 0)
      jt = JT_ARRAY;
    else if (strcmp(s, "object") == 0)
      jt = JT_OBJECT;
  }
  if (jt == JT_AUTO && !lua_isnil(L, -1)) {
    enc_fail(e, "a __jsontype that is neither \"array\" nor \"object\"", at);
    return JT_ERR;
  }
  lua_pop(L, 1);
  if (jt != JT_ARRAY) {
    static const char *const fields[] = {"__jsonorder", "__jsonnull"};
    int i, *slots[2];
    slots[0] = &sh->order;
    slots[1] = &sh->nulls;
    for (i = 0; i < 2; i++) {
      int ft;
      lua_pushstring(L, fields[i]);
      ft = lua_rawget(L, mt);
      if (ft == LUA_TTABLE) {
        *slots[i] = lua_gettop(L);
        jt = JT_OBJECT;
      } else if (ft != LUA_TNIL) {
        lua_pushfstring(L, "a %s that is not a table", fields[i]);
        enc_fail(e, lua_tostring(L, -1), at);
        return JT_ERR;
      } else
        lua_pop(L, 1);
    }
  }
  if (!sh->order && !sh->nulls)
    lua_pop(L, 1); /* the metatable: nothing of it is needed */
  else
    sh->pushed = lua_gettop(L) - mt + 1;
  return jt;
}

static int enc_table(encoder *e, int t, const jpath *at) {
  lua_State *L = e->L;
  lua_Integer n = -1;
  int jt;
  jshape sh;
  if (e->depth >= JSON_MAX_DEPTH) return enc_fail(e, "table nested too deeply (cycle?)", at);
  luaL_checkstack(L, 10, "chatgpt: cannot encode");
  e->depth++;
  if ((jt = table_jsontype(e, t, &sh, at)) == JT_ERR) return ENC_ERR;
  if (jt != JT_OBJECT) {
    n = table_seqlen(L, t);
    if (n < 0 && jt == JT_ARRAY)
      return enc_fail(e,
                      "a table with keys other than 1..n marked "
                      "__jsontype = \"array\"",
                      at);
    if (n == 0 && jt == JT_AUTO &&
        !(e->keys != 0 && at != NULL && at->key != 0 && is_array_key(e, at->key)))
      n = -1; /* {} unless named as a list */
  }
  if ((n >= 0 ? enc_array(e, t, n, at) : enc_object(e, t, &sh, at)) != ENC_OK) return ENC_ERR;
  if (sh.pushed) lua_pop(L, sh.pushed); /* the metatable and its fields */
  e->depth--;
  return ENC_OK;
}

static int enc_value(encoder *e, int idx, const jpath *at) {
  lua_State *L = e->L;
  switch (lua_type(L, idx)) {
  case LUA_TNIL: buf_addlit(L, e->b, "null"); return ENC_OK;
  case LUA_TBOOLEAN:
    if (lua_toboolean(L, idx))
      buf_addlit(L, e->b, "true");
    else
      buf_addlit(L, e->b, "false");
    return ENC_OK;
  case LUA_TNUMBER:
    if (lua_isinteger(L, idx)) {
      enc_integer(e, lua_tointeger(L, idx));
      return ENC_OK;
    }
    return enc_float(e, lua_tonumber(L, idx), at);
  case LUA_TSTRING: {
    size_t n;
    const char *s = lua_tolstring(L, idx, &n);
    return enc_string(e, s, n, at, 0);
  }
  case LUA_TTABLE: return enc_table(e, idx, at);
  case LUA_TLIGHTUSERDATA:
    if (lua_touserdata(L, idx) == NULL) {
      buf_addlit(L, e->b, "null");
      return ENC_OK;
    }
    return enc_fail(e, "a light userdata", at);
  case LUA_TFUNCTION: return enc_fail(e, "a function", at);
  case LUA_TTHREAD: return enc_fail(e, "a thread", at);
  default: return enc_fail(e, "a userdata", at);
  }
}

int json_encode_value(lua_State *L, int idx, int keys) {
  encoder e;
  context *c;
  int ok, base = lua_gettop(L);
  idx = lua_absindex(L, idx);
  e.keys = keys != 0 ? lua_absindex(L, keys) : 0;
  luaL_checkstack(L, 8, "chatgpt: cannot encode");
  c = context_get(L);
  e.L = L;
  e.depth = 0;
  e.b = &c->encoder;
  if (e.b->alloc == NULL)
    e.b->alloc = lua_getallocf(L, &e.b->ud);
  else if (e.b->cap > BUF_KEEP) /* left big by an encode that raised */
    json_buffer_free(e.b);
  e.b->len = 0;
  if ((ok = enc_value(&e, idx, NULL) == ENC_OK)) {
    lua_pushlstring(L, e.b->p != NULL ? e.b->p : "", e.b->len); /* the stack is as it was */
  } else {
    lua_replace(L, base + 1); /* the reason, on top, above what the failed path left */
    lua_settop(L, base + 1);
  }
  /* after lua_close has closed the context, nothing may stay allocated */
  if (e.b->cap > BUF_KEEP || c->closed) json_buffer_free(e.b);
  e.b->len = 0;
  return ok;
}

/* core.encode(value [, array_keys]) -> json | nil, why */
static int json_encode(lua_State *L) {
  int keys = lua_type(L, 2);
  luaL_checkany(L, 1);
  if (keys != LUA_TNONE && keys != LUA_TNIL) luaL_checktype(L, 2, LUA_TTABLE);
  if (json_encode_value(L, 1, keys == LUA_TTABLE ? 2 : 0)) return 1;
  lua_pushnil(L);
  lua_insert(L, -2);
  return 2;
}

static const luaL_Reg json_encode_funcs[] = {
  {"encode", json_encode},
  {NULL, NULL},
};

void json_encode_open(lua_State *L) { luaL_setfuncs(L, json_encode_funcs, 0); }
