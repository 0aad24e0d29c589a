/* core.tty_raw, tty_restore, tty_size, tty_read: see terminal.h. Lua's io
 * library reads lines through stdio and cannot change a terminal's mode,
 * wait a bounded time for a key, or ask for the window's width; a line
 * editor needs all four. */
#include "terminal.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <lauxlib.h>

#include "compat.h"

static struct termios kept;
static int kept_fd = -1;

static int checkfd(lua_State *L, int arg) {
  lua_Integer fd = luaL_checkinteger(L, arg);
  luaL_argcheck(L, fd >= 0 && fd <= 1024, arg, "a file descriptor expected");
  return (int)fd;
}

static int terminal_raw(lua_State *L) {
  int fd = checkfd(L, 1);
  struct termios t;
  if (tcgetattr(fd, &t) != 0) {
    lua_pushnil(L);
    lua_pushstring(L, strerror(errno));
    return 2;
  }
  if (kept_fd < 0) {
    kept = t;
    kept_fd = fd;
  }
  t.c_iflag &= ~(tcflag_t)(BRKINT | ICRNL | INPCK | ISTRIP | IXON);
  t.c_lflag &= ~(tcflag_t)(ECHO | ICANON | IEXTEN | ISIG);
  if (lua_toboolean(L, 2)) t.c_lflag |= ISIG;
  t.c_cflag |= CS8;
  t.c_cc[VMIN] = 1;
  t.c_cc[VTIME] = 0;
  if (tcsetattr(fd, TCSADRAIN, &t) != 0) {
    lua_pushnil(L);
    lua_pushstring(L, strerror(errno));
    return 2;
  }
  lua_pushboolean(L, 1);
  return 1;
}

static int terminal_restore(lua_State *L) {
  if (kept_fd >= 0) {
    while (tcsetattr(kept_fd, TCSADRAIN, &kept) != 0 && errno == EINTR) {
    }
    kept_fd = -1;
  }
  lua_pushboolean(L, 1);
  return 1;
}

static int terminal_size(lua_State *L) {
  int fd = checkfd(L, 1);
  struct winsize w;
  if (ioctl(fd, TIOCGWINSZ, &w) != 0 || w.ws_col == 0) {
    lua_pushnil(L);
    return 1;
  }
  lua_pushinteger(L, w.ws_col);
  lua_pushinteger(L, w.ws_row);
  return 2;
}

static int terminal_read(lua_State *L) {
  int fd = checkfd(L, 1);
  lua_Integer ms = luaL_optinteger(L, 2, -1);
  char buf[4096];
  struct pollfd p;
  ssize_t n;
  int r;
  p.fd = fd;
  p.events = POLLIN;
  p.revents = 0;
  r = poll(&p, 1, ms < 0 ? -1 : ms > 86400000 ? 86400000 : (int)ms);
  if (r == 0 || (r < 0 && errno == EINTR)) {
    lua_pushliteral(L, "");
    return 1;
  }
  if (r < 0) {
    lua_pushnil(L);
    return 1;
  }
  n = read(fd, buf, sizeof buf);
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
    lua_pushliteral(L, "");
    return 1;
  }
  if (n <= 0) {
    lua_pushnil(L);
    return 1;
  }
  lua_pushlstring(L, buf, (size_t)n);
  return 1;
}

static const luaL_Reg terminal_funcs[] = {
  {"tty_raw", terminal_raw},
  {"tty_restore", terminal_restore},
  {"tty_size", terminal_size},
  {"tty_read", terminal_read},
  {NULL, NULL},
};

void terminal_open(lua_State *L) { luaL_setfuncs(L, terminal_funcs, 0); }
