#!/usr/bin/env python3
"""Generates what the benchmark servers serve, and what each run must report.

    python3 bench/fixtures.py WORKDIR NGINX_PORT ECHO_MODULE|-

Writes, under WORKDIR:
  www/completion.json     a realistic ~600-byte chat.completion (compact JSON)
  www/stream<N>.sse       SSE bodies of N chunk events + "data: [DONE]", for
                          N in STREAMS; chunks shaped like gpt-4.1's in 2026
                          (id, object, created, model, service_tier,
                          system_fingerprint, choices[{index, delta, logprobs,
                          finish_reason}], usage, obfuscation)
  conf/nginx.conf         nginx serving them on 127.0.0.1:NGINX_PORT, one HTTP
                          chunk per SSE event (echo + echo_flush), or nothing
                          for streams when ECHO_MODULE is "-" (then the Python
                          server serves the streams: see servers.py)
  www/paced.json          the paced streams (PACED): route name -> {"n": N,
                          "gaps": [ms before each event, [DONE] included]};
                          nginx serves them with echo_sleep (no worker
                          blocked), or servers.py does
  expected.json           per body: bytes, events, deltas (non-empty content
                          pieces) and chars (content characters), so that the
                          harness can check every peer's result line.

Deterministic: the same bytes on every run.
"""
import json
import os
import random
import sys

STREAMS = (10, 200, 5000)
# Paced streams for bench/scale.py and bench/idle.py: (gap in ms, N chunks,
# jittered variants). /p<MS>s<N>/ waits exactly MS ms before every event but
# the first ([DONE] included): N chunks in N x MS ms. /p<MS>s<N>v<K>/ (K <
# variants) waits 0.8-1.2 x MS (its own seeded sequence, MS on average):
# streams of one fixed gap started together stay in step for good (nginx
# times every timer set in one turn of its loop from the same cached
# clock), which no real server does.
PACED = ((100, 50, 8),)
CREATED = 1770747154
MODEL = "gpt-4.1-2025-04-14"

# Token-sized pieces, as a tokenizer cuts English prose; a few carry JSON
# escapes (newline, quote) so that decoders have to unescape. ASCII only, so
# that "characters" mean the same in Lua (#s), C and JavaScript (.length).
WORDS = ("the a of to and in is that it for as with was on be by this are or"
         " an at from which but not have has can more one all their will been"
         " stream chunk token model server client request response latency"
         " buffer parse decode event delta content engine socket memory cost"
         " measure").split()
PUNCT = [",", ".", ":", ";", "\n\n", "\n", " \"", "\"", " (", ")", "-", "'s"]


def pieces(rng, n):
    out = []
    for _ in range(n):
        r = rng.random()
        if r < 0.14:
            out.append(rng.choice(PUNCT))
        elif r < 0.20:
            w = rng.choice(WORDS)
            out.append(" " + w[:1].upper() + w[1:])
        elif r < 0.25:
            out.append(rng.choice(WORDS)[:3])          # a sub-word token
        else:
            out.append(" " + rng.choice(WORDS))
    return out


def obfuscation(rng):
    alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    return "".join(rng.choice(alnum) for _ in range(rng.randint(4, 16)))


def dumps(v):
    return json.dumps(v, separators=(",", ":"), ensure_ascii=True)


def chunk(cid, rng, delta, finish=None):
    return dumps({
        "id": cid, "object": "chat.completion.chunk", "created": CREATED,
        "model": MODEL, "service_tier": "default",
        "system_fingerprint": "fp_8b22347a3e",
        "choices": [{"index": 0, "delta": delta, "logprobs": None,
                     "finish_reason": finish}],
        "usage": None, "obfuscation": obfuscation(rng),
    })


def stream(n):
    """n chunk events: a role chunk (content ""), n - 2 content chunks, a
    finish chunk; then data: [DONE]."""
    rng = random.Random(n)
    cid = "chatcmpl-Bench%020d" % n
    events = [chunk(cid, rng, {"role": "assistant", "content": "", "refusal": None})]
    text = pieces(rng, n - 2)
    for p in text:
        events.append(chunk(cid, rng, {"content": p}))
    events.append(chunk(cid, rng, {}, "stop"))
    body = "".join("data: %s\n\n" % e for e in events) + "data: [DONE]\n\n"
    meta = {"bytes": len(body.encode()), "events": n + 1, "chunks": n,
            "deltas": len(text), "chars": sum(len(p) for p in text)}
    return events, body, meta


def completion():
    """A chat.completion of 600 bytes, shaped like gpt-3.5-turbo-0125's in
    2026 (refusal, annotations, usage details, service_tier)."""
    rng = random.Random(600)
    words = []
    while True:
        words.extend(pieces(rng, 1))
        text = "".join(words).strip()
        resp = {
            "id": "chatcmpl-DPTBnLVEU6gLtntz301fthMFXeE4C", "object": "chat.completion",
            "created": 1774962775, "model": "gpt-3.5-turbo-0125",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text,
                                                 "refusal": None, "annotations": []},
                         "logprobs": None, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 15, "completion_tokens": len(words),
                      "total_tokens": 15 + len(words),
                      "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
                      "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                                                    "accepted_prediction_tokens": 0,
                                                    "rejected_prediction_tokens": 0}},
            "service_tier": "default", "system_fingerprint": None,
        }
        body = dumps(resp)
        if len(body) >= 600:
            return body, {"bytes": len(body), "chars": len(text)}


