/* Base64 for the Lua layer: images (b64_json, megabytes) and embeddings
 * come base64-encoded, images and PDFs go out in data: URLs, and Lua 5.1
 * has no bit operators to do either with. */
#ifndef CHATGPT_BASE64_H
#define CHATGPT_BASE64_H

#include <lua.h>

/* Lua: core.base64(bytes) -> the standard alphabet, padded, no line breaks
 *      core.unbase64(s) -> bytes | nil, why
 * The standard alphabet (RFC 4648 section 4) or the URL-safe one (section
 * 5); padding optional; white space (line breaks) skipped; anything else,
 * or a lone trailing character, is refused. */
void base64_open(lua_State *L);

#endif
