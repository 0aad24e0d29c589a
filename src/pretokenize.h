/* The pre-tokenizers of OpenAI's BPE encodings: the text is cut into
 * pieces by the encoding's split pattern before the merge (bpe.h) runs on
 * each piece. The patterns are tiktoken's, matched by hand rather than by a
 * regex engine, so that a match takes time linear in its length (no
 * backtracking blow-up on a megabyte of one character):
 *
 * cl100k_base  (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|
 *              \p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
 * o200k_base   [^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*
 *                [\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|
 *              [^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+
 *                [\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|
 *              \p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+
 *
 * with the leftmost-first, backtracking semantics of the regex engine that
 * tiktoken runs them on (fancy-regex over the Rust regex crate): \s is the
 * White_Space property, and (?i) folds 's to 'S and to U+017F too.
 *
 * Bytes that are not UTF-8 are read as tiktoken reads a string decoded
 * with replacement: each maximal ill-formed subsequence (Unicode 15, 3.9)
 * is one U+FFFD, a character of no letter, number or space class. The
 * piece still holds the original bytes, so the tokens decode back to them. */
#ifndef CHATGPT_PRETOKENIZE_H
#define CHATGPT_PRETOKENIZE_H

#include <stddef.h>

enum split_pattern { SPLIT_CL100K, SPLIT_O200K };

/* The end of the piece that starts at s[pos], pos < n: a value in
 * (pos, n]. */
size_t pretokenize_next(enum split_pattern pat, const unsigned char *s, size_t n, size_t pos);

#endif
