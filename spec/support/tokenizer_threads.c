/* A small C host for spec/tokenizer_spec.lua: four threads, each opening
 * and closing Lua states one after another, each state loading the
 * tokenizers and encoding with them, so that the process-wide
 * vocabularies (src/vocab.c) are loaded, shared and freed by threads that
 * race each other.
 *   tokenizer_threads LUA_PATH LUA_CPATH
 * Prints one line per thread, its token total, and exits 0 when every
 * state of every thread counted the same. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "compat.h" /* LUA_OK on 5.1 */

#define THREADS 4
#define STATES  6

static const char *lpath, *cpath;

static const char script[] =
  "local chatgpt = require 'chatgpt'\n"
  "local text = ('Hello, world! 12345 \\228\\184\\150\\231\\149\\140 it\\'s   x\\n'):rep(300)\n"
  "local n = 0\n"
  "for _, enc in ipairs { 'o200k_base', 'cl100k_base', 'o200k_harmony' } do\n"
  "  local tok = assert(chatgpt.tokenizer(enc))\n"
  "  local ids = tok:encode(text)\n"
  "  assert(tok:decode(ids) == text and tok:count(text) == #ids)\n"
  "  n = n + #ids\n"
  "end\n"
  "return n\n";

static long totals[THREADS][STATES];
static char errors[THREADS][200];

static void *run(void *arg) {
  int t = (int)(size_t)arg, s;
  for (s = 0; s < STATES; s++) {
    lua_State *L = luaL_newstate();
    luaL_openlibs(L);
    lua_getglobal(L, "package");
    lua_pushstring(L, lpath);
    lua_setfield(L, -2, "path");
    lua_pushstring(L, cpath);
    lua_setfield(L, -2, "cpath");
    lua_pop(L, 1);
    if (luaL_loadbuffer(L, script, sizeof script - 1, "=tokenizer_threads") != LUA_OK ||
        lua_pcall(L, 0, 1, 0) != LUA_OK) {
      snprintf(errors[t], sizeof errors[t], "FAILED %s", lua_tostring(L, -1));
      lua_close(L);
      return NULL;
    }
    totals[t][s] = (long)lua_tointeger(L, -1);
    lua_close(L); /* the last state of the process to close frees the vocabularies */
  }
  return NULL;
}

int main(int argc, char **argv) {
  pthread_t th[THREADS];
  int t, s, same = 1;
  if (argc != 3) {
    fprintf(stderr, "usage: tokenizer_threads LUA_PATH LUA_CPATH\n");
    return 2;
  }
  lpath = argv[1], cpath = argv[2];
  for (t = 0; t < THREADS; t++) pthread_create(&th[t], NULL, run, (void *)(size_t)t);
  for (t = 0; t < THREADS; t++) pthread_join(th[t], NULL);
  for (t = 0; t < THREADS; t++) {
    if (errors[t][0]) {
      printf("thread %d: %s\n", t, errors[t]);
      same = 0;
      continue;
    }
    for (s = 0; s < STATES; s++) same &= totals[t][s] == totals[0][0];
    printf("thread %d: %ld tokens\n", t, totals[t][0]);
  }
  return same ? 0 : 1;
}
