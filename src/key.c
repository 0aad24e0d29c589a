/* The API key. Its bytes live inside a full userdata: Lua never gets them
 * back as a string, so they cannot end up in a log, an error or a dump; the
 * only way out is the Authorization header built by endpoint.c. The memory is
 * wiped when the userdata is collected. Keys read from the environment, a
 * file or a command go straight from C into the userdata. */
#include "key.h"
#include "compat.h"
#include "defaults.h"
#include "regular.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <lauxlib.h>

extern char **environ;

typedef struct key {
  size_t len;
  char bytes[1]; /* len bytes + NUL */
} key;

#define MAX_KEY 4096

/* Header injection guard: a key is printable ASCII without spaces. */
static int key_valid(const char *s, size_t len) {
  size_t i;
  if (len == 0 || len > MAX_KEY) return 0;
  for (i = 0; i < len; i++)
    if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f) return 0;
  return 1;
}

/* A key userdata with room for cap bytes, pushed before anything secret is
 * read: the bytes then go straight into it, never into a stack or malloc
 * copy, and if anything raises, its __gc wipes them. */
static key *newkey(lua_State *L, size_t cap) {
  key *k = (key *)compat_newuserdata(L, sizeof(key) + cap, 0);
  k->len = cap;
  memset(k->bytes, 0, cap + 1);
  luaL_setmetatable(L, KEY_TYPE);
  return k;
}

static void pushkey(lua_State *L, const char *s, size_t len) {
  key *k = newkey(L, len);
  memcpy(k->bytes, s, len);
}

const char *key_bytes(lua_State *L, int idx, size_t *len) {
  key *k = (key *)luaL_checkudata(L, idx, KEY_TYPE);
  *len = k->len;
  return k->bytes;
}

/* "sk-proj-...wxyz": the last four characters, after a prefix only when it
 * is a public, well-known form ("sk-", plus one lowercase segment such as
 * "proj-", "svcacct-", "admin-"); anything else (a UUID, "gsk_...") shows no
 * prefix. At least 8 characters always stay hidden between the two parts,
 * so a short key is never shown whole; keys under 12 show nothing. */
static void hint(const key *k, char *out, size_t outsz) {
  size_t pre = 0, i;
  if (k->len < 12) {
    snprintf(out, outsz, "...");
    return;
  }
  if (memcmp(k->bytes, "sk-", 3) == 0) {
    pre = 3;
    for (i = 3; i < k->len && i < 14 && k->bytes[i] >= 'a' && k->bytes[i] <= 'z'; i++) {}
    if (i > 3 && i < 14 && i < k->len && k->bytes[i] == '-') pre = i + 1;
    if (pre + 4 + 8 > k->len) pre = 3;
    if (pre + 4 + 8 > k->len) pre = 0;
  }
  snprintf(out, outsz, "%.*s...%s", (int)pre, k->bytes, k->bytes + k->len - 4);
}

static int key_hint(lua_State *L) {
  key *k = (key *)luaL_checkudata(L, 1, KEY_TYPE);
  char buf[32];
  hint(k, buf, sizeof buf);
  lua_pushstring(L, buf);
  return 1;
}

static int key_tostring(lua_State *L) {
  key *k = (key *)luaL_checkudata(L, 1, KEY_TYPE);
  char buf[32];
  hint(k, buf, sizeof buf);
  lua_pushfstring(L, "chatgpt.key (%s)", buf);
  return 1;
}

static int key_gc(lua_State *L) {
  key *k = (key *)luaL_checkudata(L, 1, KEY_TYPE);
  explicit_bzero(k->bytes, k->len);
  k->len = 0;
  return 0;
}

/* core.key(s) -> key | nil, why. Returns rather than raises: the Lua
 * callers raise at their own caller's line, naming their own argument. */
static int key_new(lua_State *L) {
  size_t len;
  const char *s;
  if (lua_type(L, 1) != LUA_TSTRING) {
    lua_pushnil(L);
    lua_pushfstring(L, "string expected, got %s", luaL_typename(L, 1));
    return 2;
  }
  s = lua_tolstring(L, 1, &len);
  if (!key_valid(s, len)) {
    lua_pushnil(L);
    lua_pushliteral(L, "an API key is 1 to 4096 printable characters without spaces");
    return 2;
  }
  pushkey(L, s, len);
  return 1;
}

/* Trim the first line of buf[0..len) in place; returns its length. */
static size_t first_line(char *buf, size_t len, char **start) {
  size_t b = 0, e;
  while (b < len && (buf[b] == ' ' || buf[b] == '\t')) b++;
  e = b;
  while (e < len && buf[e] != '\n' && buf[e] != '\r') e++;
  while (e > b && (buf[e - 1] == ' ' || buf[e - 1] == '\t')) e--;
  *start = buf + b;
  return e - b;
}

