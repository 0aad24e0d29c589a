/* curl's socket interface: see sockets.h. */
#include "sockets.h"
#include "compat.h"
#include "engine.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/epoll.h>
#define HAVE_EPOLL 1
#endif

#include <lauxlib.h>

/* Appends k to the changed list once, keeping the order curl told us in
 * (a closed fd may come back as a new socket in the same turn). */
static void mark_changed(sockets *s, esock *k) {
  if (k->changed) return;
  k->changed = 1;
  k->changed_next = NULL;
  *s->changed_tail = k;
  s->changed_tail = &k->changed_next;
}

/* Puts k into the epoll set for what curl wants, or takes it out (none,
 * or removed: curl says so before it closes the socket). Returns -1 when
 * the set cannot take it. Level-triggered, as poll(2) is: a socket left
 * ready at the end of a turn keeps the set readable. */
static int ep_set(sockets *s, esock *k) {
#ifdef HAVE_EPOLL
  struct epoll_event ev;
  if (s->epfd < 0) return 0;
  if (k->what <= 0) {
    if (k->in_ep) {
      epoll_ctl(s->epfd, EPOLL_CTL_DEL, k->fd, NULL);
      k->in_ep = 0;
      s->ep_n--;
    }
    return 0;
  }
  memset(&ev, 0, sizeof ev);
  ev.events = ((k->what & CURL_POLL_IN) ? EPOLLIN : 0) | ((k->what & CURL_POLL_OUT) ? EPOLLOUT : 0);
  ev.data.fd = k->fd;
  if (k->in_ep) return epoll_ctl(s->epfd, EPOLL_CTL_MOD, k->fd, &ev);
  if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, k->fd, &ev) != 0 &&
      !(errno == EEXIST && epoll_ctl(s->epfd, EPOLL_CTL_MOD, k->fd, &ev) == 0))
    return -1;
  k->in_ep = 1;
  s->ep_n++;
#else
  (void)s;
  (void)k;
#endif
  return 0;
}

/* CURLMOPT_SOCKETFUNCTION: only records (and keeps the epoll set, plain C). */
static int on_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp) {
  engine *e = (engine *)userp;
  sockets *s = &e->socks;
  esock *k = (esock *)socketp;
  (void)easy;
  if (k == NULL) {
    if (what == CURL_POLL_REMOVE) return 0;
    if ((k = (esock *)calloc(1, sizeof *k)) == NULL) return -1; /* curl fails the transfer */
    k->fd = fd;
    k->next = s->all;
    if (s->all) s->all->prev = k;
    s->all = k;
    s->n++;
    curl_multi_assign(e->multi, fd, k);
  }
  k->what = what == CURL_POLL_REMOVE ? -1 : what;
  if (ep_set(s, k) != 0) return -1; /* curl fails the transfers on it */
  if (what == CURL_POLL_REMOVE) { /* off `all`; freed once the host has heard */
    if (k->prev)
      k->prev->next = k->next;
    else
      s->all = k->next;
    if (k->next) k->next->prev = k->prev;
    k->prev = k->next = NULL;
    s->n--;
  }
  mark_changed(s, k);
  return 0;
}

/* CURLMOPT_TIMERFUNCTION: only records when curl wants to be called.
 * A wait of ms > 0 is one ms longer: libcurl 7.x cuts the time left down
 * to whole ms, so a call at `ms` can come before its deadline, find
 * nothing due, and cost a second wake-up a ms later (an idle editor woke
 * twice for each of curl's timers). */
static int on_timer(CURLM *multi, long ms, void *userp) {
  engine *e = (engine *)userp;
  (void)multi;
  e->socks.due = ms < 0 ? -1 : engine_clock() + (double)ms / 1000 + (ms > 0 ? 0.001 : 0);
  return 0;
}

