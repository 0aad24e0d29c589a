/* Base64 encoding and decoding: see base64.h. */
#include "base64.h"
#include "compat.h"

#include <stdio.h>

#include <lauxlib.h>

/* 0..63 for a digit of either alphabet, 64 white space, 65 '=', 66 else */
static unsigned char value_of(unsigned char c) {
  if (c >= 'A' && c <= 'Z') return (unsigned char)(c - 'A');
  if (c >= 'a' && c <= 'z') return (unsigned char)(c - 'a' + 26);
  if (c >= '0' && c <= '9') return (unsigned char)(c - '0' + 52);
  if (c == '+' || c == '-') return 62;
  if (c == '/' || c == '_') return 63;
  if (c == ' ' || c == '\t' || c == '\r' || c == '\n') return 64;
  if (c == '=') return 65;
  return 66;
}

/* The output goes into a userdata, not malloc'd memory: if pushing the
 * result raises (out of memory), nothing leaks. */
static int base64_decode(lua_State *L) {
  size_t len, i, n = 0;
  const unsigned char *s = (const unsigned char *)luaL_checklstring(L, 1, &len);
  unsigned char *out = (unsigned char *)compat_newuserdata(L, len / 4 * 3 + 3, 0);
  unsigned long acc = 0;
  int bits = 0, pad = 0;
  char why[80];
  for (i = 0; i < len; i++) {
    unsigned char v = value_of(s[i]);
    if (v == 64) continue;
    if (v == 65) {
      pad++;
      continue;
    }
    if (v == 66 || pad) {
      snprintf(why, sizeof why, "not base64: byte %zu is %s", i + 1,
               v == 66 ? "not a base64 digit" : "after the padding");
      lua_pushnil(L);
      lua_pushstring(L, why);
      return 2;
    }
    acc = (acc << 6 | v) & 0xFFFFFF;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[n++] = (unsigned char)(acc >> bits);
    }
  }
  if (bits >= 6) { /* one digit alone carries no whole byte */
    lua_pushnil(L);
    lua_pushliteral(L, "not base64: its length is wrong");
    return 2;
  }
  lua_pushlstring(L, (const char *)out, n);
  return 1;
}

static const char DIGITS[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Into a userdata, as above. A length whose encoding would overflow size_t
 * is refused before any allocation. */
static int base64_encode(lua_State *L) {
  size_t len, i, n = 0;
  const unsigned char *s = (const unsigned char *)luaL_checklstring(L, 1, &len);
  char *out;
  if (len / 3 >= ((size_t)-1) / 4 - 1) return luaL_argerror(L, 1, "too long to encode");
  out = (char *)compat_newuserdata(L, (len + 2) / 3 * 4 + 1, 0);
  for (i = 0; i + 2 < len; i += 3) {
    unsigned long v = (unsigned long)s[i] << 16 | (unsigned long)s[i + 1] << 8 | s[i + 2];
    out[n++] = DIGITS[v >> 18 & 63];
    out[n++] = DIGITS[v >> 12 & 63];
    out[n++] = DIGITS[v >> 6 & 63];
    out[n++] = DIGITS[v & 63];
  }
  if (i < len) {
    unsigned long v = (unsigned long)s[i] << 16 | (i + 1 < len ? (unsigned long)s[i + 1] << 8 : 0);
    out[n++] = DIGITS[v >> 18 & 63];
    out[n++] = DIGITS[v >> 12 & 63];
    out[n++] = i + 1 < len ? DIGITS[v >> 6 & 63] : '=';
    out[n++] = '=';
  }
  lua_pushlstring(L, out, n);
  return 1;
}

static const luaL_Reg base64_funcs[] = {
  {"unbase64", base64_decode},
  {"base64", base64_encode},
  {NULL, NULL},
};

void base64_open(lua_State *L) { luaL_setfuncs(L, base64_funcs, 0); }
