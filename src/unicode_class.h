/* The class of a code point, as the split patterns of OpenAI's tokenizers
 * see it (pretokenize.c): a letter (upper, lower or other), a mark, a
 * number, white space, or anything else. The table is generated from the
 * Unicode Character Database by src/unicode_class.py (unicode_class.c
 * says which version); nothing is read at run time. */
#ifndef CHATGPT_UNICODE_CLASS_H
#define CHATGPT_UNICODE_CLASS_H

/* keep in step with src/unicode_class.py */
enum uc_class {
  UC_OTHER,  /* everything else, unassigned code points included */
  UC_UPPER,  /* Lu, Lt */
  UC_LOWER,  /* Ll */
  UC_LETTER, /* Lm, Lo */
  UC_MARK,   /* Mn, Mc, Me */
  UC_NUMBER, /* Nd, Nl, No */
  UC_SPACE   /* the White_Space property: \s of the Rust regex crate */
};

extern const unsigned char uc_index[0x110000 >> 7];
extern const unsigned char uc_blocks[][128];

/* c < 0x110000 */
static inline int uc_class(unsigned long c) { return uc_blocks[uc_index[c >> 7]][c & 127]; }

#endif
