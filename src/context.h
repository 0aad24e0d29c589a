/* One context per lua_State (luv's luv_context): a userdata in the registry,
 * made on first use, that holds what the C core keeps per state - the
 * engine, and the JSON codec's buffer and string cache - and whose __gc
 * tears it all down at lua_close. */
#ifndef CHATGPT_CONTEXT_H
#define CHATGPT_CONTEXT_H

#include <lua.h>

#include "engine.h"
#include "json.h"

typedef struct context {
  engine engine;       /* engine.c's */
  json_buffer encoder; /* json_encode.c's output buffer */
  json_cache decoder;  /* json_decode.c's string cache */
  /* Set by engine.c once it has set the engine up: called at __gc. A
   * pointer, so that the JSON codec links (and is fuzzed) without libcurl. */
  void (*close_engine)(engine *e);
  int closed; /* __gc has run: lua_close is under way */
} context;

/* The tables the context's user value holds. */
enum {
  CONTEXT_REFS = 1,   /* running transfer (light userdata) -> its userdata, weak values */
  CONTEXT_STRINGS = 2 /* the JSON decoder's anchors: json.h, JSON_ANCHORS */
};

/* This state's context; pushes nothing. */
context *context_get(lua_State *L);
/* The same, and pushes one of its tables (CONTEXT_*). */
context *context_push(lua_State *L, int which);
/* The same, and pushes the context itself and its CONTEXT_REFS table: the
 * upvalues of the engine's functions, which run every turn (a registry
 * lookup costs each call hundreds of instructions on 5.1 and LuaJIT). */
context *context_push_upvalues(lua_State *L);

#endif
