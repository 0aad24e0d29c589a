/* Multipart bodies: a Lua list of parts built into a curl_mime. The Lua
 * layer (lua/chatgpt/form.lua) makes the list from chatgpt.form{...}; here
 * it only becomes libcurl's MIME parts, so that curl streams files from
 * disk and sends the whole body again on a retry. */
#ifndef CHATGPT_FORM_H
#define CHATGPT_FORM_H

#include <curl/curl.h>
#include <lua.h>

/* Why a transfer's file part failed while curl read it (it then aborts
 * the transfer): failed is set, msg says which file and why. */
typedef struct form_status {
  int failed;
  char msg[256];
} form_status;

/* Adds the parts of the list at idx to mime: each part a table {name,
 * data = bytes} or {name, file = path}, with optional filename and type
 * (a MIME type). A file's basename is its filename unless one is given.
 * Raises on a malformed list (a bug of the Lua layer: a name, filename or
 * type with CR, LF or NUL included) or out of memory; whatever was added
 * stays in mime, which the caller owns.
 * A file is opened here without blocking and read by curl as it sends it:
 * one that is not a regular file (a FIFO, a device, a directory), cannot
 * be opened or read, or changes size while it is sent makes curl abort,
 * with status->failed set. */
void form_build(lua_State *L, int idx, curl_mime *mime, form_status *status);

/* Lua: core.form_file(path) -> size | nil, why: whether a file part can be
 * sent (a regular file that can be opened), checked without blocking. */
void form_open(lua_State *L);

#endif
