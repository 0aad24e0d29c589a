/* The fast path for the common stream event: see json.h (json_delta).
 *
 * Nearly every event of a streamed answer is a piece of text: a chat chunk
 * whose one choice carries delta.content, or a Responses
 * response.output_text.delta. Decoding it into a table tree, to read three
 * fields of it, made most of the cost of a chunk and all of its garbage.
 * Here such an event is read straight into the few values the assembly
 * needs, pushed on the stack. Whatever is not of that shape, or is not
 * valid JSON, is refused whole (nothing read is kept), and the caller
 * decodes it in full: so the rules for what is valid are the decoder's own,
 * and an error names the same byte.
 *
 * What may be passed over: a member the assembly never reads, when its value
 * is a string, a number, true, false, null, [] or {} (an object or array
 * with members is refused: it may hold anything); and a member it reads,
 * when its value is null, as the decoder leaves null members out. Which
 * members the assembly reads is stream.lua's and response_stream.lua's
 * business: each key below names the line there that reads it. */
#include <string.h>

#include <lua.h>
#include <lauxlib.h>

#include "json.h"
#include "json_reader.h"

/* The values pushed, in order (the Lua side takes them in this order). */
enum { C_INDEX, C_CONTENT, C_FINISH, C_ROLE, C_FP, C_TIER, C_ID, C_CREATED, C_MODEL, C_COUNT };
enum { R_DELTA, R_OUTPUT, R_CONTENT, R_COUNT };

typedef struct {
  json_reader r;
  int base; /* the slot below the first value */
  unsigned seen;
} fast;

#define KEY(k, n, lit) ((n) == sizeof(lit) - 1 && memcmp((k), (lit), sizeof(lit) - 1) == 0)

static const char *ws(const json_reader *r, const char *p) { return json_skip_ws(p, r->end); }

/* r->p at a member's opening quote: its name, which must need no escape,
 * into k/n; r->p then at the value. 0 when it is not so. */
static int read_key(json_reader *r, const char **k, size_t *n) {
  const char *p = r->p, *q;
  if (p >= r->end || *p != '"') return 0;
  for (q = p + 1; q < r->end && *q != '"' && *q != '\\' && (unsigned char)*q >= 0x20; q++)
    ;
  if (q >= r->end || *q != '"') return 0;
  *k = p + 1;
  *n = (size_t)(q - p - 1);
  p = ws(r, q + 1);
  if (p >= r->end || *p != ':') return 0;
  r->p = ws(r, p + 1);
  return 1;
}

/* After a value: 1 with r->p at the next member, 2 past the closing `close`,
 * 0 for anything else. */
static int next_member(json_reader *r, char close) {
  const char *p = ws(r, r->p);
  if (p < r->end && *p == ',') {
    r->p = ws(r, p + 1);
    return 1;
  }
  if (p < r->end && *p == close) {
    r->p = p + 1;
    return 2;
  }
  return 0;
}

static int literal(json_reader *r, const char *lit, size_t n) {
  if ((size_t)(r->end - r->p) < n || memcmp(r->p, lit, n) != 0) return 0;
  r->p += n;
  return 1;
}

static int null(json_reader *r) { return literal(r, "null", 4); }

/* [] or {} (open is '[' or '{'). */
static int empty(json_reader *r, char open) {
  const char *p;
  if (r->p >= r->end || *r->p != open) return 0;
  p = ws(r, r->p + 1);
  if (p >= r->end || *p != (open == '[' ? ']' : '}')) return 0;
  r->p = p + 1;
  return 1;
}

/* A value nobody reads: a scalar, [] or {}. */
static int pass_over(json_reader *r) {
  if (r->p >= r->end) return 0;
  switch (*r->p) {
  case '"': return json_skip_string(r);
  case 't': return literal(r, "true", 4);
  case 'f': return literal(r, "false", 5);
  case 'n': return null(r);
  case '[':
  case '{': return empty(r, *r->p);
  default:
    if (json_read_number(r) == DEC_ERR) return 0;
    lua_pop(r->L, 1);
    return 1;
  }
}

/* A string, or null (nil: the decoder leaves the member out, and a later
 * duplicate wins as there), into value i. */
static int take_string(fast *f, int i) {
  json_reader *r = &f->r;
  if (null(r))
    lua_pushnil(r->L);
  else if (r->p >= r->end || *r->p != '"' || json_read_string(r) == DEC_ERR)
    return 0;
  lua_replace(r->L, f->base + 1 + i);
  return 1;
}

static int take_number(fast *f, int i) {
  json_reader *r = &f->r;
  if (null(r))
    lua_pushnil(r->L);
  else if (r->p >= r->end || (*r->p != '-' && (*r->p < '0' || *r->p > '9')) ||
           json_read_number(r) == DEC_ERR)
    return 0;
  lua_replace(r->L, f->base + 1 + i);
  return 1;
}

/* Calls member(f, name, len) for each member of the object at r->p, which
 * reads the value; an empty object is refused. */
