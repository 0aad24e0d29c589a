/* The API key: bytes in a userdata, never handed back to Lua as a string,
 * wiped with explicit_bzero when collected. */
#ifndef CHATGPT_KEY_H
#define CHATGPT_KEY_H

#include <stddef.h>
#include <lua.h>

#define KEY_TYPE "chatgpt.key"

/* The key bytes of the key userdata at idx (raises if it is not one). */
const char *key_bytes(lua_State *L, int idx, size_t *len);

/* Lua: core.key(s), core.key_env(name), core.key_file(path),
 *      core.key_cmd(argv), core.redact(s, key) */
int key_new(lua_State *L);
int key_env(lua_State *L);
int key_file(lua_State *L);
int key_cmd(lua_State *L);
int key_redact(lua_State *L);
void key_open(lua_State *L);   /* registers the metatable */

#endif
