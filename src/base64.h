/* Base64 decoding for the Lua layer: images (b64_json, megabytes) and
 * embeddings come base64-encoded, and Lua 5.1 has no bit operators to
 * decode them with. */
#ifndef CHATGPT_BASE64_H
#define CHATGPT_BASE64_H

#include <lua.h>

/* Lua: core.unbase64(s) -> bytes | nil, why
 * The standard alphabet (RFC 4648 section 4) or the URL-safe one (section
 * 5); padding optional; white space (line breaks) skipped; anything else,
 * or a lone trailing character, is refused. */
void base64_open(lua_State *L);

#endif
