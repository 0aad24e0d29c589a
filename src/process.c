/* core.trap_interrupt, core.interrupted, core.umask, core.isatty,
 * core.stat, core.getuid: see process.h. Lua's standard library has no way
 * to catch Ctrl-C, to create a file that only its owner may read, to tell a
 * terminal from a pipe or to ask who owns a file and who may write it; the
 * command line needs them all, and LuaPosix is not on every machine. */
#include "process.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lauxlib.h>

#include "compat.h"

static volatile sig_atomic_t interrupted;
static struct sigaction previous;
static int trapped;

static void on_sigint(int sig) {
  (void)sig;
  interrupted = 1;
}

static int process_trap(lua_State *L) {
  int on = lua_toboolean(L, 1);
  if (on && !trapped) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGINT, &sa, &previous) != 0) return luaL_error(L, "chatgpt: sigaction failed");
    trapped = 1;
  } else if (!on && trapped) {
    sigaction(SIGINT, &previous, NULL);
    trapped = 0;
  }
  return 0;
}

static int process_interrupted(lua_State *L) {
  lua_pushboolean(L, interrupted != 0);
  interrupted = 0;
  return 1;
}

static int process_umask(lua_State *L) {
  lua_Integer m = luaL_checkinteger(L, 1);
  luaL_argcheck(L, m >= 0 && m <= 0777, 1, "a mask from 0 to 0777 expected");
  lua_pushinteger(L, (lua_Integer)umask((mode_t)m));
  return 1;
}

static int process_isatty(lua_State *L) {
  lua_Integer fd = luaL_checkinteger(L, 1);
  luaL_argcheck(L, fd >= 0 && fd <= 1024, 1, "a file descriptor expected");
  lua_pushboolean(L, isatty((int)fd));
  return 1;
}

static int process_stat(lua_State *L) {
  size_t len;
  const char *path = luaL_checklstring(L, 1, &len);
  struct stat st;
  luaL_argcheck(L, strlen(path) == len, 1, "a path without NUL bytes expected");
  if (stat(path, &st) != 0) {
    lua_pushnil(L);
    lua_pushstring(L, strerror(errno));
    return 2;
  }
  lua_createtable(L, 0, 4);
  lua_pushinteger(L, (lua_Integer)(st.st_mode & 07777));
  lua_setfield(L, -2, "mode");
  lua_pushinteger(L, (lua_Integer)st.st_uid);
  lua_setfield(L, -2, "uid");
  lua_pushinteger(L, (lua_Integer)st.st_size);
  lua_setfield(L, -2, "size");
  lua_pushstring(L, S_ISREG(st.st_mode)   ? "file"
                    : S_ISDIR(st.st_mode) ? "directory"
                    : S_ISFIFO(st.st_mode) ? "fifo"
                    : S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) ? "device"
                    : S_ISSOCK(st.st_mode) ? "socket"
                                           : "other");
  lua_setfield(L, -2, "type");
  return 1;
}

static int process_getuid(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)getuid());
  return 1;
}

static const luaL_Reg process_funcs[] = {
  {"stat", process_stat},
  {"getuid", process_getuid},
  {"trap_interrupt", process_trap},
  {"interrupted", process_interrupted},
  {"umask", process_umask},
  {"isatty", process_isatty},
  {NULL, NULL},
};

void process_open(lua_State *L) { luaL_setfuncs(L, process_funcs, 0); }
