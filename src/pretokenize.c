/* The split patterns of cl100k_base and o200k_base, matched by hand: see
 * pretokenize.h. Each alternative below is commented with the part of the
 * pattern it stands for; each scans forward once, so a piece costs time
 * linear in its length. */
#include "pretokenize.h"
#include "unicode_class.h"

#define BIT(c) (1u << (c))
/* \p{L}; o200k's [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}] and [\p{Ll}\p{Lm}\p{Lo}\p{M}] */
#define LETTERS (BIT(UC_UPPER) | BIT(UC_LOWER) | BIT(UC_LETTER))
#define UPPERS  (BIT(UC_UPPER) | BIT(UC_LETTER) | BIT(UC_MARK))
#define LOWERS  (BIT(UC_LOWER) | BIT(UC_LETTER) | BIT(UC_MARK))
#define BOTH    (BIT(UC_LETTER) | BIT(UC_MARK)) /* in UPPERS and in LOWERS */
/* [^\s\p{L}\p{N}] */
#define PUNCT   (BIT(UC_OTHER) | BIT(UC_MARK))

typedef struct {
  unsigned long cp; /* the code point; BAD for an ill-formed subsequence */
  size_t len;       /* its bytes */
  int cls;          /* enum uc_class */
} uchar;

#define BAD 0x110000ul

/* The character at s[i], i < n. An ill-formed subsequence is as long as
 * its longest prefix that could still begin a well-formed character (at
 * least one byte), as TextDecoder and Python's "replace" cut it. */
static uchar decode(const unsigned char *s, size_t n, size_t i) {
  uchar u;
  unsigned c = s[i], lo = 0x80, hi = 0xBF;
  size_t need, k;
  if (c < 0x80) {
    u.cp = c, u.len = 1, u.cls = uc_blocks[0][c];
    return u;
  }
  u.cp = BAD, u.len = 1, u.cls = UC_OTHER;
  if (c >= 0xC2 && c <= 0xDF) need = 1, u.cp = c & 0x1F;
  else if (c >= 0xE0 && c <= 0xEF) need = 2, u.cp = c & 0x0F;
  else if (c >= 0xF0 && c <= 0xF4) need = 3, u.cp = c & 0x07;
  else return u;
  if (c == 0xE0) lo = 0xA0;
  else if (c == 0xED) hi = 0x9F;
  else if (c == 0xF0) lo = 0x90;
  else if (c == 0xF4) hi = 0x8F;
  for (k = 1; k <= need; k++) {
    if (i + k >= n || s[i + k] < lo || s[i + k] > hi) {
      u.cp = BAD, u.len = k;
      return u;
    }
    u.cp = (u.cp << 6) | (s[i + k] & 0x3F);
    lo = 0x80, hi = 0xBF;
  }
  u.len = need + 1;
  u.cls = uc_class(u.cp);
  return u;
}

static int in(uchar u, unsigned set) { return (BIT(u.cls) & set) != 0; }

/* The end of the longest run of characters of the classes in set from i. */
static size_t run(const unsigned char *s, size_t n, size_t i, unsigned set) {
  while (i < n) {
    uchar u = decode(s, n, i);
    if (!in(u, set)) break;
    i += u.len;
  }
  return i;
}

static int is(const unsigned char *s, size_t n, size_t i, unsigned char a) {
  return i < n && (s[i] | 0x20) == a;
}

/* (?i:'s|'t|'re|'ve|'m|'ll|'d) at s[i] (the apostrophe): its length, or 0.
 * The Rust regex crate's case folding makes U+017F (long s) an s too. */
static size_t contraction(const unsigned char *s, size_t n, size_t i) {
  if (i >= n || s[i] != '\'') return 0;
  i++;
  if (is(s, n, i, 's') || is(s, n, i, 't') || is(s, n, i, 'm') || is(s, n, i, 'd')) return 2;
  if (i + 1 < n && s[i] == 0xC5 && s[i + 1] == 0xBF) return 3;
  if ((is(s, n, i, 'r') || is(s, n, i, 'v')) && is(s, n, i + 1, 'e')) return 3;
  if (is(s, n, i, 'l') && is(s, n, i + 1, 'l')) return 3;
  return 0;
}

/* [\r\n]* (cl100k) or [\r\n/]* (o200k) from i */
static size_t newlines(const unsigned char *s, size_t n, size_t i, int slash) {
  while (i < n && (s[i] == '\r' || s[i] == '\n' || (slash && s[i] == '/'))) i++;
  return i;
}

