/* The terminal, for the command's line editor (lua/chatgpt/line_editor.lua):
 * raw input, its size, and reads that wait a bounded time. Like process.h,
 * only the `chatgpt` command calls these: a library never takes a host's
 * terminal. */
#ifndef CHATGPT_TERMINAL_H
#define CHATGPT_TERMINAL_H

#include <lua.h>

/* Lua: core.tty_raw(fd [, signals]) -> true | nil, why: keys arrive one
 *        by one, unechoed, Ctrl-C and Ctrl-D as bytes (no ICANON, ECHO,
 *        ISIG, IEXTEN, IXON, ICRNL); with signals, Ctrl-C is still SIGINT.
 *        Output processing stays on. The first mode it replaced is kept
 *        for tty_restore (one at a time, process-wide).
 *      core.tty_restore() -> true once the kept mode is back (or none was
 *        kept)
 *      core.tty_size(fd) -> columns, rows | nil
 *      core.tty_read(fd, ms) -> up to 4096 bytes; "" when nothing came
 *        within ms milliseconds (ms < 0: wait) or a signal ended the
 *        wait; nil at the end of the input or on an error */
void terminal_open(lua_State *L);

#endif
