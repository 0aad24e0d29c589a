/* Multipart bodies: a Lua list of parts built into a curl_mime. The Lua
 * layer (lua/chatgpt/form.lua) makes the list from chatgpt.form{...}; here
 * it only becomes libcurl's MIME parts, so that curl streams files from
 * disk (curl_mime_filedata) and sends the whole body again on a retry. */
#ifndef CHATGPT_FORM_H
#define CHATGPT_FORM_H

#include <curl/curl.h>
#include <lua.h>

/* Adds the parts of the list at idx to mime: each part a table {name,
 * data = bytes} or {name, file = path}, with optional filename and type
 * (a MIME type). A file's basename is its filename unless one is given.
 * Raises on a malformed list (a bug of the Lua layer) or out of memory;
 * whatever was added stays in mime, which the caller owns. A file that
 * cannot be read is not an error here: curl fails the transfer with
 * READ_ERROR when it reads it. */
void form_build(lua_State *L, int idx, curl_mime *mime);

#endif
