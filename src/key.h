/* The API key: bytes in a userdata, never handed back to Lua as a string,
 * wiped with explicit_bzero when collected. */
#ifndef CHATGPT_KEY_H
#define CHATGPT_KEY_H

#include <stddef.h>
#include <lua.h>

#define KEY_TYPE    "chatgpt.key"
#define SECRET_TYPE "chatgpt.secret"

/* The key bytes of the key userdata at idx (raises if it is not one). */
const char *key_bytes(lua_State *L, int idx, size_t *len);

/* The NUL-terminated bytes of the secret userdata at idx (raises if it is
 * not one): a client key's passphrase, held as the key is. */
const char *secret_bytes(lua_State *L, int idx);

/* core.redact(s, key): s with every copy of the key replaced by its hint
 * (origin.c calls it for o:redact). */
int key_redact(lua_State *L);

/* Lua: core.key(s) -> key | nil, why; core.key_env(name),
 *      core.key_file(path), core.key_cmd(argv [, timeout_seconds]),
 *      core.redact(s, key), core.secret(s) -> secret | nil, why (1 to 1023
 *      bytes without NUL: wiped when collected, shown as nothing)
 * key_env, key_file and key_cmd return a key, or nil + a message that never
 * holds the file's content or the command's output. key_file expands a
 * leading "~/" from $HOME and refuses anything but a regular file (without
 * blocking on a FIFO or device) and a file group or others can read.
 * key_cmd runs argv without a shell, stdin /dev/null, with no descriptor
 * but 0, 1, 2; the key is the first line of its stdout, whatever follows.
 * Its timeout is > 0 and <= 3600 seconds, DEFAULT_KEY_CMD_TIMEOUT
 * (defaults.h) when absent: at the deadline the command is killed
 * (SIGKILL) and key_cmd returns nil, "api_key_cmd: <argv[0]> did not
 * finish within N s". */
void key_open(lua_State *L); /* also registers the metatable */

#endif