/* ` ?[^\s\p{L}\p{N}]+[\r\n]*` (with / too for o200k) at p: its end, or 0. */
static size_t punctuation(const unsigned char *s, size_t n, size_t p, uchar c0, int slash) {
  size_t q = p;
  if (c0.cp == ' ') {
    if (p + 1 >= n) return 0;
    q = p + 1;
    c0 = decode(s, n, q);
  }
  if (!in(c0, PUNCT)) return 0;
  return newlines(s, n, run(s, n, q, PUNCT), slash);
}

/* \s*[\r\n]+|\s+(?!\S)|\s+ at p, a white space character. \s* backs off
 * to the last line break of the run; (?!\S) keeps the run's last
 * character for the next piece unless the run ends the text. */
static size_t spaces(const unsigned char *s, size_t n, size_t p) {
  size_t i = p, last = p, newline = 0;
  while (i < n) {
    uchar u = decode(s, n, i);
    if (u.cls != UC_SPACE) break;
    if (u.cp == '\r' || u.cp == '\n') newline = i + 1;
    last = i;
    i += u.len;
  }
  if (newline) return newline;
  if (i == n || last == p) return i;
  return last;
}

/* \p{N}{1,3} at p, a number */
static size_t digits(const unsigned char *s, size_t n, size_t p) {
  int k;
  for (k = 0; k < 3 && p < n; k++) {
    uchar u = decode(s, n, p);
    if (u.cls != UC_NUMBER) break;
    p += u.len;
  }
  return p;
}

static size_t cl100k(const unsigned char *s, size_t n, size_t p) {
  uchar c0 = decode(s, n, p), c1;
  size_t e;
  if ((e = contraction(s, n, p)) != 0) return p + e;
  /* [^\r\n\p{L}\p{N}]?\p{L}+ */
  if (in(c0, LETTERS)) return run(s, n, p, LETTERS);
  if (c0.cls != UC_NUMBER && c0.cp != '\r' && c0.cp != '\n' && p + c0.len < n) {
    c1 = decode(s, n, p + c0.len);
    if (in(c1, LETTERS)) return run(s, n, p + c0.len, LETTERS);
  }
  if (c0.cls == UC_NUMBER) return digits(s, n, p);
  if ((e = punctuation(s, n, p, c0, 0)) != 0) return e;
  if (c0.cls == UC_SPACE) return spaces(s, n, p);
  return p + c0.len; /* not reached: every class is matched above */
}

/* [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+ from q: its
 * end, or 0. The greedy first run backs off to its last character that
 * the second class takes too, unless a lower-case run follows it. */
static size_t upper_lower(const unsigned char *s, size_t n, size_t q) {
  size_t i = q, both = 0;
  while (i < n) {
    uchar u = decode(s, n, i);
    if (!in(u, UPPERS)) {
      if (in(u, LOWERS)) return run(s, n, i, LOWERS);
      break;
    }
    i += u.len;
    if (in(u, BOTH)) both = i;
  }
  return both;
}

/* The two letter alternatives of o200k at p, c0 being neither \r, \n nor a
 * number: the piece's end before the contraction, or 0. */
static size_t o200k_letters(const unsigned char *s, size_t n, size_t p, uchar c0) {
  size_t q = in(c0, LETTERS) ? p : p + c0.len, e;
  /* [^\r\n\p{L}\p{N}]?[UPPERS]*[LOWERS]+ */
  if ((e = upper_lower(s, n, q)) != 0) return e;
  if (c0.cls == UC_MARK) return p + c0.len; /* without the optional prefix */
  /* [^\r\n\p{L}\p{N}]?[UPPERS]+[LOWERS]*: no lower-case run follows here */
  e = run(s, n, q, UPPERS);
  return e > q ? e : 0;
}

static size_t o200k(const unsigned char *s, size_t n, size_t p) {
  uchar c0 = decode(s, n, p);
  size_t e;
  if (c0.cls != UC_NUMBER && c0.cp != '\r' && c0.cp != '\n' &&
      (e = o200k_letters(s, n, p, c0)) != 0)
    return e + contraction(s, n, e);
  if (c0.cls == UC_NUMBER) return digits(s, n, p);
  if ((e = punctuation(s, n, p, c0, 1)) != 0) return e;
  if (c0.cls == UC_SPACE) return spaces(s, n, p);
  return p + c0.len; /* not reached */
}

size_t pretokenize_next(enum split_pattern pat, const unsigned char *s, size_t n, size_t pos) {
  return pat == SPLIT_O200K ? o200k(s, n, pos) : cl100k(s, n, pos);
}
