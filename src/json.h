/* JSON codec for Lua values, exact for Lua 5.4 integers both ways:
 * json_encode.c writes, json_decode.c reads (json_escapes.c: strings with
 * escapes; json_marks.c: what a decoded table's metatable says of it).
 *
 * Why not lua-cjson: Debian's lua-cjson 2.1.0 prints every number with
 * %.14g (seed = 9007199254740993 goes out wrong), reads every number as a
 * float (87 comes back as 87.0), cannot send an empty table as [], and passes
 * invalid UTF-8 through. A request must be exact, so the wire format is ours.
 *
 * Encoding rules
 *   nil, and the null sentinel (a NULL light userdata, equal to cjson.null)
 *                              -> null
 *   boolean                    -> true / false
 *   integer                    -> exact decimal (%lld)
 *   float                      -> shortest of %.14g..%.17g that reads back to
 *                                 the same double, with '.' whatever the
 *                                 locale; 1.0 may go out as 1, but -0.0 goes
 *                                 out as -0.0 to keep its sign; NaN and +-inf
 *                                 are refused
 *   string                     -> quoted; '"', '\\' and bytes < 0x20 escaped
 *                                 (\n \r \t \b \f, else \u00XX), '/' and
 *                                 U+2028/9 as is; invalid UTF-8 (overlong,
 *                                 surrogate, > U+10FFFF, truncated) is
 *                                 refused, naming the path and the 1-based byte
 *   table with keys 1..n only  -> array (metatable fields are read raw;
 *                                 __index and __pairs are not consulted)
 *   empty table                -> [] when the metatable says __jsontype =
 *                                 "array", or when it is the value of a key
 *                                 that the caller's array_keys table holds
 *                                 (a set: {messages = true, ...}); else {}
 *                                 (so an empty table at the top or in an
 *                                 array is {}). Which keys hold lists is the
 *                                 caller's policy: the codec knows no field
 *                                 names, and looks the set up for empty
 *                                 tables without a __jsontype only, i.e.
 *                                 tables a caller built by hand: what the
 *                                 decoder made carries its kind
 *   other tables               -> object; integer keys become "123" strings
 *                                 (logit_bias = {[50256] = -100} works);
 *                                 a metatable __jsontype = "object" forces
 *                                 an object; other key types are refused, and
 *                                 so is "array" on a table that is not 1..n
 *   an object's metatable may also hold, read raw:
 *     __jsonorder = {"k1", "k2", ...}: those members go first, in that
 *                                 order (each once; keys it names that the
 *                                 table lacks are skipped), the rest after
 *     __jsonnull = {k = true, ...}: members written as null when the table
 *                                 has no value for them (a value wins)
 *                                 Either makes the table an object.
 *   functions, userdata, threads are refused, naming the path
 *   nesting deeper than JSON_MAX_DEPTH is refused (cycles included)
 *   A refusal reads "cannot encode: <what> at <path>", e.g. "cannot encode:
 *   a function at tools[1].handler", except for strings: "cannot encode:
 *   invalid UTF-8 in messages[2].content (byte 5)". It is returned, not
 *   raised: only a memory error raises. The output buffer is the state's
 *   (context.h), so nothing leaks either way.
 *
 * Decoding rules
 *   a number without fraction or exponent that fits int64 -> Lua integer,
 *   every other number -> float (locale independent); \u escapes, surrogate
 *   pairs included, become UTF-8 (a lone surrogate becomes U+FFFD); raw
 *   bytes are not checked for UTF-8, raw control characters are refused;
 *   duplicate keys: the last wins; whitespace around the value is allowed,
 *   anything else after it is an error.
 *   What the encoder needs to write the same JSON value back is kept where
 *   a reader does not see it, so that a decoded value goes back out as it
 *   came (strings byte-exact, integers as integers):
 *   - [] and {} get a shared metatable with __jsontype "array" / "object";
 *   - object members whose value is null are left out (they read as nil),
 *     and the object's metatable lists them under __jsonnull (one shared,
 *     immutable metatable per set of names, so an object of a shape seen
 *     before costs no allocation); null inside an array, and a top-level
 *     null, is the null sentinel;
 *   - with core.decode's "ordered", each object also records its members'
 *     order under __jsonorder (a metatable of its own: for schemas and
 *     saved files, not for the hot path).
 *   Messages name a 1-based byte offset: "unexpected 'x' at byte 12",
 *   "unexpected end of input at byte 7", "unterminated string at byte 3"
 *   (its opening quote), "invalid number at byte 5", "trailing garbage at
 *   byte 40", "nested too deeply at byte 1001", "empty input".
 */