def ngx_quote(s):
    """A single-quoted nginx string holding s literally: nginx unescapes
    \\\\ \\' \\" \\t \\r \\n inside quotes, and echo expands $variables (our
    bodies have no '$')."""
    assert "$" not in s
    return "'" + s.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n") + "'"


HEADERS = """
      add_header x-request-id req_30120fae78c49759a7f9a4381ee6abe2 always;
      add_header openai-processing-ms 762 always;
      add_header openai-version 2020-10-01 always;
      add_header x-ratelimit-limit-requests 10000 always;
      add_header x-ratelimit-limit-tokens 50000000 always;
      add_header x-ratelimit-remaining-requests 9999 always;
      add_header x-ratelimit-remaining-tokens 49999989 always;
      add_header x-ratelimit-reset-requests 6ms always;
      add_header x-ratelimit-reset-tokens 0s always;"""


def paced():
    """Route name -> {"n": chunks, "gaps": ms before each event}."""
    out = {}
    for gap, n, variants in PACED:
        out["p%ds%d" % (gap, n)] = {"n": n, "gaps": [0] + [gap] * n}
        for k in range(variants):
            rng = random.Random("p%ds%dv%d" % (gap, n, k))
            out["p%ds%dv%d" % (gap, n, k)] = {
                "n": n, "gaps": [0] + [round(gap * rng.uniform(0.8, 1.2)) for _ in range(n)]}
    return out


def nginx_conf(work, port, echo_module, comp_body, streams, routes):
    user = "user root;\n" if os.geteuid() == 0 else ""
    load = "load_module %s;\n" % echo_module if echo_module != "-" else ""
    locs = []
    locs.append("""
    location = /plain/v1/chat/completions {
      default_type application/json;%s
      return 200 %s;
    }""" % (HEADERS, ngx_quote(comp_body)))
    if echo_module != "-":
        for n, events in streams.items():
            lines = []
            for e in events:
                lines.append("      echo -n %s;\n      echo_flush;" % ngx_quote("data: %s\n\n" % e))
            lines.append("      echo -n %s;" % ngx_quote("data: [DONE]\n\n"))
            locs.append("""
    location = /s%d/v1/chat/completions {
      default_type "text/event-stream; charset=utf-8";%s
      add_header cache-control no-cache always;
      echo_read_request_body;
%s
    }""" % (n, HEADERS, "\n".join(lines)))
        for name, r in sorted(routes.items()):
            lines = []
            for e, gap in zip(streams[r["n"]] + ["[DONE]"], r["gaps"]):
                if gap:
                    lines.append("      echo_sleep %.3f;" % (gap / 1000))
                lines.append("      echo -n %s;\n      echo_flush;" % ngx_quote("data: %s\n\n" % e))
            locs.append("""
    location = /%s/v1/chat/completions {
      default_type "text/event-stream; charset=utf-8";%s
      add_header cache-control no-cache always;
      echo_read_request_body;
%s
    }""" % (name, HEADERS, "\n".join(lines)))
    return """# generated by bench/fixtures.py: do not edit
%s%sworker_processes 1;
daemon off;
pid %s/nginx.pid;
error_log %s/logs/error.log warn;
worker_rlimit_nofile 8192;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path %s/tmp/body;
  proxy_temp_path %s/tmp/proxy;
  fastcgi_temp_path %s/tmp/fastcgi;
  uwsgi_temp_path %s/tmp/uwsgi;
  scgi_temp_path %s/tmp/scgi;
  client_body_buffer_size 64k;
  keepalive_timeout 120s;
  keepalive_requests 1000000;
  tcp_nodelay on;
  server_tokens off;
  server {
    listen 127.0.0.1:%d reuseport backlog=4096;
    location = /ping { return 200 'pong'; }%s
  }
}
""" % (load, user, work, work, work, work, work, work, work, port, "".join(locs))


def main():
    work, port, echo_module = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    for d in ("www", "conf", "logs", "tmp"):
        os.makedirs(os.path.join(work, d), exist_ok=True)
    comp_body, comp_meta = completion()
    with open(os.path.join(work, "www", "completion.json"), "w") as f:
        f.write(comp_body)
    expected = {"completion": comp_meta}
    streams = {}
    routes = paced()
    for n in sorted(set(STREAMS) | {r["n"] for r in routes.values()}):
        events, body, meta = stream(n)
        streams[n] = events
        with open(os.path.join(work, "www", "stream%d.sse" % n), "w") as f:
            f.write(body)
        expected["stream%d" % n] = meta
    with open(os.path.join(work, "conf", "nginx.conf"), "w") as f:
        f.write(nginx_conf(work, port, echo_module, comp_body, streams, routes))
    with open(os.path.join(work, "www", "paced.json"), "w") as f:
        json.dump(routes, f)
    with open(os.path.join(work, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1)


if __name__ == "__main__":
    main()