/* The key userdata k on top of the stack holds got raw bytes: keep the
 * trimmed first line, wipe the rest. Leaves the key, or nil + msg (the
 * userdata wiped and popped). The message never holds the bytes. */
static int finishkey(lua_State *L, key *k, size_t got, const char *what) {
  char *s;
  size_t n = first_line(k->bytes, got, &s);
  if (!key_valid(s, n)) {
    explicit_bzero(k->bytes, k->len);
    k->len = 0;
    lua_pop(L, 1);
    lua_pushnil(L);
    lua_pushfstring(L, "%s: %s", what,
                    n > MAX_KEY ? "the key's line is longer than 4096 characters"
                    : n         ? "the key has spaces or control characters"
                                : "no key in its first line");
    return 2;
  }
  memmove(k->bytes, s, n);
  explicit_bzero(k->bytes + n, k->len - n);
  k->len = n;
  return 1;
}

static int key_env(lua_State *L) {
  const char *name = luaL_checkstring(L, 1);
  const char *v = getenv(name);
  size_t len;
  key *k;
  if (!v || !*v) {
    lua_pushnil(L);
    return 1;
  }
  len = strlen(v);
  if (len > MAX_KEY) len = MAX_KEY + 1;
  k = newkey(L, len);
  memcpy(k->bytes, v, len);
  return finishkey(L, k, len, name);
}

static int fail(lua_State *L, const char *fmt, const char *a, const char *b) {
  lua_pushnil(L);
  lua_pushfstring(L, fmt, a, b);
  return 2;
}

/* A string argument for C: one with a NUL would be cut short there. */
static const char *checkcstring(lua_State *L, int arg, const char *msg) {
  size_t len;
  const char *s = luaL_checklstring(L, arg, &len);
  luaL_argcheck(L, strlen(s) == len, arg, msg);
  return s;
}

/* Like ssh with its private keys: a key file that others can read is
 * refused, because the key in it is no longer a secret. regular_open: a
 * FIFO or a device never blocks new(), and only a regular file is read. */
static int key_file(lua_State *L) {
  const char *path = checkcstring(L, 1, "api_key_file holds a NUL");
  struct stat st;
  ssize_t n;
  size_t got = 0;
  key *k;
  int fd;
  if (path[0] == '~' && path[1] == '/') { /* doc/security.md's "~/.config/..." */
    const char *home = getenv("HOME");
    if (!home || !*home)
      return fail(L, "api_key_file: cannot expand %s: HOME is not set%s", path, "");
    path = lua_pushfstring(L, "%s%s", home, path + 1);
  }
  k = newkey(L, MAX_KEY + 2); /* before open: it may raise */
  fd = regular_open(path, &st);
  if (fd == -1) return fail(L, "api_key_file: cannot open %s: %s", path, strerror(errno));
  if (fd < 0) return fail(L, "api_key_file: %s is not a regular file%s", path, "");
  if (st.st_mode & (S_IRWXG | S_IRWXO)) {
    close(fd);
    return fail(L, "api_key_file: %s is readable by group or others; chmod 600 it%s", path, "");
  }
  while (got < k->len && (n = read(fd, k->bytes + got, k->len - got)) != 0) {
    if (n < 0) {
      int e = errno;
      if (e == EINTR) continue;
      close(fd);
      explicit_bzero(k->bytes, k->len);
      return fail(L, "api_key_file: cannot read %s: %s", path, strerror(e));
    }
    got += (size_t)n;
  }
  close(fd);
  return finishkey(L, k, got, "api_key_file");
}

