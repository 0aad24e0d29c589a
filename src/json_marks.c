/* The marks a decoded table carries in its metatable: see json_marks.h. */
#include <stdint.h>

#include <lua.h>
#include <lauxlib.h>

#include "compat.h"
#include "context.h"
#include "json_marks.h"

void json_push_marker(lua_State *L, int which) {
  context_push(L, CONTEXT_STRINGS);
  if (lua_rawgeti(L, -1, which) != LUA_TTABLE) {
    lua_pop(L, 1);
    lua_createtable(L, 0, 1);
    lua_pushstring(L, which == JSON_ANCHOR_ARRAY ? "array" : "object");
    lua_setfield(L, -2, "__jsontype");
    lua_pushvalue(L, -1);
    lua_rawseti(L, -3, which);
  }
  lua_remove(L, -2);
}

void json_set_marker(json_reader *d, int which) {
  lua_State *L = d->L;
  if (lua_rawgeti(L, d->sc_idx, which) != LUA_TTABLE) {
    lua_pop(L, 1);
    json_push_marker(L, which);
  }
  lua_setmetatable(L, -2);
}

/* Pushes the name whose opening quote is at q again (it was read once, so
 * it reads again; only a memory error can stop it). */
static void push_name(json_reader *d, const char *q) {
  const char *p = d->p;
  int slot = d->slot;
  d->p = q;
  (void)json_read_string(d);
  d->p = p;
  d->slot = slot;
}

void json_add_null(json_reader *d, int t, json_nullnames *nn, const char *q, int slot) {
  lua_State *L = d->L;
  int i, n = nn->count;
  if (n >= 0 && n < JSON_NULLSET_KEYS) {
    if (n == 0) nn->gen = d->sc->nullset_gen;
    nn->at[n] = q;
    nn->str[n] = slot >= 0 ? d->sc->p[slot] : NULL;
    nn->count = n + 1;
    return;
  }
  if (n >= 0) { /* one too many: the set, at t + 1 (the stack holds just t) */
    lua_createtable(L, 0, 2 * JSON_NULLSET_KEYS);
    for (i = 0; i < n; i++) {
      push_name(d, nn->at[i]);
      lua_pushboolean(L, 1);
      lua_rawset(L, t + 1);
    }
    nn->count = -1;
  }
  push_name(d, q);
  lua_pushboolean(L, 1);
  lua_rawset(L, t + 1);
}

/* Gives the object's table at t the metatable {__jsontype = "object",
 * __jsonnull = set of its null members' names}. For up to
 * JSON_NULLSET_KEYS cached names the metatable is shared by every object
 * with the same names in the same order, kept in the anchors by a hash of
 * the names' strings, so that objects of a shape seen before (a stream's
 * chunks, with their "logprobs": null) cost no allocation. The strings are
 * compared by address: a cached entry's strings live as long as it does,
 * and each name's string was alive when it was read, so one address is
 * one string, unless an entry was made since (nullset_gen): then the
 * object gets a new one. Leaves the stack at t. */
void json_set_nulls(json_reader *d, int t, const json_nullnames *nn) {
  lua_State *L = d->L;
  json_cache *sc = d->sc;
  int i, n = nn->count, slot = -1;
  if (n > 0) {
    uint32_t h = (uint32_t)n;
    for (i = 0; i < n && nn->str[i] != NULL; i++)
      h = (h ^ (uint32_t)((uintptr_t)nn->str[i] >> 4)) * 0x9E3779B1u;
    if (i == n) {
      slot = (int)((h ^ (h >> 16)) % JSON_NULLSET_SLOTS);
      if (sc->nullset_n[slot] == n && nn->gen == sc->nullset_gen) {
        for (i = 0; i < n && sc->nullset[slot][i] == nn->str[i]; i++)
          ;
        if (i == n) {
          lua_rawgeti(L, d->sc_idx, JSON_ANCHOR_NULLSETS + slot);
          lua_setmetatable(L, t);
          return;
        }
      }
    }
    lua_createtable(L, 0, n); /* the set, at t + 1 */
    for (i = 0; i < n; i++) {
      push_name(d, nn->at[i]);
      if (slot >= 0) sc->nullset[slot][i] = lua_tostring(L, -1); /* the set keeps it */
      lua_pushboolean(L, 1);
      lua_rawset(L, t + 1);
    }
  }
  lua_createtable(L, 0, 2);
  lua_pushliteral(L, "object");
  lua_setfield(L, -2, "__jsontype");
  lua_pushvalue(L, t + 1);
  lua_setfield(L, -2, "__jsonnull");
  if (slot >= 0) {
    lua_pushvalue(L, -1);
    lua_rawseti(L, d->sc_idx, JSON_ANCHOR_NULLSETS + slot);
    sc->nullset_n[slot] = (unsigned char)n;
    sc->nullset_gen++;
  }
  lua_setmetatable(L, t);
  lua_settop(L, t);
}

/* Ordered mode: the member names, in order, are in the list at t + 1. The
 * table gets a metatable of its own: {__jsontype = "object", __jsonorder =
 * list, __jsonnull = the names whose value is nil}. Leaves the stack at t. */
void json_set_order(json_reader *d, int t, int n) {
  lua_State *L = d->L;
  int i, set = 0;
  lua_createtable(L, 0, 3); /* the metatable, at t + 2 */
  for (i = 1; i <= n; i++) {
    lua_rawgeti(L, t + 1, i);
    lua_pushvalue(L, -1);
    if (lua_rawget(L, t) == LUA_TNIL) { /* null: the last of its duplicates too */
      lua_pop(L, 1);
      if (!set) {
        lua_createtable(L, 0, 1);
        lua_insert(L, -2);
        set = lua_gettop(L) - 1;
      }
      lua_pushboolean(L, 1);
      lua_rawset(L, set);
    } else
      lua_pop(L, 2);
  }
  if (set) lua_setfield(L, t + 2, "__jsonnull");
  lua_pushliteral(L, "object");
  lua_setfield(L, t + 2, "__jsontype");
  lua_pushvalue(L, t + 1);
  lua_setfield(L, t + 2, "__jsonorder");
  lua_setmetatable(L, t);
  lua_settop(L, t);
}
