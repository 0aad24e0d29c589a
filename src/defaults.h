/* The version and every default, in one place: the C files use these
 * macros and core.defaults hands the same values to the Lua layer, which
 * keeps no copy of its own. */
#ifndef CHATGPT_DEFAULTS_H
#define CHATGPT_DEFAULTS_H

#include "sse.h"

/* The release; the scm rockspec builds with CHATGPT_VERSION "scm" (its
 * defines), so that what a checkout installs does not pass for it. */
#ifndef CHATGPT_VERSION
#define CHATGPT_VERSION    "0.2.0"
#endif
#define DEFAULT_USER_AGENT "lua-chatgpt/" CHATGPT_VERSION

/* Seconds. */
#define DEFAULT_TIMEOUT         600 /* a whole request */
#define DEFAULT_CONNECT_TIMEOUT 10  /* DNS, TCP and TLS */
#define DEFAULT_IDLE_TIMEOUT    60  /* no byte for this long, once the body has begun; 0: none */
#define DEFAULT_FIRST_BYTE_TIMEOUT 0 /* no body byte this long after the start; 0: none */
#define DEFAULT_KEY_CMD_TIMEOUT 10  /* api_key_cmd: enough for a password manager */

#define DEFAULT_MAX_RETRIES 2

/* Bytes. */
#define DEFAULT_MAX_RESPONSE_BYTES (64 * 1024 * 1024)
#define DEFAULT_MAX_EVENT_BYTES    SSE_DEFAULT_MAX_EVENT
/* A stream's bytes, after decompression: what its answer is assembled
 * from, so what bounds the memory it takes. The largest real streams
 * (128k tokens, with logprobs) stay well under it. */
#define DEFAULT_MAX_STREAM_BYTES (256 * 1024 * 1024)
#define DEFAULT_MAX_HEADER_BYTES   (256 * 1024)

/* Connections of the state's engine (core.configure). 256 per host: 64
 * requests to one host all run at once, as with the official SDKs, which
 * do not queue at 64; no total limit. */
#define DEFAULT_MAX_HOST_CONNECTIONS  256
#define DEFAULT_MAX_TOTAL_CONNECTIONS 0 /* 0: no limit */

#endif
