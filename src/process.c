/* core.trap_interrupt, core.interrupted, core.umask, core.isatty: see
 * process.h. Lua's standard library has no way to catch Ctrl-C, to create a
 * file that only its owner may read or to tell a terminal from a pipe; the
 * command line needs all three, and LuaPosix is not on every machine. */
#include "process.h"

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

static const luaL_Reg process_funcs[] = {
  {"trap_interrupt", process_trap},
  {"interrupted", process_interrupted},
  {"umask", process_umask},
  {"isatty", process_isatty},
  {NULL, NULL},
};

void process_open(lua_State *L) { luaL_setfuncs(L, process_funcs, 0); }
