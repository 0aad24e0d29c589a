/* Response header lines -> a Lua table. Plain parsing, apart from the
 * engine so that it can be fuzzed on its own (spec/fuzz/headers_fuzz.c). */
#ifndef CHATGPT_HEADERS_H
#define CHATGPT_HEADERS_H

#include <stddef.h>
#include <lua.h>

/* Pushes {lower-case name = value} for the header lines in p[0..len) (LF or
 * CRLF ends a line; p may be NULL when len is 0). Lines without a colon
 * (the status line, junk) are skipped, and so are names that are empty or
 * of 128 bytes or more. Values lose leading blanks and trailing blanks and
 * CRs; repeated names are joined with ", ". Raises only on memory errors. */
void headers_push(lua_State *L, const char *p, size_t len);

/* Lua: core.headers(block) -> the same table for a header block string. */
void headers_open(lua_State *L);

#endif
