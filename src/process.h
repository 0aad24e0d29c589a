/* Process-wide settings that only the `chatgpt` command asks for (the
 * module itself never calls them: a library must not take over a host's
 * signals or file modes). */
#ifndef CHATGPT_PROCESS_H
#define CHATGPT_PROCESS_H

#include <lua.h>

/* Lua: core.trap_interrupt(on) installs (true) a SIGINT handler that only
 *        sets a flag, or puts back the handler it replaced (false). Without
 *        SA_RESTART: a blocking poll or read returns at once.
 *      core.interrupted() -> true once a SIGINT came since the last call
 *        (and clears it)
 *      core.umask(mask) -> the previous mask (mask: an integer 0 to 0777)
 *      core.isatty(fd) -> whether the descriptor is a terminal
 *      core.stat(path) -> {mode (permission bits), uid, size, type = "file"
 *        | "directory" | "fifo" | "device" | "socket" | "other"} | nil, why
 *        (links followed)
 *      core.getuid() -> the real user id */
void process_open(lua_State *L);

#endif