static int each_member(fast *f, int (*member)(fast *, const char *, size_t)) {
  json_reader *r = &f->r;
  int more;
  if (r->p >= r->end || *r->p != '{') return 0;
  r->p = ws(r, r->p + 1);
  do {
    const char *k;
    size_t n;
    if (!read_key(r, &k, &n) || !member(f, k, n)) return 0;
  } while ((more = next_member(r, '}')) == 1);
  return more == 2;
}

/* Read once only: a second choices or delta would have to replace what
 * the first one set. */
static int once(fast *f, unsigned bit) {
  if (f->seen & bit) return 0;
  f->seen |= bit;
  return 1;
}

/* ---- chat.completion.chunk (stream.lua: merge_chat, Accumulator:add) ---- */

static int delta_member(fast *f, const char *k, size_t n) {
  if (KEY(k, n, "content")) return take_string(f, C_CONTENT);
  if (KEY(k, n, "role")) return take_string(f, C_ROLE);
  return null(&f->r); /* refusal, tool_calls, function_call, ... */
}

static int choice_member(fast *f, const char *k, size_t n) {
  json_reader *r = &f->r;
  if (KEY(k, n, "index")) return take_number(f, C_INDEX);
  if (KEY(k, n, "finish_reason")) return take_string(f, C_FINISH);
  if (KEY(k, n, "delta")) return once(f, 2) && (null(r) || empty(r, '{') || each_member(f, delta_member));
  return null(r); /* logprobs, and what the assembly does not know */
}

static int choices(fast *f) {
  json_reader *r = &f->r;
  if (!once(f, 1) || r->p >= r->end || *r->p != '[') return 0;
  r->p = ws(r, r->p + 1);
  if (!each_member(f, choice_member)) return 0;
  r->p = ws(r, r->p);
  if (r->p >= r->end || *r->p != ']') return 0; /* one choice only */
  r->p++;
  return 1;
}

static int chunk_member(fast *f, const char *k, size_t n) {
  json_reader *r = &f->r;
  switch (n ? *k : 0) {
  case 'c':
    if (KEY(k, n, "choices")) return choices(f);
    if (KEY(k, n, "created")) return take_number(f, C_CREATED);
    break;
  case 'i':
    if (KEY(k, n, "id")) return take_string(f, C_ID);
    break;
  case 'm':
    if (KEY(k, n, "model")) return take_string(f, C_MODEL);
    break;
  case 's':
    if (KEY(k, n, "system_fingerprint")) return take_string(f, C_FP);
    if (KEY(k, n, "service_tier")) return take_string(f, C_TIER);
    break;
  case 'u':
    if (KEY(k, n, "usage")) return null(r);
    break;
  case 'e':
    if (KEY(k, n, "error")) return null(r); /* request.lua: an error event */
    break;
  case 't':
    if (KEY(k, n, "type")) return null(r);
    break;
  }
  return pass_over(r);
}

/* ---- response.output_text.delta (response_stream.lua) ------------------- */

static int event_member(fast *f, const char *k, size_t n) {
  json_reader *r = &f->r;
  static const char want[] = "\"response.output_text.delta\"";
  if (KEY(k, n, "type")) {
    if (!once(f, 1) || !literal(r, want, sizeof want - 1)) return 0;
    return 1;
  }
  if (KEY(k, n, "delta")) return once(f, 2) && r->p < r->end && *r->p == '"' && take_string(f, R_DELTA);
  if (KEY(k, n, "output_index")) return take_number(f, R_OUTPUT);
  if (KEY(k, n, "content_index")) return take_number(f, R_CONTENT);
  if (KEY(k, n, "logprobs")) return null(r) || empty(r, '[') || empty(r, '{'); /* read as nothing */
  /* an error member, and the indices response_stream.lua checks that this
   * event does not have */
  if (KEY(k, n, "error") || KEY(k, n, "summary_index") || KEY(k, n, "annotation_index")) return null(r);
  return pass_over(r);
}

int json_delta(lua_State *L, const char *s, size_t len, int kind) {
  fast f;
  int chat = kind == JSON_DELTA_CHAT, count = chat ? C_COUNT : R_COUNT, i, ok;
  luaL_checkstack(L, count + 6, "chatgpt: cannot decode");
  f.base = lua_gettop(L);
  for (i = 0; i < count; i++) lua_pushnil(L);
  f.seen = 0;
  json_reader_init(L, &f.r, s, len);
  ok = each_member(&f, chat ? chunk_member : event_member);
  /* a chunk with its choice (delta or not); an event with its type and delta */
  ok = ok && json_skip_ws(f.r.p, f.r.end) == f.r.end && (f.seen & 1u) && (chat || (f.seen & 2u));
  if (!ok) {
    lua_settop(L, f.base); /* drops an open luaL_Buffer box too */
    return 0;
  }
  lua_settop(L, f.base + count); /* the anchors go */
  if (chat && lua_isnil(L, f.base + 1 + C_INDEX)) { /* stream.lua's index_of(nil) */
    lua_pushinteger(L, 0);
    lua_replace(L, f.base + 1 + C_INDEX);
  }
  return count;
}
