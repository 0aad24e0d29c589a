/* Tokenizers of OpenAI's BPE encodings, for Lua: the userdata
 * "chatgpt.tokenizer".
 *
 * Lua: core.tokenizer(encoding, vocab_dir) -> tokenizer | nil, why
 *   encoding: "o200k_base", "o200k_harmony" or "cl100k_base"; the
 *   vocabulary is read from vocab_dir/<file>.bpe on the first call for that
 *   path in this process and shared after that (vocab.h).
 * tok:encode(text) -> { ids }      tok:count(text) -> n (no table)
 * tok:decode(ids) -> bytes         tok.name -> the encoding's name
 * tok:memory() -> bytes of the shared vocabulary in memory
 * Special tokens' text is encoded as text; decode gives their text back. */
#ifndef CHATGPT_TOKENIZER_H
#define CHATGPT_TOKENIZER_H

#include <lua.h>

void tokenizer_open(lua_State *L); /* also registers the metatable */

#endif
