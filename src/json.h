/* JSON codec for Lua values, exact for Lua 5.4 integers both ways:
 * json_encode.c writes, json_decode.c reads.
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
 *                                 tables only
 *   other tables               -> object; integer keys become "123" strings
 *                                 (logit_bias = {[50256] = -100} works);
 *                                 a metatable __jsontype = "object" forces
 *                                 an object; other key types are refused, and
 *                                 so is "array" on a table that is not 1..n
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
 *   every other number -> float (locale independent); object members whose
 *   value is null are left out (so they read as nil); null inside an array,
 *   and a top-level null, is the null sentinel; \u escapes, surrogate pairs
 *   included, become UTF-8 (a lone surrogate becomes U+FFFD); raw bytes are
 *   not checked for UTF-8, raw control characters are refused; duplicate
 *   keys: the last wins; whitespace around the value is allowed, anything
 *   else after it is an error. Messages name a 1-based byte offset:
 *   "unexpected 'x' at byte 12", "unexpected end of input at byte 7",
 *   "unterminated string at byte 3" (its opening quote), "invalid number at
 *   byte 5", "trailing garbage at byte 40", "nested too deeply at byte
 *   1001", "empty input".
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
 * message ("unexpected 'x' at byte 12") and returns 0. Never raises except
 * on memory errors. */
int json_decode_buffer(lua_State *L, const char *s, size_t len);

/* Lua: core.encode(value [, array_keys]) -> json | nil, why
 *      core.decode(string) -> value | nil, why */
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

#define JSON_CACHE_SLOTS 256
typedef struct json_cache { /* the decoder's short strings seen lately */
  const char *p[JSON_CACHE_SLOTS];
  size_t len[JSON_CACHE_SLOTS];
  unsigned char members[JSON_CACHE_SLOTS]; /* of the last object this key began */
} json_cache;

void json_buffer_free(json_buffer *b);

#endif
