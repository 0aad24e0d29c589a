/* raw_curl: the floor. The same HTTP exchanges as the other peers, with
 * nothing on top of libcurl: one reused easy handle for sequential work
 * (connection kept alive), curl_multi for concurrent work; bodies are
 * discarded, only counted (bytes, and SSE events by their blank lines).
 *
 *   raw_curl one|seq|stream|conc BASE_URL N
 *
 * Prints one line: ok requests=N bytes=B events=E inner_s=S
 * (or "fail <why>"); inner_s is the time from the first request started to
 * the last one done, inside the process.
 */
#define _GNU_SOURCE
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct counter {
  long long bytes, events;
  char last;                    /* last byte seen, for "\n\n" across writes */
} counter;

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static size_t on_write(char *p, size_t size, size_t n, void *ud) {
  counter *c = (counter *)ud;
  size_t len = size * n, i;
  const char *q, *end = p + len;
  c->bytes += (long long)len;
  for (q = p; q < end && (q = memchr(q, '\n', (size_t)(end - q))) != NULL; q++) {
    i = (size_t)(q - p);
    if ((i == 0 && c->last == '\n') || (i > 0 && p[i - 1] == '\n')) c->events++;
  }
  if (len) c->last = p[len - 1];
  return len;
}

static const char *BODY =
  "{\"messages\":[{\"role\":\"system\",\"content\":\"You are a helpful assistant.\"},"
  "{\"role\":\"user\",\"content\":\"Say hello to the benchmark.\"}],\"model\":\"gpt-4o-mini\"}";
static const char *SBODY =
  "{\"messages\":[{\"role\":\"system\",\"content\":\"You are a helpful assistant.\"},"
  "{\"role\":\"user\",\"content\":\"Say hello to the benchmark.\"}],\"model\":\"gpt-4o-mini\","
  "\"stream\":true}";

static CURL *make(const char *url, int stream, struct curl_slist *h, counter *c) {
  CURL *e = curl_easy_init();
  if (!e) return NULL;
  curl_easy_setopt(e, CURLOPT_URL, url);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
  curl_easy_setopt(e, CURLOPT_POSTFIELDS, stream ? SBODY : BODY);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, c);
  curl_easy_setopt(e, CURLOPT_USERAGENT, "raw_curl");
  return e;
}

int main(int argc, char **argv) {
  const char *mode, *base;
  char url[1024];
  struct curl_slist *h = NULL;
  counter total = {0, 0, 0};
  long n, i, code;
  int stream, ok = 1;
  double t0, t1;
  if (argc != 4) {
    fprintf(stderr, "usage: raw_curl one|seq|stream|conc BASE_URL N\n");
    return 2;
  }
  mode = argv[1];
  base = argv[2];
  n = atol(argv[3]);
  stream = strcmp(mode, "stream") == 0;
  snprintf(url, sizeof url, "%s/chat/completions", base);
  curl_global_init(CURL_GLOBAL_DEFAULT);
  h = curl_slist_append(h, "Content-Type: application/json");
  h = curl_slist_append(h, stream ? "Accept: text/event-stream" : "Accept: application/json");
  h = curl_slist_append(h, "Authorization: Bearer sk-bench-000000000000000000000000");
  h = curl_slist_append(h, "Expect:");

  t0 = now();
  if (strcmp(mode, "conc") != 0) {
    counter c = {0, 0, 0};
    CURL *e = make(url, stream, h, &c);
    for (i = 0; i < n && ok; i++) {
      CURLcode rc = curl_easy_perform(e);
      code = 0;
      curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
      if (rc != CURLE_OK || code != 200) {
        printf("fail request %ld: %s, HTTP %ld\n", i + 1, curl_easy_strerror(rc), code);
        ok = 0;
      }
    }
    total = c;
    curl_easy_cleanup(e);
  } else {
    CURLM *m = curl_multi_init();
    CURL **es = calloc((size_t)n, sizeof *es);
    counter *cs = calloc((size_t)n, sizeof *cs);
    CURLMsg *msg;
    int running = 1, left;
    long done = 0;
    for (i = 0; i < n; i++) {
      es[i] = make(url, 0, h, &cs[i]);
      curl_multi_add_handle(m, es[i]);
    }
    while (running) {
      curl_multi_perform(m, &running);
      while ((msg = curl_multi_info_read(m, &left)) != NULL) {
        if (msg->msg != CURLMSG_DONE) continue;
        code = 0;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &code);
        if (msg->data.result != CURLE_OK || code != 200) {
          if (ok) printf("fail %s, HTTP %ld\n", curl_easy_strerror(msg->data.result), code);
          ok = 0;
        }
        done++;
      }
      if (running) curl_multi_poll(m, NULL, 0, 1000, NULL);
    }
    for (i = 0; i < n; i++) {
      total.bytes += cs[i].bytes;
      total.events += cs[i].events;
      curl_multi_remove_handle(m, es[i]);
      curl_easy_cleanup(es[i]);
    }
    curl_multi_cleanup(m);
    if (done != n && ok) { printf("fail %ld of %ld done\n", done, n); ok = 0; }
    free(es);
    free(cs);
  }
  t1 = now();
  if (ok)
    printf("ok requests=%ld bytes=%lld events=%lld inner_s=%.4f\n", n, total.bytes,
           total.events, t1 - t0);
  curl_slist_free_all(h);
  curl_global_cleanup();
  return ok ? 0 : 1;
}
