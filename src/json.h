/* JSON codec for Lua values, exact for Lua 5.4 integers both ways.
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
 *                                 raise
 *   string                     -> quoted; '"', '\\' and bytes < 0x20 escaped
 *                                 (\n \r \t \b \f, else \u00XX), '/' and
 *                                 U+2028/9 as is; invalid UTF-8 (overlong,
 *                                 surrogate, > U+10FFFF, truncated) raises,
 *                                 naming the path and the 1-based byte
 *   table with keys 1..n only  -> array (metatable fields are read raw;
 *                                 __index and __pairs are not consulted)
 *   empty table                -> [] when the metatable says __jsontype =
 *                                 "array", or when it is the value of a key
 *                                 listed in json_array_keys; else {} (so an
 *                                 empty table at the top or in an array is {})
 *   other tables               -> object; integer keys become "123" strings
 *                                 (logit_bias = {[50256] = -100} works);
 *                                 a metatable __jsontype = "object" forces
 *                                 an object; other key types raise, and so
 *                                 does "array" on a table that is not 1..n
 *   functions, userdata, threads raise, naming the path
 *   nesting deeper than JSON_MAX_DEPTH raises (cycles included)
 *   Errors read "chatgpt: cannot encode: <what> at <path>", e.g.
 *   "... a function at tools[1].handler", except for strings:
 *   "chatgpt: cannot encode: invalid UTF-8 in messages[2].content (byte 5)".
 *   The output buffer is owned by a userdata, so a raise leaks nothing.
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

/* Keys whose empty-table values are sent as [] (messages, tools, stop, ...);
 * NULL-terminated. */
extern const char *const json_array_keys[];

/* Pushes the decoded value and returns 1; on malformed input pushes an error
 * message ("unexpected 'x' at byte 12") and returns 0. Never raises except
 * on memory errors. */
int json_decode_buffer(lua_State *L, const char *s, size_t len);

/* Encodes the value at idx and pushes the JSON text. Raises on values that
 * have no JSON form (see above). Uses a few stack slots, checked. */
void json_encode_value(lua_State *L, int idx);

/* Lua: core.encode(value) -> string (raises);
 *      core.decode(string) -> value | nil, message */
int json_encode(lua_State *L);
int json_decode(lua_State *L);

#endif
