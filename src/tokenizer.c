/* chatgpt.tokenizer: see tokenizer.h. The text is cut by pretokenize.c,
 * each piece merged by bpe.c against a vocabulary of vocab.c. */
#include "tokenizer.h"
#include "bpe.h"
#include "compat.h"
#include "pretokenize.h"
#include "vocab.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#define TOKENIZER_TYPE "chatgpt.tokenizer"

typedef struct {
  const char *text;
  uint32_t id;
} special;

/* An encoding: its split pattern, its vocabulary file, its number of
 * ordinary tokens, and its special tokens (the ids from first_reserved
 * up to end that are not named are "<|reserved_N|>", as in o200k_harmony). */
typedef struct {
  const char *name, *file;
  enum split_pattern pat;
  uint32_t n, first_reserved, end;
  const special *specials;
} encoding;

/* clang-format off */
static const special cl100k_specials[] = {
  {"<|endoftext|>", 100257}, {"<|fim_prefix|>", 100258}, {"<|fim_middle|>", 100259},
  {"<|fim_suffix|>", 100260}, {"<|endofprompt|>", 100276}, {NULL, 0},
};
static const special o200k_specials[] = {
  {"<|endoftext|>", 199999}, {"<|endofprompt|>", 200018}, {NULL, 0},
};
static const special harmony_specials[] = {
  {"<|startoftext|>", 199998}, {"<|endoftext|>", 199999}, {"<|return|>", 200002},
  {"<|constrain|>", 200003}, {"<|channel|>", 200005}, {"<|start|>", 200006},
  {"<|end|>", 200007}, {"<|message|>", 200008}, {"<|call|>", 200012}, {NULL, 0},
};
static const encoding encodings[] = {
  {"o200k_base", "o200k_base", SPLIT_O200K, 199998, 0, 0, o200k_specials},
  {"o200k_harmony", "o200k_base", SPLIT_O200K, 199998, 200000, 201088, harmony_specials},
  {"cl100k_base", "cl100k_base", SPLIT_CL100K, 100256, 0, 0, cl100k_specials},
  {NULL, NULL, SPLIT_O200K, 0, 0, 0, NULL},
};
/* clang-format on */

typedef struct {
  const encoding *enc;
  const vocab *v;  /* NULL once closed */
  bpe_scratch w;   /* for long pieces */
  uint32_t *ids;   /* encode's ids, decode's bytes */
  size_t cap;      /* bytes at ids */
} tokenizer;

static tokenizer *totokenizer(lua_State *L) {
  tokenizer *t = (tokenizer *)luaL_checkudata(L, 1, TOKENIZER_TYPE);
  if (!t->v) luaL_argerror(L, 1, "tokenizer without a vocabulary");
  return t;
}

/* Room for bytes at t->ids; scratch memory outlives an error raised while
 * it is in use, and goes with the tokenizer. */
static void *room(lua_State *L, tokenizer *t, size_t bytes) {
  if (t->cap < bytes) {
    size_t cap = t->cap ? t->cap : 4096;
    void *p;
    while (cap < bytes) cap *= 2;
    if (!(p = realloc(t->ids, cap))) luaL_error(L, "not enough memory");
    t->ids = p, t->cap = cap;
  }
  return t->ids;
}

/* Runs over the text, one piece at a time; with keep, the ids stay at
 * t->ids. Returns the number of tokens. */
static size_t tokenize(lua_State *L, tokenizer *t, int keep) {
  size_t n, pos = 0, total = 0;
  const unsigned char *s = (const unsigned char *)luaL_checklstring(L, 2, &n);
  while (pos < n) {
    size_t end = pretokenize_next(t->enc->pat, s, n, pos), got;
    uint32_t *out;
    if (end - pos >= UINT32_MAX) luaL_error(L, "a piece of text over 4 GB");
    out = room(L, t, ((keep ? total : 0) + end - pos) * sizeof(uint32_t));
    got = bpe_encode(t->v, s + pos, end - pos, &t->w, out + (keep ? total : 0));
    if (got == 0) luaL_error(L, "not enough memory");
    total += got;
    pos = end;
  }
  return total;
}

static int tokenizer_encode(lua_State *L) {
  tokenizer *t = totokenizer(L);
  size_t n = tokenize(L, t, 1), i;
  if (n > INT32_MAX) luaL_error(L, "too many tokens for a table");
  lua_createtable(L, (int)n, 0);
  for (i = 0; i < n; i++) {
    lua_pushinteger(L, (lua_Integer)t->ids[i]);
    lua_rawseti(L, -2, (int)(i + 1));
  }
  return 1;
}

static int tokenizer_count(lua_State *L) {
  tokenizer *t = totokenizer(L);
  lua_pushinteger(L, (lua_Integer)tokenize(L, t, 0));
  return 1;
}

/* The text of special token id (buf holds a reserved one), or NULL. */
static const char *special_text(const encoding *e, uint32_t id, char *buf, size_t len) {
  const special *sp;
  for (sp = e->specials; sp->text; sp++)
    if (sp->id == id) return sp->text;
  if (id >= e->first_reserved && id < e->end) {
    snprintf(buf, len, "<|reserved_%lu|>", (unsigned long)id);
    return buf;
  }
  return NULL;
}

