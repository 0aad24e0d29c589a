/* Where in the encoded value a failure is, for the encoder's error
 * messages (json_encode.c). Private to the codec: json.h is its interface. */
#ifndef CHATGPT_JSON_PATH_H
#define CHATGPT_JSON_PATH_H

#include <lua.h>

/* One step of the path from the encoded root to the current value, kept in
 * the C frames of the recursion (no allocation): an array index / integer
 * key, or the stack slot of a string key. */
typedef struct jpath {
  const struct jpath *up;
  lua_Integer index;
  int key; /* stack index of a string key, or 0 */
} jpath;

/* Pushes "messages[2].content" for the path ending at p; "(top level)" for
 * the root. Very deep paths (cycles) keep their first and last steps. */
void json_push_path(lua_State *L, const jpath *p);

#endif
