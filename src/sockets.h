/* curl's socket interface for the engine: the sockets curl wants watched
 * and its timer, recorded by plain C callbacks (CURLMOPT_SOCKETFUNCTION,
 * CURLMOPT_TIMERFUNCTION) from the engine's first use on, so that the
 * engine only ever drives curl with curl_multi_socket_action, whoever
 * watches the sockets:
 *   - polling (the default): engine.c's drive() poll(2)s them itself;
 *   - attached (chatgpt.attach): the host's event loop watches them, told
 *     by Lua what changed (core.changes) after curl has returned, and
 *     calls core.action when one is ready or the timer fires;
 *   - attached with one descriptor (Linux): the sockets go into our own
 *     epoll set, and the host watches only that set for reading. A host's
 *     poller then never sees a socket's error itself (libuv reports
 *     POLLERR on a refused or reset socket as EBADF, which luv prints).
 * Switching between the two is a flag: nothing in flight notices. */
#ifndef CHATGPT_SOCKETS_H
#define CHATGPT_SOCKETS_H

#include <curl/curl.h>
#include <lua.h>

struct engine;

/* Seconds of curl's work one turn may take before the sockets left over
 * wait for the next (they are still ready then), counted from the turn's
 * start (curl's timer, run first, included) unless the turn waited: with
 * a thousand streams, a poll(0) that handed curl every ready socket took up
 * to 8 ms, and curl's timer alone takes up to 2 ms of a turn. With the
 * callbacks' share (loop.lua's TURN_BUDGET) a turn works ~2 ms at most,
 * so that a full cycle of the host's Lua collector landing in it (~2.7 ms
 * with a thousand streams) still leaves the call under 5 ms. */
#define SOCKETS_TURN_BUDGET 0.0012

typedef struct esock {
  curl_socket_t fd;
  int what;    /* CURL_POLL_IN/OUT/INOUT, 0: none; -1: removed by curl */
  int changed; /* on the changed list */
  int in_ep;   /* in the epoll set */
  struct esock *prev, *next, *changed_next;
} esock;

typedef struct sockets {
  esock *all;                         /* every socket curl told us of */
  esock *changed, **changed_tail;     /* not yet handed to the host, in order */
  int n;                              /* sockets on `all` */
  double due;                         /* curl's timer: monotonic time, < 0 none */
  int attached;
  int epfd; /* the epoll set the host watches (one descriptor), or -1 */
  int ep_n; /* sockets in it */
  struct pollfd *pfd;
  int pfd_cap;
  int turn; /* where the next turn's hand-over begins (after a cut one) */
} sockets;

/* Sets the callbacks on e's multi (at the engine's setup). */
void sockets_init(struct engine *e);
/* Frees every record (at the engine's close). */
void sockets_free(sockets *s);
/* Lets curl act on what is ready: poll(2)s the sockets for at most `wait`
 * seconds (0: only a look), then hands curl the ready sockets (until
 * SOCKETS_TURN_BUDGET after `since`, the turn's start, or after the wait)
 * and its timer when due. */
void sockets_poll(struct engine *e, double wait, double since);
/* Hands curl one socket's readiness (fd < 0: only its timer, when due). */
void sockets_action(struct engine *e, curl_socket_t fd, int ev_bitmask);
/* Runs curl's timer if it is due (a one-shot: see sockets.c). */
void sockets_timer(struct engine *e);
/* Drops the records of removed sockets that no host needs to hear of. */
void sockets_forget_removed(sockets *s);

/* Lua: core.attach(on [, one_fd]) -> whether the host watches one
 *      descriptor (one_fd asked for, and epoll there); core.action([fd,
 *      what]) -> like core.poll; core.changes() -> the engine's next
 *      deadline (core.now's clock; false: none), then fd, what ("r", "w",
 *      "rw", or false: stop watching) for each socket changed since the
 *      last call (with one descriptor: that one, "r" while it holds a
 *      socket, else false). */
void sockets_open(lua_State *L);

#endif