static int tokenizer_decode(lua_State *L) {
  tokenizer *t = totokenizer(L);
  const vocab *v = t->v;
  size_t n, i, len = 0;
  char buf[32];
  luaL_checktype(L, 2, LUA_TTABLE);
  n = lua_rawlen(L, 2);
  for (i = 1; i <= n; i++) {
    lua_Integer id;
    const unsigned char *p;
    size_t k;
    lua_rawgeti(L, 2, (int)i);
    if (!lua_isinteger(L, -1) || (id = lua_tointeger(L, -1)) < 0 || id > UINT32_MAX) {
      lua_pushfstring(L, "token id expected at index %d, got %s", (int)i,
                      lua_isnumber(L, -1) ? "a number that is not one" : luaL_typename(L, -1));
      return luaL_argerror(L, 2, lua_tostring(L, -1));
    }
    lua_pop(L, 1);
    if ((uint32_t)id < v->n) {
      p = v->bytes + v->off[id];
      k = v->off[id + 1] - v->off[id];
    } else if ((p = (const unsigned char *)special_text(t->enc, (uint32_t)id, buf, sizeof buf))) {
      k = strlen((const char *)p);
    } else {
      lua_pushfstring(L, "no token %d in %s (at index %d)", (int)id, t->enc->name, (int)i);
      return luaL_argerror(L, 2, lua_tostring(L, -1));
    }
    memcpy((char *)room(L, t, len + k) + len, p, k);
    len += k;
  }
  lua_pushlstring(L, (const char *)t->ids, len);
  return 1;
}

static int tokenizer_memory(lua_State *L) {
  tokenizer *t = totokenizer(L);
  lua_pushinteger(L, (lua_Integer)vocab_memory(t->v));
  return 1;
}

/* __gc: gives the vocabulary back, frees the scratch memory. No close:
 * chatgpt.tokenizer hands out one tokenizer per encoding to every caller
 * of a state (tokenizer.lua), which one caller must not close for all. */
static int tokenizer_gc(lua_State *L) {
  tokenizer *t = (tokenizer *)luaL_checkudata(L, 1, TOKENIZER_TYPE);
  vocab_release(t->v);
  t->v = NULL;
  bpe_scratch_free(&t->w);
  free(t->ids);
  t->ids = NULL, t->cap = 0;
  return 0;
}

static int tokenizer_tostring(lua_State *L) {
  tokenizer *t = (tokenizer *)luaL_checkudata(L, 1, TOKENIZER_TYPE);
  lua_pushfstring(L, TOKENIZER_TYPE " (%s): %p", t->enc->name, (void *)t);
  return 1;
}

/* __index: the methods (upvalue 1), and the name */
static int tokenizer_index(lua_State *L) {
  tokenizer *t = (tokenizer *)luaL_checkudata(L, 1, TOKENIZER_TYPE);
  const char *k = lua_tostring(L, 2);
  if (k && strcmp(k, "name") == 0) {
    lua_pushstring(L, t->enc->name);
    return 1;
  }
  lua_pushvalue(L, 2);
  lua_rawget(L, lua_upvalueindex(1));
  return 1;
}

static int tokenizer_new(lua_State *L) {
  const char *name = luaL_checkstring(L, 1), *dir = luaL_checkstring(L, 2), *path;
  const encoding *e;
  tokenizer *t;
  char why[256];
  for (e = encodings; e->name && strcmp(e->name, name) != 0; e++) {}
  if (!e->name) {
    lua_pushnil(L);
    lua_pushfstring(L, "unknown encoding '%s'", name);
    return 2;
  }
  t = (tokenizer *)compat_newuserdata(L, sizeof *t, 0);
  memset(t, 0, sizeof *t);
  t->enc = e;
  luaL_setmetatable(L, TOKENIZER_TYPE);
  path = lua_pushfstring(L, "%s/%s.bpe", dir, e->file);
  if (!(t->v = vocab_acquire(path, why, sizeof why))) {
    lua_pushnil(L);
    lua_pushfstring(L, "cannot load the %s vocabulary: %s", name, why);
    return 2;
  }
  if (t->v->n != e->n) {
    lua_pushnil(L);
    lua_pushfstring(L, "cannot load the %s vocabulary: %s holds %d tokens, not %d", name, path,
                    (int)t->v->n, (int)e->n);
    vocab_release(t->v);
    t->v = NULL;
    return 2;
  }
  lua_pop(L, 1);
  return 1;
}

static const luaL_Reg tokenizer_methods[] = {
  {"encode", tokenizer_encode},
  {"count", tokenizer_count},
  {"decode", tokenizer_decode},
  {"memory", tokenizer_memory},
  {NULL, NULL},
};

static const luaL_Reg tokenizer_meta[] = {
  {"__gc", tokenizer_gc},
  {"__tostring", tokenizer_tostring},
  {NULL, NULL},
};

void tokenizer_open(lua_State *L) {
  luaL_newmetatable(L, TOKENIZER_TYPE);
  luaL_setfuncs(L, tokenizer_meta, 0);
  luaL_newlib(L, tokenizer_methods);
  lua_pushcclosure(L, tokenizer_index, 1);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
  lua_pushcfunction(L, tokenizer_new);
  lua_setfield(L, -2, "tokenizer");
}
