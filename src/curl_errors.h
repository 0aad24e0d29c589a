/* curl's error codes, one list (Lua-cURLv3's X-macro way): for every
 * CURLcode of libcurl 7.88 that an HTTP(S) transfer can end with, its
 * stable name (the error table's `code`, CURLE_ dropped), its kind and
 * whether another attempt can help. The error tables of transfer.c and
 * core.curl_error are built from it, and the Lua side keeps no list of its
 * own: it reads err.retryable. A code outside the list comes as
 * "CURLE_<n>", kind "network", not retryable. Codes of other protocols
 * (FTP, TFTP, LDAP, SSH, RTSP, TELNET) and obsolete ones are left out.
 *
 * X(NAME, kind, retry): retry is RETRY_NO (it fails the same way every
 * time: certificates, TLS setup, a bad URL, a limit), RETRY_YES (the
 * network may do better next time) or RETRY_FRESH (only when no byte of
 * the answer came: once bytes arrived the server did work). */
#ifndef CHATGPT_CURL_ERRORS_H
#define CHATGPT_CURL_ERRORS_H

#include <curl/curl.h>
#include <lua.h>

enum { RETRY_NO, RETRY_YES, RETRY_FRESH };

/* clang-format off */
#define CURL_ERRORS_7_88(X)                                   \
  X(UNSUPPORTED_PROTOCOL,      "network", RETRY_NO)           \
  X(FAILED_INIT,               "network", RETRY_NO)           \
  X(URL_MALFORMAT,             "network", RETRY_NO)           \
  X(NOT_BUILT_IN,              "network", RETRY_NO)           \
  X(COULDNT_RESOLVE_PROXY,     "network", RETRY_YES)          \
  X(COULDNT_RESOLVE_HOST,      "network", RETRY_YES)          \
  X(COULDNT_CONNECT,           "network", RETRY_YES)          \
  X(WEIRD_SERVER_REPLY,        "network", RETRY_YES)          \
  X(HTTP2,                     "network", RETRY_YES)          \
  X(PARTIAL_FILE,              "network", RETRY_YES)          \
  X(WRITE_ERROR,               "network", RETRY_YES)          \
  X(UPLOAD_FAILED,             "network", RETRY_YES)          \
  X(READ_ERROR,                "network", RETRY_YES)          \
  X(OUT_OF_MEMORY,             "limit",   RETRY_NO)           \
  X(OPERATION_TIMEDOUT,        "timeout", RETRY_FRESH)        \
  X(RANGE_ERROR,               "network", RETRY_YES)          \
  X(HTTP_POST_ERROR,           "network", RETRY_NO)           \
  X(SSL_CONNECT_ERROR,         "network", RETRY_YES)          \
  X(FUNCTION_NOT_FOUND,        "network", RETRY_NO)           \
  X(ABORTED_BY_CALLBACK,       "network", RETRY_YES)          \
  X(BAD_FUNCTION_ARGUMENT,     "network", RETRY_NO)           \
  X(INTERFACE_FAILED,          "network", RETRY_NO)           \
  X(TOO_MANY_REDIRECTS,        "network", RETRY_NO)           \
  X(UNKNOWN_OPTION,            "network", RETRY_NO)           \
  X(SETOPT_OPTION_SYNTAX,      "network", RETRY_NO)           \
  X(GOT_NOTHING,               "network", RETRY_YES)          \
  X(SSL_ENGINE_NOTFOUND,       "network", RETRY_NO)           \
  X(SSL_ENGINE_SETFAILED,      "network", RETRY_NO)           \
  X(SEND_ERROR,                "network", RETRY_YES)          \
  X(RECV_ERROR,                "network", RETRY_YES)          \
  X(SSL_CERTPROBLEM,           "network", RETRY_NO)           \
  X(SSL_CIPHER,                "network", RETRY_NO)           \
  X(PEER_FAILED_VERIFICATION,  "network", RETRY_NO)           \
  X(BAD_CONTENT_ENCODING,      "network", RETRY_YES)          \
  X(FILESIZE_EXCEEDED,         "limit",   RETRY_NO)           \
  X(SEND_FAIL_REWIND,          "network", RETRY_NO)           \
  X(SSL_ENGINE_INITFAILED,     "network", RETRY_NO)           \
  X(LOGIN_DENIED,              "network", RETRY_NO)           \
  X(SSL_CACERT_BADFILE,        "network", RETRY_NO)           \
  X(SSL_SHUTDOWN_FAILED,       "network", RETRY_YES)          \
  X(AGAIN,                     "network", RETRY_YES)          \
  X(SSL_CRL_BADFILE,           "network", RETRY_NO)           \
  X(SSL_ISSUER_ERROR,          "network", RETRY_NO)           \
  X(NO_CONNECTION_AVAILABLE,   "network", RETRY_YES)          \
  X(SSL_PINNEDPUBKEYNOTMATCH,  "network", RETRY_NO)           \
  X(SSL_INVALIDCERTSTATUS,     "network", RETRY_NO)           \
  X(HTTP2_STREAM,              "network", RETRY_YES)          \
  X(RECURSIVE_API_CALL,        "network", RETRY_NO)           \
  X(AUTH_ERROR,                "network", RETRY_NO)           \
  X(HTTP3,                     "network", RETRY_YES)          \
  X(QUIC_CONNECT_ERROR,        "network", RETRY_YES)          \
  X(PROXY,                     "network", RETRY_YES)          \
  X(SSL_CLIENTCERT,            "network", RETRY_NO)           \
  X(UNRECOVERABLE_POLL,        "network", RETRY_YES)
/* clang-format on */

/* Codes newer than 7.88, where the headers have them. */
#if LIBCURL_VERSION_NUM >= 0x080600
#define CURL_ERRORS_8_6(X) X(TOO_LARGE, "limit", RETRY_NO)
#else
#define CURL_ERRORS_8_6(X)
#endif
#if LIBCURL_VERSION_NUM >= 0x080800
#define CURL_ERRORS_8_8(X) X(ECH_REQUIRED, "network", RETRY_NO)
#else
#define CURL_ERRORS_8_8(X)
#endif

#define CURL_ERRORS(X) CURL_ERRORS_7_88(X) CURL_ERRORS_8_6(X) CURL_ERRORS_8_8(X)

typedef struct curl_error {
  CURLcode code;
  const char *name; /* "COULDNT_CONNECT" */
  const char *kind; /* "network" | "timeout" | "limit" */
  int retry;        /* RETRY_* */
} curl_error;

/* The list's entry for c, or NULL when c is not in it. */
const curl_error *curl_error_find(CURLcode c);

/* Pushes an error table {kind, code, message, received, retryable}, the
 * shape of every transport error the core hands to Lua. */
void curl_error_push(lua_State *L, const char *kind, const char *code, const char *message,
                     int received, int retryable);

/* Lua: core.curl_error(n) -> the table a transfer that ended with CURLcode
 * n, no byte received, would give: {kind, code, message, received = false,
 * retryable}. */
void curl_errors_open(lua_State *L);

#endif
