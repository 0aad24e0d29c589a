/* UTF-8 by RFC 3629's table: validation, shared by the encoder's hot path
 * (json_encode.c) and its error messages (json_path.c), and the bytes of a
 * code point, for the decoder's \u escapes (json_decode.c): static inline,
 * so that each inlines them. Private to the codec: json.h is its interface. */
#ifndef CHATGPT_JSON_UTF8_H
#define CHATGPT_JSON_UTF8_H

#include <stddef.h>

/* Length of the valid UTF-8 sequence starting at s (n >= 1 bytes left, s[0]
 * >= 0x80), or 0 if it is invalid: overlong forms, surrogates (U+D800..DFFF)
 * and code points above U+10FFFF are all refused (RFC 3629 table). */
static inline size_t utf8_seq(const unsigned char *s, size_t n) {
  unsigned c = s[0];
  unsigned lo = 0x80, hi = 0xBF;
  size_t len, i;
  if (c >= 0xC2 && c <= 0xDF)
    len = 2;
  else if (c >= 0xE0 && c <= 0xEF) {
    len = 3;
    if (c == 0xE0)
      lo = 0xA0; /* overlong */
    else if (c == 0xED)
      hi = 0x9F; /* surrogates */
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4;
    if (c == 0xF0)
      lo = 0x90; /* overlong */
    else if (c == 0xF4)
      hi = 0x8F; /* above U+10FFFF */
  } else
    return 0;
  if (n < len || s[1] < lo || s[1] > hi) return 0;
  for (i = 2; i < len; i++)
    if ((s[i] & 0xC0) != 0x80) return 0;
  return len;
}

/* Offset of the first invalid UTF-8 sequence in s, or n if all is valid. */
static inline size_t utf8_check(const unsigned char *s, size_t n) {
  size_t i = 0, k;
  while (i < n) {
    if (s[i] < 0x80) {
      i++;
      continue;
    }
    if ((k = utf8_seq(s + i, n - i)) == 0) return i;
    i += k;
  }
  return n;
}

/* Writes code point c (at most U+10FFFF) as UTF-8 into u; returns its length. */
static inline size_t utf8_put(char u[4], unsigned long c) {
  if (c < 0x80) {
    u[0] = (char)c;
    return 1;
  }
  if (c < 0x800) {
    u[0] = (char)(0xC0 | (c >> 6));
    u[1] = (char)(0x80 | (c & 0x3F));
    return 2;
  }
  if (c < 0x10000) {
    u[0] = (char)(0xE0 | (c >> 12));
    u[1] = (char)(0x80 | ((c >> 6) & 0x3F));
    u[2] = (char)(0x80 | (c & 0x3F));
    return 3;
  }
  u[0] = (char)(0xF0 | (c >> 18));
  u[1] = (char)(0x80 | ((c >> 12) & 0x3F));
  u[2] = (char)(0x80 | ((c >> 6) & 0x3F));
  u[3] = (char)(0x80 | (c & 0x3F));
  return 4;
}

#endif
