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
 *   float                      -> shortest text that reads back to the same
 *                                 double; NaN and +-inf raise
 *   string                     -> quoted and escaped; invalid UTF-8 raises,
 *                                 naming the path ("messages[2].content")
 *   table with keys 1..n only  -> array
 *   empty table                -> [] when the metatable says __jsontype =
 *                                 "array", or when it is the value of a key
 *                                 listed in json_array_keys; else {}
 *   other tables               -> object; integer keys become "123" strings
 *                                 (logit_bias = {[50256] = -100} works);
 *                                 a metatable __jsontype = "object" forces
 *                                 an object; other key types raise
 *   functions, userdata, threads raise, naming the path
 *   nesting deeper than JSON_MAX_DEPTH raises (cycles included)
 *
 * Decoding rules
 *   a number without fraction or exponent that fits int64 -> Lua integer,
 *   every other number -> float (locale independent); object members whose
 *   value is null are left out (so they read as nil); null inside an array,
 *   and a top-level null, is the null sentinel; \u escapes, surrogate pairs
 *   included, become UTF-8 (a lone surrogate becomes U+FFFD); whitespace
 *   around the value is allowed, anything else after it is an error.
 */
#ifndef CHATGPT_JSON_H
#define CHATGPT_JSON_H

#include <stddef.h>
#include <lua.h>

#define JSON_MAX_DEPTH 1000

/* Keys whose empty-table values are sent as [] (messages, tools, stop, ...). */
extern const char *const json_array_keys[];

/* Pushes the decoded value and returns 1; on malformed input pushes an error
 * message ("unexpected 'x' at byte 12") and returns 0. Never raises except
 * on memory errors. */
int json_decode_buffer(lua_State *L, const char *s, size_t len);

/* Encodes the value at idx and pushes the JSON text. Raises on values that
 * have no JSON form (see above). */
void json_encode_value(lua_State *L, int idx);

/* Lua: core.encode(value) -> string (raises);
 *      core.decode(string) -> value | nil, message */
int json_encode(lua_State *L);
int json_decode(lua_State *L);

#endif