static double monotonic(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Reads the child's stdout (fd, non-blocking) into buf[0..cap) until EOF
 * and the child's exit, or the deadline; bytes past cap are read and
 * dropped, so that a long output never ends in SIGPIPE. No signal handler
 * (the host may be threaded): the child is polled with waitpid(WNOHANG) on
 * its own pid between short waits. Once it has exited, whatever is already
 * in the pipe is read and then reading stops: something it left in the
 * background may hold the pipe open forever. Returns 0 with *status set,
 * ETIMEDOUT (the child killed and reaped), or an errno. */
static int collect(pid_t pid, int fd, double timeout, char *buf, size_t cap, size_t *got,
                   int *status) {
  char drop[4096];
  double deadline = monotonic() + timeout, left;
  int exited = 0, eof = 0, tick = 1, err = 0, wait_ms;
  ssize_t n;
  *got = 0;
  *status = 0;
  for (;;) {
    if (!exited) {
      pid_t r = waitpid(pid, status, WNOHANG);
      if (r == pid)
        exited = 1;
      else if (r < 0 && errno == ECHILD) {
        exited = 1;  /* the host reaps children (SIGCHLD ignored): */
        *status = 0; /* its exit status is lost, judge by the output */
      } else if (r < 0 && errno != EINTR) {
        err = errno;
        break;
      }
    }
    if (exited && eof) break;
    left = deadline - monotonic();
    if (left <= 0) {
      if (!exited) err = ETIMEDOUT;
      break;
    }
    wait_ms = exited ? 0 : (left * 1000 < tick ? (int)(left * 1000) + 1 : tick);
    if (eof) { /* stdout closed, the child still runs */
      struct timespec ts = {wait_ms / 1000, (long)(wait_ms % 1000) * 1000000L};
      nanosleep(&ts, NULL);
      if (tick < 50) tick *= 2;
      continue;
    }
    {
      struct pollfd p = {fd, POLLIN, 0};
      int r = poll(&p, 1, wait_ms);
      if (r < 0 && errno != EINTR) {
        err = errno;
        break;
      }
      if (r <= 0) {
        if (r == 0 && exited) break; /* nothing more right now */
        if (tick < 50) tick *= 2;
        continue;
      }
    }
    if (*got < cap)
      n = read(fd, buf + *got, cap - *got);
    else
      n = read(fd, drop, sizeof drop);
    if (n == 0)
      eof = 1;
    else if (n < 0 && errno != EINTR && errno != EAGAIN) {
      err = errno;
      break;
    } else if (n > 0 && *got < cap)
      *got += (size_t)n;
  }
  explicit_bzero(drop, sizeof drop);
  if (err && !exited) {
    kill(pid, SIGKILL);
    while (waitpid(pid, status, 0) < 0 && errno == EINTR) {}
  }
  return err;
}

/* Runs argv (no shell) with stdin from /dev/null, stdout a pipe, stderr
 * ours, and takes the first line of its stdout. posix_spawnp, not fork:
 * the host may be threaded. At most timeout seconds (DEFAULT_KEY_CMD_TIMEOUT by
 * default), then it is killed. It stays in our process group, so that a
 * command that asks for a passphrase on the terminal (gpg with
 * pinentry-tty) may still read it: in a group of its own it would be
 * stopped by SIGTTIN. */
static int key_cmd(lua_State *L) {
  const char *argv[64];
  lua_Integer len;
  lua_Number timeout;
  int pipefd[2], status, r, i, n;
  posix_spawn_file_actions_t fa;
  pid_t pid;
  size_t got = 0;
  key *k;
  luaL_checktype(L, 1, LUA_TTABLE);
  len = luaL_len(L, 1);
  luaL_argcheck(L, len >= 1 && len < 64, 1, "api_key_cmd is a list of 1 to 63 strings");
  n = (int)len;
  for (i = 0; i < n; i++) {
    lua_rawgeti(L, 1, i + 1);
    luaL_argcheck(L, lua_type(L, -1) == LUA_TSTRING, 1, "api_key_cmd holds a non-string");
    argv[i] = lua_tostring(L, -1); /* the table keeps it alive */
    luaL_argcheck(L, strlen(argv[i]) == lua_rawlen(L, -1), 1, "api_key_cmd holds a NUL");
    lua_pop(L, 1);
  }
  argv[n] = NULL;
  timeout = luaL_optnumber(L, 2, DEFAULT_KEY_CMD_TIMEOUT);
  luaL_argcheck(L, timeout > 0 && timeout <= 3600, 2, /* NaN fails both */
                "timeout must be a number of seconds > 0 and <= 3600");
  k = newkey(L, MAX_KEY + 2); /* before the child: it may raise */
  if (pipe2(pipefd, O_CLOEXEC) != 0) return fail(L, "api_key_cmd: pipe: %s%s", strerror(errno), "");
  /* Non-blocking on our end only: O_NONBLOCK set by pipe2 would be shared
   * with the child's stdout. */
  fcntl(pipefd[0], F_SETFL, fcntl(pipefd[0], F_GETFL) | O_NONBLOCK);
  posix_spawn_file_actions_init(&fa);
  r = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  if (!r) r = posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1);
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
  /* The child gets 0, 1 and 2 only. Close-on-exec alone is not enough: a
   * descriptor the host (or a library) opened without it, a socket of
   * libcurl's or of LuaSocket's, a file from io.open, would leak into the
   * command. Elsewhere only the descriptors' own close-on-exec applies. */
  if (!r) r = posix_spawn_file_actions_addclosefrom_np(&fa, 3);
#endif
  if (!r) r = posix_spawnp(&pid, argv[0], &fa, NULL, (char *const *)argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  close(pipefd[1]);
  if (r != 0) {
    close(pipefd[0]);
    return fail(L, "api_key_cmd: cannot run %s: %s", argv[0], strerror(r));
  }
  r = collect(pid, pipefd[0], timeout, k->bytes, k->len, &got, &status);
  close(pipefd[0]);
  if (r != 0) {
    explicit_bzero(k->bytes, k->len);
    lua_pushnil(L);
    if (r == ETIMEDOUT)
      lua_pushfstring(L, "api_key_cmd: %s did not finish within %f s", argv[0], timeout);
    else
      lua_pushfstring(L, "api_key_cmd: reading from %s: %s", argv[0], strerror(r));
    return 2;
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 127 && got == 0) {
    /* posix_spawnp may report a failed exec this way (fork + exec) */
    return fail(L, "api_key_cmd: cannot run %s%s", argv[0], "");
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    explicit_bzero(k->bytes, k->len);
    lua_pushnil(L);
    lua_pushfstring(L, "api_key_cmd: %s failed (exit status %d)", argv[0],
                    WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
    return 2;
  }
  return finishkey(L, k, got, "api_key_cmd");
}

/* core.redact(s, key): s with every copy of the key replaced by its hint,
 * for text that came from elsewhere (a server that echoes the key). */
int key_redact(lua_State *L) {
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len), *p, *hit;
  key *k = (key *)luaL_testudata(L, 2, KEY_TYPE);
  char h[32];
  luaL_Buffer b;
  if (!k || k->len == 0 || !memmem(s, len, k->bytes, k->len)) {
    lua_settop(L, 1);
    return 1;
  }
  hint(k, h, sizeof h);
  luaL_buffinit(L, &b);
  for (p = s; (hit = memmem(p, len - (size_t)(p - s), k->bytes, k->len)) != NULL;
       p = hit + k->len) {
    luaL_addlstring(&b, p, (size_t)(hit - p));
    luaL_addstring(&b, h);
  }
  luaL_addlstring(&b, p, len - (size_t)(p - s));
  luaL_pushresult(&b);
  return 1;
}

/* ---- other secrets: a client key's passphrase ---------------------------- */

/* Held as the key is (bytes in a userdata, wiped when collected, never
 * handed back to Lua) but shown as nothing at all: not even a hint. */
#define MAX_SECRET 1023 /* OpenSSL's passphrase buffer holds 1024 bytes, NUL included */

static int secret_tostring(lua_State *L) {
  luaL_checkudata(L, 1, SECRET_TYPE);
  lua_pushliteral(L, "chatgpt.secret");
  return 1;
}

static int secret_gc(lua_State *L) {
  key *k = (key *)luaL_checkudata(L, 1, SECRET_TYPE);
  explicit_bzero(k->bytes, k->len);
  k->len = 0;
  return 0;
}

const char *secret_bytes(lua_State *L, int idx) {
  return ((key *)luaL_checkudata(L, idx, SECRET_TYPE))->bytes;
}

/* core.secret(s) -> secret | nil, why */
static int secret_new(lua_State *L) {
  size_t len;
  const char *s;
  key *k;
  if (lua_type(L, 1) != LUA_TSTRING) {
    lua_pushnil(L);
    lua_pushfstring(L, "string expected, got %s", luaL_typename(L, 1));
    return 2;
  }
  s = lua_tolstring(L, 1, &len);
  if (len == 0 || len > MAX_SECRET || strlen(s) != len) {
    lua_pushnil(L);
    lua_pushliteral(L, "1 to 1023 bytes without NUL expected");
    return 2;
  }
  k = (key *)compat_newuserdata(L, sizeof(key) + len, 0);
  k->len = len;
  memcpy(k->bytes, s, len + 1);
  luaL_setmetatable(L, SECRET_TYPE);
  return 1;
}

static const luaL_Reg secret_meta[] = {
  {"__tostring", secret_tostring},
  {"__gc", secret_gc},
  {NULL, NULL},
};

static const luaL_Reg key_methods[] = {
  {"hint", key_hint},
  {NULL, NULL},
};

static const luaL_Reg key_meta[] = {
  {"__tostring", key_tostring},
  {"__gc", key_gc},
  {"__index", NULL},
  {NULL, NULL},
};

/* clang-format off */
static const luaL_Reg key_funcs[] = {
  {"key", key_new},
  {"key_env", key_env},
  {"key_file", key_file},
  {"key_cmd", key_cmd},
  {"redact", key_redact},
  {"secret", secret_new},
  {NULL, NULL},
};
/* clang-format on */

void key_open(lua_State *L) {
  luaL_newmetatable(L, KEY_TYPE);
  luaL_setfuncs(L, key_meta, 0);
  luaL_newlib(L, key_methods);
  lua_setfield(L, -2, "__index");
  lua_pushliteral(L, "not yours"); /* getmetatable(key) hides it */
  lua_setfield(L, -2, "__metatable");
  lua_pop(L, 1);
  luaL_newmetatable(L, SECRET_TYPE);
  luaL_setfuncs(L, secret_meta, 0);
  lua_pushliteral(L, "not yours");
  lua_setfield(L, -2, "__metatable");
  lua_pop(L, 1);
  luaL_setfuncs(L, key_funcs, 0);
}
