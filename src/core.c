/* chatgpt.core: the module table. It registers the functions of the other
 * files and nothing else; users never require it (they use `chatgpt`). */
#include <dlfcn.h>

#include <lua.h>
#include <lauxlib.h>

#include "engine.h"
#include "headers.h"
#include "json.h"
#include "key.h"
#include "origin.h"
#include "protect.h"
#include "request.h"
#include "spec.h"

#define CORE_VERSION "0.1.0"

static const luaL_Reg core_funcs[] = {
  {"key", key_new},
  {"key_env", key_env},
  {"key_file", key_file},
  {"key_cmd", key_cmd},
  {"redact", key_redact},
  {"message", request_message},
  {"check_messages", request_check_messages},
  {"encode", json_encode},
  {"decode", json_decode},
  {"headers", headers_parse},
  {"origin", origin_new},
  {"origin_of", origin_of},
  {"spec", spec_new},
  {"request", engine_request},
  {"poll", engine_poll},
  {"running", engine_running},
  {"configure", engine_configure},
  {"now", engine_now},
  {"protect", protect_call},
  {"curl_version", engine_curl_version},
  {NULL, NULL}
};

__attribute__((visibility("default")))
int luaopen_chatgpt_core(lua_State *L);

/* The module is never unloaded: lua_close would dlclose it while libcurl
 * (initialised once per process) may still own threads and handles, and
 * leak reports need its symbols. RTLD_NODELETE pins it. */
static void pin(void) {
  Dl_info info;
  if (dladdr((void *)(size_t)pin, &info) && info.dli_fname)
    dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);
}

int luaopen_chatgpt_core(lua_State *L) {
  pin();
  key_open(L);
  engine_open(L);
  origin_open(L);
  spec_open(L);
  luaL_newlib(L, core_funcs);
  lua_pushliteral(L, CORE_VERSION);
  lua_setfield(L, -2, "_VERSION");
  lua_pushlightuserdata(L, NULL);          /* JSON null, == cjson.null */
  lua_setfield(L, -2, "null");
  return 1;
}
