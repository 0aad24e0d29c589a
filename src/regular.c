/* Non-blocking opens of regular files: see regular.h. */
#include "regular.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

int regular_open(const char *path, struct stat *st) {
  int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) return -1;
  if (fstat(fd, st) != 0) {
    int e = errno;
    close(fd);
    errno = e;
    return -1;
  }
  if (!S_ISREG(st->st_mode)) {
    close(fd);
    return -2;
  }
  return fd;
}

const char *regular_kind(const struct stat *st) {
  if (S_ISDIR(st->st_mode)) return "a directory";
  if (S_ISFIFO(st->st_mode)) return "a FIFO";
  if (S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode)) return "a device";
  if (S_ISSOCK(st->st_mode)) return "a socket";
  return "not a regular file";
}
