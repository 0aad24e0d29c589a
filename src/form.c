/* Multipart bodies: see form.h. */
#include "form.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lauxlib.h>

#include "compat.h"
#include "regular.h"

/* The string field k of the part at the top of the stack, or NULL when
 * absent; raises when it is there but not a string without NUL (a name,
 * path or type; `data` may hold any bytes: its length is given), or, for
 * what goes into a part's header lines (header), with CR or LF. */
static const char *field(lua_State *L, lua_Integer i, const char *k, size_t *len, int bytes,
                         int header) {
  const char *s;
  size_t n;
  lua_getfield(L, -1, k);
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    return NULL;
  }
  if (lua_type(L, -1) != LUA_TSTRING)
    luaL_error(L, "chatgpt: form part #%d: %s must be a string", (int)i, k);
  s = lua_tolstring(L, -1, &n);
  if (!bytes && strlen(s) != n) luaL_error(L, "chatgpt: form part #%d: %s holds a NUL byte", (int)i, k);
  if (header && strpbrk(s, "\r\n")) luaL_error(L, "chatgpt: form part #%d: %s holds CR or LF", (int)i, k);
  if (len) *len = n;
  lua_pop(L, 1); /* the part table keeps it alive */
  return s;
}

static void check(lua_State *L, CURLcode rc) {
  if (rc == CURLE_OUT_OF_MEMORY) luaL_error(L, "chatgpt: out of memory");
}

/* ---- file parts: read by curl from our own descriptor -------------------- */

/* One file part: its descriptor (or -1 and the errno of a failed open),
 * the size it had when opened, where curl is in it. */
typedef struct filepart {
  int fd, err, kind_err; /* kind_err: not a regular file (what is in msg) */
  curl_off_t size, pos;
  form_status *status;
  char what[32];
  char path[1]; /* NUL-terminated */
} filepart;

static size_t part_fail(filepart *f, const char *why) {
  f->status->failed = 1;
  snprintf(f->status->msg, sizeof f->status->msg, "cannot send %s: %s", f->path, why);
  return CURL_READFUNC_ABORT;
}

/* curl's read callback: bytes at pos, never beyond the size the file had
 * when the part was made. A file that ends early, or is no longer that
 * size once its last byte is read, changed while it was sent. */
static size_t part_read(char *buf, size_t size, size_t n, void *arg) {
  filepart *f = (filepart *)arg;
  size_t want = size * n;
  ssize_t got;
  struct stat st;
  if (f->fd < 0) return part_fail(f, f->kind_err ? f->what : strerror(f->err));
  if (f->pos >= f->size) return 0;
  if ((curl_off_t)want > f->size - f->pos) want = (size_t)(f->size - f->pos);
  do {
    got = pread(f->fd, buf, want, (off_t)f->pos);
  } while (got < 0 && errno == EINTR);
  if (got < 0) return part_fail(f, strerror(errno));
  if (got == 0) return part_fail(f, "the file changed size while it was sent");
  f->pos += got;
  if (f->pos == f->size && (fstat(f->fd, &st) != 0 || st.st_size != f->size))
    return part_fail(f, "the file changed size while it was sent");
  return (size_t)got;
}

/* A retry sends the body again from its start. */
static int part_seek(void *arg, curl_off_t offset, int origin) {
  filepart *f = (filepart *)arg;
  if (origin != SEEK_SET || offset < 0 || offset > f->size) return CURL_SEEKFUNC_CANTSEEK;
  f->pos = offset;
  return CURL_SEEKFUNC_OK;
}

static void part_free(void *arg) {
  filepart *f = (filepart *)arg;
  if (f->fd >= 0) close(f->fd);
  free(f);
}

/* The part's data from path: opened now, without blocking (regular.h);
 * a failure is reported by part_read, when curl reads it. */
static void file_data(lua_State *L, curl_mimepart *part, const char *path, form_status *status) {
  size_t n = strlen(path);
  struct stat st;
  filepart *f = (filepart *)malloc(sizeof(filepart) + n);
  CURLcode rc;
  if (f == NULL) luaL_error(L, "chatgpt: out of memory");
  memset(f, 0, sizeof *f);
  memcpy(f->path, path, n + 1);
  f->status = status;
  f->fd = regular_open(path, &st);
  if (f->fd == -1) {
    f->err = errno;
  } else if (f->fd < 0) {
    f->kind_err = 1;
    snprintf(f->what, sizeof f->what, "%s, not a regular file", regular_kind(&st));
  } else {
    f->size = (curl_off_t)st.st_size;
  }
  /* curl frees f with part_free from here, also when this fails */
  rc = curl_mime_data_cb(part, f->fd >= 0 ? f->size : 0, part_read, part_seek, part_free, f);
  if (rc != CURLE_OK) {
    part_free(f);
    check(L, rc);
    luaL_error(L, "chatgpt: curl_mime_data_cb failed");
  }
}

void form_build(lua_State *L, int idx, curl_mime *mime, form_status *status) {
  lua_Integer i, n;
  idx = lua_absindex(L, idx);
  n = luaL_len(L, idx);
  for (i = 1; i <= n; i++) {
    const char *name, *data, *file, *filename, *type;
    size_t len = 0;
    curl_mimepart *part;
    lua_rawgeti(L, idx, i);
    if (!lua_istable(L, -1)) luaL_error(L, "chatgpt: form part #%d is not a table", (int)i);
    name = field(L, i, "name", NULL, 0, 1);
    data = field(L, i, "data", &len, 1, 0);
    file = field(L, i, "file", NULL, 0, 0);
    filename = field(L, i, "filename", NULL, 0, 1);
    type = field(L, i, "type", NULL, 0, 1);
    if (name == NULL || (data == NULL) == (file == NULL))
      luaL_error(L, "chatgpt: form part #%d needs a name and one of data or file", (int)i);
    if ((part = curl_mime_addpart(mime)) == NULL) luaL_error(L, "chatgpt: out of memory");
    check(L, curl_mime_name(part, name));
    if (data) {
      check(L, curl_mime_data(part, data, len));
    } else {
      const char *base = strrchr(file, '/');
      if (filename == NULL) filename = base ? base + 1 : file;
      if (strpbrk(filename, "\r\n"))
        luaL_error(L, "chatgpt: form part #%d: its file name holds CR or LF", (int)i);
      file_data(L, part, file, status);
    }
    if (filename) check(L, curl_mime_filename(part, filename));
    if (type) check(L, curl_mime_type(part, type));
    lua_pop(L, 1);
  }
}

/* core.form_file(path) -> size | nil, why */
static int form_file(lua_State *L) {
  size_t len;
  const char *path = luaL_checklstring(L, 1, &len);
  struct stat st;
  int fd;
  luaL_argcheck(L, strlen(path) == len, 1, "a path without NUL bytes expected");
  fd = regular_open(path, &st);
  if (fd >= 0) {
    close(fd);
    lua_pushnumber(L, (lua_Number)st.st_size);
    return 1;
  }
  lua_pushnil(L);
  if (fd == -1)
    lua_pushfstring(L, "%s: %s", path, strerror(errno));
  else
    lua_pushfstring(L, "%s: %s, not a regular file", path, regular_kind(&st));
  return 2;
}

static const luaL_Reg form_funcs[] = {
  {"form_file", form_file},
  {NULL, NULL},
};

void form_open(lua_State *L) {
  luaL_setfuncs(L, form_funcs, 0);
}
