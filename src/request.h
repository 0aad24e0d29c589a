/* Request building: messages with role validation. */
#ifndef CHATGPT_REQUEST_H
#define CHATGPT_REQUEST_H

#include <lua.h>

/* Lua: core.message(role, content [, fields]) -> message table
 *      core.check_messages(list) -> true | nil, "bad message #i (...)" */
int request_message(lua_State *L);
int request_check_messages(lua_State *L);

#endif