#ifndef CHATGPT_JSON_H
#define CHATGPT_JSON_H

#include <stddef.h>
#include <lua.h>

#define JSON_MAX_DEPTH 1000

/* Encodes the value at idx and pushes the JSON text: returns 1. A value
 * with no JSON form (see above) pushes the reason instead and returns 0.
 * keys is the stack index of the array_keys set, or 0 for none. Raises
 * only on memory errors. Uses a few stack slots, checked. */
int json_encode_value(lua_State *L, int idx, int keys);

/* Pushes the decoded value and returns 1; on malformed input pushes an error
 * message ("unexpected 'x' at byte 12") and returns 0. ordered: record
 * each object's member order (__jsonorder). Never raises except on memory
 * errors. */
int json_decode_buffer(lua_State *L, const char *s, size_t len, int ordered);

/* The stream's fast path (json_delta.c): for the common event, a chat
 * chunk whose one choice carries delta.content (JSON_DELTA_CHAT), or a
 * response.output_text.delta (JSON_DELTA_RESPONSE), pushes the values the
 * assembly reads, without a table: chat: index (0 when absent or null),
 * content, finish_reason, role, system_fingerprint, service_tier, id,
 * created, model (nil for each absent or null); Responses: delta (a
 * string), output_index, content_index. The first is never nil. Returns
 * their count (9 or 3), or 0 with nothing pushed for any other event, valid
 * or not: that one is for json_decode_buffer. Raises only on memory
 * errors. */
enum { JSON_DELTA_CHAT = 1, JSON_DELTA_RESPONSE = 2 };
int json_delta(lua_State *L, const char *s, size_t len, int kind);

/* Pushes the shared metatable {__jsontype = "array"} (JSON_ANCHOR_ARRAY) or
 * {__jsontype = "object"} (JSON_ANCHOR_OBJECT) of this state, made on first
 * use: what the decoder gives [] and {}, and chatgpt.array / object. */
void json_push_marker(lua_State *L, int which);

/* Lua: core.encode(value [, array_keys]) -> json | nil, why
 *      core.decode(string [, "ordered"]) -> value | nil, why
 *      core.array_mt, core.object_mt: the markers */
void json_encode_open(lua_State *L);
void json_decode_open(lua_State *L);

/* The codec's memory in each lua_State, kept by the state's context
 * (context.h) so that a call allocates nothing once it has warmed up. */
typedef struct json_buffer { /* the encoder's output */
  char *p;
  size_t len, cap;
  lua_Alloc alloc; /* the state's allocator: a host's limit applies */
  void *ud;
} json_buffer;

/* The decoder's anchors, a table of the context (CONTEXT_STRINGS): the
 * cached strings at 1..JSON_CACHE_SLOTS, the two markers, then the null-set
 * metatables. */
#define JSON_CACHE_SLOTS 256
#define JSON_NULLSET_SLOTS 64
#define JSON_NULLSET_KEYS 8 /* an object with more null members gets its own */
#define JSON_ANCHOR_ARRAY (JSON_CACHE_SLOTS + 1)
#define JSON_ANCHOR_OBJECT (JSON_CACHE_SLOTS + 2)
#define JSON_ANCHOR_NULLSETS (JSON_CACHE_SLOTS + 3)
#define JSON_ANCHORS (JSON_ANCHOR_NULLSETS + JSON_NULLSET_SLOTS - 1)

typedef struct json_cache {
  /* short strings seen lately */
  const char *p[JSON_CACHE_SLOTS];
  size_t len[JSON_CACHE_SLOTS];
  unsigned char members[JSON_CACHE_SLOTS]; /* of the last object this key began */
  /* null-set metatables, by slot: the names of each (their strings, which
   * that metatable's set keeps alive), and a count of those made */
  const char *nullset[JSON_NULLSET_SLOTS][JSON_NULLSET_KEYS];
  unsigned char nullset_n[JSON_NULLSET_SLOTS];
  unsigned nullset_gen;
} json_cache;

void json_buffer_free(json_buffer *b);

#endif
