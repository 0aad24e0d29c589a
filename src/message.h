/* Messages: role and content are checked here, before anything is encoded
 * or sent, so that a typo is a Lua error at the call site rather than a 400
 * from the server a round trip later. */
#ifndef CHATGPT_MESSAGE_H
#define CHATGPT_MESSAGE_H

#include <lua.h>

/* Lua: core.message(role, content [, fields]) -> message | nil, why, n
 *        (n: the argument at fault, 1 the role, 2 the content, 3 fields)
 *      core.check_messages(list) -> true | nil, "bad message #i (...)" */
void message_open(lua_State *L);

#endif
