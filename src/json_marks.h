/* The marks a decoded table carries in its metatable (json_marks.c): its
 * kind ([] or {}: __jsontype), its null members (__jsonnull) and, in
 * ordered mode, its members' order (__jsonorder). Private to the codec:
 * json.h is its interface. */
#ifndef CHATGPT_JSON_MARKS_H
#define CHATGPT_JSON_MARKS_H

#include "json.h"
#include "json_reader.h"

/* The names of an object's null members, as the object is read: where
 * each is in the input (its opening quote) and, when the string cache
 * holds it, its string. Past JSON_NULLSET_KEYS of them the names go into a
 * set table at t + 1 instead (count = -1). */
typedef struct json_nullnames {
  int count;
  unsigned gen; /* json_cache's nullset_gen at the first */
  const char *at[JSON_NULLSET_KEYS];
  const char *str[JSON_NULLSET_KEYS];
} json_nullnames;

/* Gives the table on top the marker JSON_ANCHOR_ARRAY or _OBJECT. */
void json_set_marker(json_reader *r, int which);

/* A null member of the object whose table is at t, named by the string
 * whose quote is at q and whose cache slot was `slot` (-1: not cached). nn
 * starts with count = 0; the stack holds just t while the object is read. */
void json_add_null(json_reader *r, int t, json_nullnames *nn, const char *q, int slot);

/* Once the object at t is read: its metatable, with __jsonnull from nn.
 * Leaves the stack at t. */
void json_set_nulls(json_reader *r, int t, const json_nullnames *nn);

/* Ordered mode: the member names, in order, are in the list at t + 1
 * (n of them); gives t its own metatable. Leaves the stack at t. */
void json_set_order(json_reader *r, int t, int n);

#endif
