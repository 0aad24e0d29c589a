/* chatgpt.core: the module table. Each file adds its own functions (a
 * static luaL_Reg) and metatables in its <name>_open, as LuaSocket's
 * luasocket.c lists its modules; here is only that list, and the fields
 * that belong to no file: the JSON null, the version and the defaults.
 * Users never require this module (they use `chatgpt`). */
#include <dlfcn.h>

#include <lua.h>
#include <lauxlib.h>

#include "compat.h"

#include "base64.h"
#include "curl_errors.h"
#include "defaults.h"
#include "endpoint.h"
#include "engine.h"
#include "form.h"
#include "headers.h"
#include "json.h"
#include "key.h"
#include "message.h"
#include "origin.h"
#include "process.h"
#include "protect.h"
#include "terminal.h"
#include "tokenizer.h"
#include "transfer.h"

/* clang-format off */
static void (*const opens[])(lua_State *L) = {
  engine_open,          /* first: libcurl's global setup */
  key_open,
  origin_open,
  endpoint_open,
  transfer_open,
  form_open,
  curl_errors_open,
  message_open,
  json_encode_open,
  json_decode_open,
  headers_open,
  protect_open,
  base64_open,
  tokenizer_open,
  process_open,         /* for the command line only */
  terminal_open,        /* the same */
  NULL,
};
/* clang-format on */

/* core.defaults: defaults.h's values under the names of the client's
 * options. */
static void push_defaults(lua_State *L) {
  lua_createtable(L, 0, 12);
  lua_pushinteger(L, DEFAULT_TIMEOUT);
  lua_setfield(L, -2, "timeout");
  lua_pushinteger(L, DEFAULT_CONNECT_TIMEOUT);
  lua_setfield(L, -2, "connect_timeout");
  lua_pushinteger(L, DEFAULT_IDLE_TIMEOUT);
  lua_setfield(L, -2, "idle_timeout");
  lua_pushinteger(L, DEFAULT_FIRST_BYTE_TIMEOUT);
  lua_setfield(L, -2, "first_byte_timeout");
  lua_pushinteger(L, DEFAULT_MAX_RETRIES);
  lua_setfield(L, -2, "max_retries");
  lua_pushinteger(L, DEFAULT_MAX_RESPONSE_BYTES);
  lua_setfield(L, -2, "max_response_bytes");
  lua_pushinteger(L, DEFAULT_MAX_EVENT_BYTES);
  lua_setfield(L, -2, "max_event_bytes");
  lua_pushinteger(L, DEFAULT_MAX_STREAM_BYTES);
  lua_setfield(L, -2, "max_stream_bytes");
  lua_pushinteger(L, DEFAULT_MAX_HEADER_BYTES);
  lua_setfield(L, -2, "max_header_bytes");
  lua_pushinteger(L, DEFAULT_MAX_HOST_CONNECTIONS);
  lua_setfield(L, -2, "max_host_connections");
  lua_pushinteger(L, DEFAULT_MAX_TOTAL_CONNECTIONS);
  lua_setfield(L, -2, "max_total_connections");
  lua_pushinteger(L, DEFAULT_KEY_CMD_TIMEOUT);
  lua_setfield(L, -2, "key_cmd_timeout");
  lua_pushliteral(L, DEFAULT_USER_AGENT);
  lua_setfield(L, -2, "user_agent");
}

__attribute__((visibility("default"))) int luaopen_chatgpt_core(lua_State *L);

/* The module is never unloaded: lua_close would dlclose it while libcurl
 * (initialised once per process) may still own threads and handles, and
 * leak reports need its symbols. RTLD_NODELETE pins it. */
static void pin(void) {
  Dl_info info;
  if (dladdr((void *)(size_t)pin, &info) && info.dli_fname)
    dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);
}

int luaopen_chatgpt_core(lua_State *L) {
  int i;
  pin();
  lua_createtable(L, 0, 32);
  for (i = 0; opens[i] != NULL; i++) opens[i](L);
  lua_pushlightuserdata(L, NULL); /* JSON null, == cjson.null */
  lua_setfield(L, -2, "null");
  lua_pushliteral(L, CHATGPT_VERSION);
  lua_setfield(L, -2, "_VERSION");
  push_defaults(L);
  lua_setfield(L, -2, "defaults");
  return 1;
}
