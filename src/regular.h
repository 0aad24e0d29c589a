/* Opening a local file the module reads itself (a key file, a multipart
 * file part) without ever blocking: open(2) with O_NONBLOCK, so that a FIFO
 * without a writer or a device returns at once, then fstat(2) before any
 * read, refusing anything but a regular file. Plain C, no Lua. */
#ifndef CHATGPT_REGULAR_H
#define CHATGPT_REGULAR_H

#include <sys/stat.h>

/* A read-only descriptor of path (O_NOCTTY, O_CLOEXEC), *st its fstat;
 * -1 with errno set when it cannot be opened; -2 when it is not a regular
 * file (closed again; *st says what it is). */
int regular_open(const char *path, struct stat *st);

/* What a file that is not regular is: "a directory", "a FIFO", "a device",
 * "a socket" or "not a regular file". */
const char *regular_kind(const struct stat *st);

#endif