void sockets_init(engine *e) {
  sockets *s = &e->socks;
  memset(s, 0, sizeof *s);
  s->due = -1;
  s->epfd = -1;
  s->changed_tail = &s->changed;
  curl_multi_setopt(e->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
  curl_multi_setopt(e->multi, CURLMOPT_SOCKETDATA, e);
  curl_multi_setopt(e->multi, CURLMOPT_TIMERFUNCTION, on_timer);
  curl_multi_setopt(e->multi, CURLMOPT_TIMERDATA, e);
}

/* Hands the changed list over: calls fn for each record, frees the removed. */
static void drain(sockets *s, void (*fn)(void *, esock *), void *ud) {
  esock *k = s->changed, *next;
  s->changed = NULL;
  s->changed_tail = &s->changed;
  for (; k; k = next) {
    next = k->changed_next;
    k->changed = 0;
    if (fn) fn(ud, k);
    if (k->what < 0) free(k);
  }
}

void sockets_forget_removed(sockets *s) { drain(s, NULL, NULL); }

/* Back to one descriptor per socket: closing the set empties it. */
static void ep_close(sockets *s) {
  esock *k;
  if (s->epfd < 0) return;
  close(s->epfd);
  s->epfd = -1;
  s->ep_n = 0;
  for (k = s->all; k; k = k->next) k->in_ep = 0;
}

/* Makes the epoll set with every socket curl watches; 0 when the platform
 * has none or the set cannot be made (the host then watches each socket). */
static int ep_open(sockets *s) {
#ifdef HAVE_EPOLL
  esock *k;
  if (s->epfd >= 0) return 1;
  if ((s->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0) return 0;
  for (k = s->all; k; k = k->next)
    if (ep_set(s, k) != 0) {
      ep_close(s);
      return 0;
    }
  return 1;
#else
  (void)s;
  return 0;
#endif
}

void sockets_free(sockets *s) {
  esock *k, *next;
  ep_close(s);
  drain(s, NULL, NULL);
  for (k = s->all; k; k = next) {
    next = k->next;
    free(k);
  }
  s->all = NULL;
  s->n = 0;
  free(s->pfd);
  s->pfd = NULL;
  s->pfd_cap = 0;
}

/* curl's timer, when due. The timer is one-shot (CURLMOPT_TIMERFUNCTION:
 * "install a non-repeating timer"): once fired it is gone, and curl calls
 * on_timer again only when it wants another. Kept armed, a past expiry
 * that curl had no reason to renew asked the host for timer(0) forever. */
void sockets_timer(engine *e) {
  int running;
  if (e->socks.due >= 0 && engine_clock() >= e->socks.due) {
    e->socks.due = -1;
    curl_multi_socket_action(e->multi, CURL_SOCKET_TIMEOUT, 0, &running);
  }
}

/* The epoll set is readable: hands curl its ready sockets, for at most
 * SOCKETS_TURN_BUDGET (those left are still ready, and keep the set
 * readable for the host's next call). Returns whether the budget ran out. */
static int ep_action(engine *e, double start) {
#ifdef HAVE_EPOLL
  struct epoll_event evs[64];
  int n, i, running;
  esock *k = e->socks.ep_n == 1 ? e->socks.all : NULL;
  /* One socket in the set (one stream: the common case): the set is
   * ready because it is, for some of what curl wants, so curl is handed
   * it without asking epoll which (a system call every wake-up; curl's
   * read or write finds EAGAIN if the set was only stale) */
  while (k && !k->in_ep) k = k->next;
  if (k) {
    curl_multi_socket_action(e->multi, k->fd,
                             ((k->what & CURL_POLL_IN) ? CURL_CSELECT_IN : 0) |
                                 ((k->what & CURL_POLL_OUT) ? CURL_CSELECT_OUT : 0),
                             &running);
    return 0;
  }
  do {
    n = epoll_wait(e->socks.epfd, evs, 64, 0);
    for (i = 0; i < n; i++) {
      uint32_t r = evs[i].events;
      int ev = ((r & EPOLLIN) ? CURL_CSELECT_IN : 0) | ((r & EPOLLOUT) ? CURL_CSELECT_OUT : 0) |
               ((r & (EPOLLERR | EPOLLHUP)) ? CURL_CSELECT_ERR : 0);
      if (i > 0 && engine_clock() - start > SOCKETS_TURN_BUDGET) return 1;
      curl_multi_socket_action(e->multi, evs[i].data.fd, ev, &running);
    }
  } while (n == 64 && engine_clock() - start <= SOCKETS_TURN_BUDGET);
  return n == 64;
#else
  (void)e;
  (void)start;
  return 0;
#endif
}

/* A turn whose budget ran out leaves curl's timer to the next one: the
 * host's timer (changes() tells the past due time: at once) or the next
 * poll, which runs it first. */
void sockets_action(engine *e, curl_socket_t fd, int ev) {
  int running, spent = 0;
  double start = engine_clock();
  engine_feed(e);
  if (fd != CURL_SOCKET_BAD && fd == e->socks.epfd)
    spent = ep_action(e, start);
  else if (fd != CURL_SOCKET_BAD)
    curl_multi_socket_action(e->multi, fd, ev, &running);
  if (!spent) sockets_timer(e);
}

void sockets_poll(engine *e, double wait, double since) {
  sockets *s = &e->socks;
  esock *k;
  double start;
  int n = 0, i, j, rc, running, done = 0;
  if (s->due >= 0 && s->due - engine_clock() < wait) wait = s->due - engine_clock();
  if (!(wait > 0)) wait = 0;
  if (s->n > s->pfd_cap) {
    int cap = s->n * 2;
    struct pollfd *p = (struct pollfd *)realloc(s->pfd, (size_t)cap * sizeof *p);
    if (p) {
      s->pfd = p;
      s->pfd_cap = cap;
    }
  }
  for (k = s->all; k && n < s->pfd_cap; k = k->next) {
    if (k->what <= 0) continue;
    s->pfd[n].fd = k->fd;
    s->pfd[n].events = (short)(((k->what & CURL_POLL_IN) ? POLLIN : 0) |
                               ((k->what & CURL_POLL_OUT) ? POLLOUT : 0));
    s->pfd[n].revents = 0;
    n++;
  }
  rc = poll(n ? s->pfd : NULL, (nfds_t)n, wait > 0 ? (int)engine_ms(wait, INT_MAX) : 0);
  start = engine_clock();
  if (!(wait > 0) && since < start) start = since; /* the turn did not wait: its start */
  for (j = 0; rc > 0 && j < n; j++) {
    short r;
    int ev = 0;
    i = (s->turn + j) % n;
    r = s->pfd[i].revents;
    if (!r) continue;
    /* one turn does at most SOCKETS_TURN_BUDGET of curl's work, and at
     * least one socket's: the sockets left are still ready, poll(2) says
     * so next turn, and that turn begins with them */
    if (done > 0 && engine_clock() - start > SOCKETS_TURN_BUDGET) {
      s->turn = i;
      return; /* curl's timer too: the next turn runs it first (drive) */
    }
    if (r & POLLIN) ev |= CURL_CSELECT_IN;
    if (r & POLLOUT) ev |= CURL_CSELECT_OUT;
    if (r & (POLLERR | POLLHUP | POLLNVAL)) ev |= CURL_CSELECT_ERR;
    curl_multi_socket_action(e->multi, s->pfd[i].fd, ev, &running);
    done++;
  }
  sockets_timer(e);
}

/* ---- Lua ------------------------------------------------------------- */

/* core.attach(on [, one_fd]) -> one_fd: a host watches the sockets from
 * now on (or no longer), each, or all through one descriptor. On
 * attaching, every socket curl has is news for the host. */
static int sockets_attach(lua_State *L) {
  engine *e = engine_up(L);
  int on = lua_toboolean(L, 1), one = on && lua_toboolean(L, 2);
  esock *k;
  if (!one) ep_close(&e->socks);
  if (on && !e->socks.attached)
    for (k = e->socks.all; k; k = k->next) mark_changed(&e->socks, k);
  if (!on) sockets_forget_removed(&e->socks);
  e->socks.attached = on;
  lua_pushboolean(L, one && ep_open(&e->socks));
  return 1;
}

static int ev_of(const char *what) {
  int ev = 0;
  if (what == NULL) return 0;
  if (strchr(what, 'r')) ev |= CURL_CSELECT_IN;
  if (strchr(what, 'w')) ev |= CURL_CSELECT_OUT;
  if (strchr(what, 'e')) ev |= CURL_CSELECT_ERR;
  return ev;
}

/* core.action([fd [, what]]) -> running, ready transfers... (as core.poll)
 * fd ready for what ("r", "w", "rw"; nil: curl looks itself), or no fd:
 * the timer fired. Never waits. */
static int sockets_action_lua(lua_State *L) {
  engine *e = engine_up(L);
  curl_socket_t fd = CURL_SOCKET_BAD;
  if (!lua_isnoneornil(L, 1)) {
    lua_Number n = luaL_checknumber(L, 1);
    luaL_argcheck(L, n >= 0 && n <= INT_MAX && n == floor(n), 1, "a file descriptor expected");
    fd = (curl_socket_t)n;
  }
  sockets_action(e, fd, ev_of(luaL_optstring(L, 2, NULL)));
  engine_settle(e);
  return engine_push_ready(L, e);
}

static void push_change(void *ud, esock *k) {
  lua_State *L = (lua_State *)ud;
  lua_pushinteger(L, (lua_Integer)k->fd);
  switch (k->what) {
  case CURL_POLL_IN: lua_pushliteral(L, "r"); break;
  case CURL_POLL_OUT: lua_pushliteral(L, "w"); break;
  case CURL_POLL_INOUT: lua_pushliteral(L, "rw"); break;
  default: lua_pushboolean(L, 0); /* none, or removed */
  }
}

/* core.changes() -> the next deadline (core.now's clock) | false, fd, what, ...
 * The deadline is curl's timer or a transfer's idle or total timeout,
 * whichever comes first. */
static int sockets_changes(lua_State *L) {
  engine *e = engine_up(L);
  double at = engine_next_deadline(e), now = engine_clock();
  esock *k;
  int n = 0;
  lua_settop(L, 0);
  if (e->socks.epfd < 0)
    for (k = e->socks.changed; k; k = k->changed_next) n++;
  luaL_checkstack(L, 2 * n + 3, "too many socket changes"); /* before the drain */
  if (e->socks.due >= 0 && e->socks.due < at) at = e->socks.due;
  if (e->queue != NULL) at = now; /* transfers wait for their turn */
  if (at < HUGE_VAL)
    lua_pushnumber(L, at > now ? at : now);
  else
    lua_pushboolean(L, 0);
  if (e->socks.epfd >= 0) { /* the host watches the set, while it holds a socket */
    drain(&e->socks, NULL, NULL);
    lua_pushinteger(L, (lua_Integer)e->socks.epfd);
    if (e->socks.ep_n > 0)
      lua_pushliteral(L, "r");
    else
      lua_pushboolean(L, 0);
    return 3;
  }
  drain(&e->socks, push_change, L);
  return lua_gettop(L);
}

/* clang-format off */
static const luaL_Reg sockets_funcs[] = {
  {"attach", sockets_attach},
  {"action", sockets_action_lua},
  {"changes", sockets_changes},
  {NULL, NULL},
};
/* clang-format on */

void sockets_open(lua_State *L) { engine_upvalues(L, sockets_funcs); }
