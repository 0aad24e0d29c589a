#!/usr/bin/env python3
"""A local fake of the OpenAI REST API, for lua-chatgpt's specs.

Python 3 standard library only. Usage:

    python3 spec/support/fake_openai.py [--port N] [--host 127.0.0.1]
        [--port-file PATH] [--exit-on-stdin-eof] [--wire-dir DIR] [--verbose]

Binds a loopback address (port 0 = ephemeral), prints the port alone on the
first stdout line (and, with --port-file, writes it to PATH via a rename), then
serves until POST /_fake/shutdown, SIGTERM/SIGINT, or (with
--exit-on-stdin-eof) the end of its stdin or the death of its parent.

The HTTP layer is written on raw sockets rather than http.server, so that
every byte on the wire (framing, chunk boundaries, resets) is ours to choose.
One thread per connection; HTTP/1.1 keep-alive; request bodies with
Content-Length or chunked; "Expect: 100-continue" is answered.

API (matched by path suffix, query ignored)
  POST .../chat/completions   chat.completion, or SSE chunks when stream:true
                              (n choices, interleaved; include_usage honoured;
                              max_tokens/max_completion_tokens cut the reply
                              with finish_reason "length")
  POST .../completions        legacy text_completion (stream too)
  GET  .../models, .../models/ID
  POST .../embeddings         deterministic 8-float vectors ("dimensions"
                              honoured); encoding_format "base64" = LE float32
  anything else               404 {"error": {"message": "Invalid URL (...)"}}
  A body that is not JSON gets the API's 400; a missing "model" its 400.

Control API (JSON in and out; never recorded, never counted as connections)
  POST /_fake/script      a reply object or a list: appended to the queue;
                          -> {"queued": <queue length>, "added": n};
                          400 {"error": ...} for unknown/invalid fields
  GET  /_fake/requests    every recorded API request, oldest first
                          (?last=N: only the last N; ?since=ID: id > ID):
                          {id, method, path, query, args, headers [[n, v]...],
                          header {lower-name: v}, body (latin-1 text of the
                          bytes), body_b64, json (or null), conn, http_version,
                          time}
  POST /_fake/reset       clears queue, records and config (not the counters)
  POST /_fake/config      merges keys; a null value removes one. Keys:
                          require_key (401 unless "Authorization: Bearer K" or
                          "api-key: K"; checked before the queue, so a refused
                          request does not consume a scripted reply),
                          chat_text, completion_text (default reply texts)
  GET  /_fake/config, GET /_fake/queue {"queued": n}, GET /_fake/ping {ok, pid}
  GET  /_fake/connections {"accepted": connections that carried an API
                          request (their `conn` ids count from 1), "open": of
                          those still open, "tcp": every accepted connection}
  POST /_fake/shutdown    answers, then exits

Reply object (all fields optional)
  path, method, body_contains   this reply only answers requests whose path
                          ends with `path` / whose method is `method` / whose
                          body contains these bytes (to tell concurrent
                          requests apart)
  status, reason          default 200 / the standard phrase
  headers [[n, v], ...]   sent in order, case and duplicates kept; then ONLY
                          these plus framing (Content-Length or
                          Transfer-Encoding, Connection, Content-Encoding when
                          gzip) unless "default_headers": true (then the
                          defaults minus the names given, then these). A
                          Content-Length/Transfer-Encoding/Connection given
                          here replaces ours (the body is sent as is).
  headers_big {"bytes": N[, "name": n]}   adds one header of N bytes
  body bodies (exclusive):
    body (text; UTF-8, or latin-1 with "body_encoding": "latin1"), body_b64,
    body_file (relative: wire folder, then cwd; *.sse files go as events),
    json (compact), sse [s, ...] (each "data: <s>\n\n"; non-strings are JSON),
    sse_raw / sse_raw_b64 / sse_file (exact SSE text, split at blank lines),
    sse_repeat {"data": d, "count": N[, "done": true]} (N events + [DONE],
    generated lazily), sse_big_line {"bytes": N[, "done": true]} (one
    chat.completion.chunk data line whose JSON payload is N bytes),
    body_big {"bytes": N} (a valid chat.completion JSON of N bytes, lazily),
    raw / raw_b64 (these bytes are the whole response, then close).
  With no body field: 2xx -> the default API reply above (so {"delay": 1} or
  {"split": "bytes"} shape the normal answer), 204/304/1xx -> empty, >= 400 ->
  an OpenAI-style error body for that status (401, 403, 404, 429, 500, 502,
  503, 504 as the real API words them).
  split       "whole" (default, non-SSE) | "events" (default, SSE: one write
              per event) | "bytes" | "random" (1..64 bytes, "seed", default 1)
              | N: how the body is written; each write is sent at once and,
              when chunked, is its own HTTP chunk. sse_big_line and
              body_big come in 64 KiB pieces ("events" = one per piece);
              "whole" for any lazy body means 64 KiB writes.
  chunked     default true for SSE, false otherwise
  length      false: no Content-Length, body ends with the connection
  gzip        gzip the body (streamed with a sync flush per write when
              chunked), Content-Encoding: gzip
  delay       seconds before the status line
  chunk_delay seconds between writes; trickle B: B bytes per second
  stall S     read the request, send nothing for S seconds, close
  stall_after_headers S   send the head, nothing for S seconds, close
  drop_before_status      read the request, then reset (SO_LINGER 0)
  drop_after N            send the first N bytes of the framed response
                          (head included), then reset - also when the
                          response is shorter; "drop_mode": "fin" closes
                          normally instead of resetting
  close       Connection: close, and close after the reply
  repeat      answers that many matching requests (default 1; < 0 = forever)
  comment     ignored
"""

import base64
import json
import os
import re
import signal
import socket
import struct
import sys
import threading
import time
import zlib
from http import HTTPStatus
from urllib.parse import parse_qsl

HERE = os.path.dirname(os.path.abspath(__file__))
# the captures kept in the repository (a copy of ../shared/wire)
DEFAULT_WIRE_DIR = os.path.normpath(os.path.join(HERE, "..", "fixtures", "wire"))

CHAT_TEXT = "Hello! I am the local fake OpenAI server."
COMPLETION_TEXT = "Once upon a time there was a fake server."

MODELS = [
    ("gpt-4o-mini", 1721172741, "system"),
    ("gpt-4o", 1715367049, "system"),
    ("gpt-3.5-turbo", 1677610602, "openai"),
    ("gpt-3.5-turbo-instruct", 1692901427, "system"),
    ("text-embedding-3-small", 1705948997, "system"),
]

MAX_LINE = 64 * 1024
MAX_HEADERS = 200
PIECE = 64 * 1024          # write size for lazily generated bodies

VERBOSE = False
WIRE_DIR = DEFAULT_WIRE_DIR


def log(*a):
    if VERBOSE:
        sys.stderr.write("fake_openai: " + " ".join(str(x) for x in a) + "\n")
        sys.stderr.flush()


# ---------------------------------------------------------------------------
# Shared state

class State:
    def __init__(self):
        self.lock = threading.Lock()
        self.queue = []          # [reply, remaining]; remaining < 0 = forever
        self.records = []
        self.config = {}
        self.tcp = 0             # every accepted TCP connection
        self.api = 0             # connections that carried an API request
        self.open_api = 0
        self.record_seq = 0
        self.obj_seq = 0

    def next_obj(self):
        with self.lock:
            self.obj_seq += 1
            return self.obj_seq


STATE = State()


# ---------------------------------------------------------------------------
# JSON helpers

def utf8(s):
    """UTF-8 bytes of s; bytes smuggled in as surrogates (control bodies are
    decoded with surrogateescape, so a Lua string's bytes come back exactly)
    and lone surrogates from \\ud800-style escapes are kept, not fatal."""
    try:
        return s.encode("utf-8")
    except UnicodeEncodeError:
        try:
            return s.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:
            return s.encode("utf-8", "surrogatepass")


def dumps_compact(v):
    return utf8(json.dumps(v, separators=(",", ":"), ensure_ascii=False))


def dumps_pretty(v, indent=2, newline=True):
    s = json.dumps(v, indent=indent, ensure_ascii=False)
    return utf8(s + ("\n" if newline else ""))


def error_body(message, type_, param=None, code=None):
    # The 2025/2026 API answers errors with 4-space JSON, Go-style escapes.
    s = json.dumps({"error": {"message": message, "type": type_, "param": param,
                              "code": code}}, indent=4, ensure_ascii=False)
    s = s.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return (s + "\n").encode("utf-8")


def mask_key(key):
    # OpenAI keeps the length: the first 8 and last 4 characters, stars between.
    if len(key) > 12:
        return key[:8] + "*" * (len(key) - 12) + key[-4:]
    return "*" * len(key)


def tokens(s):
    if not isinstance(s, str):
        s = json.dumps(s)
    return len(re.findall(r"\w+|[^\w\s]", s))


def words(text):
    return re.findall(r"\s*\S+", text) or [text]


def httpdate():
    return time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime())


# ---------------------------------------------------------------------------
# Bodies: a list of byte blobs (one per SSE event) or a lazy generator.

class Body:
    """The body of a reply, before framing.

    blobs() yields byte strings: one per SSE event for event streams, PIECE
    sized pieces for lazily generated bodies. length is their total size.
    """

    def __init__(self, blobs=None, gen=None, length=0, ctype=None, sse=False, lazy=False):
        self._blobs = blobs
        self._gen = gen
        self.length = length if blobs is None else sum(len(b) for b in blobs)
        self.ctype = ctype
        self.sse = sse
        self.lazy = lazy

    def blobs(self):
        if self._blobs is not None:
            return iter(self._blobs)
        return self._gen()

    @staticmethod
    def data(b, ctype):
        return Body(blobs=[b] if b else [], ctype=ctype)

    @staticmethod
    def events(evs):
        return Body(blobs=evs, ctype="text/event-stream; charset=utf-8", sse=True)


def sse_event(payload):
    if not isinstance(payload, (bytes, str)):
        payload = dumps_compact(payload)
    if isinstance(payload, str):
        payload = utf8(payload)
    return b"data: " + payload + b"\n\n"


DONE = b"data: [DONE]\n\n"

_EVENT_SPLIT = re.compile(rb"(?<=\r\n\r\n)|(?<=\n\n)|(?<=\r\r)")


def split_events(raw):
    return [e for e in _EVENT_SPLIT.split(raw) if e]


def gen_repeat(spec):
    payload = spec.get("data", "")
    ev = sse_event(payload)
    count = int(spec.get("count", 1))
    done = spec.get("done", True)

    def gen():
        for _ in range(count):
            yield ev
        if done:
            yield DONE

    return Body(gen=gen, length=len(ev) * count + (len(DONE) if done else 0),
                ctype="text/event-stream; charset=utf-8", sse=True, lazy=True)


def gen_fill(prefix, n, suffix):
    """prefix + 'x' * n + suffix, in PIECE sized blobs."""
    def gen():
        yield prefix
        left = n
        block = b"x" * PIECE
        while left > 0:
            k = min(left, PIECE)
            yield block if k == PIECE else block[:k]
            left -= k
        yield suffix
    return gen


def gen_big_line(spec):
    n = int(spec["bytes"])
    done = spec.get("done", True)
    pre = ('{"id":"chatcmpl-fakebig","object":"chat.completion.chunk","created":%d,'
           '"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":"' % int(time.time())).encode()
    post = b'"},"logprobs":null,"finish_reason":null}]}'
    fill = max(0, n - len(pre) - len(post))
    inner = gen_fill(b"data: " + pre, fill, post + b"\n\n")

    def gen():
        yield from inner()
        if done:
            yield DONE

    length = 6 + len(pre) + fill + len(post) + 2 + (len(DONE) if done else 0)
    return Body(gen=gen, length=length, ctype="text/event-stream; charset=utf-8",
                sse=True, lazy=True)


def gen_big_body(spec):
    n = int(spec["bytes"])
    pre = ('{"id":"chatcmpl-fakebig","object":"chat.completion","created":%d,'
           '"model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":"'
           % int(time.time())).encode()
    post = b'"},"logprobs":null,"finish_reason":"stop"}]}'
    fill = max(0, n - len(pre) - len(post))
    return Body(gen=gen_fill(pre, fill, post), length=len(pre) + fill + len(post),
                ctype="application/json", lazy=True)


# ---------------------------------------------------------------------------
# Default (API) replies

class Resp:
    def __init__(self, status=200, body=None, headers=None, reason=None):
        self.status = status
        self.reason = reason
        self.body = body if body is not None else Body.data(b"", None)
        self.headers = headers      # None = default headers


def err(status, message, type_="invalid_request_error", param=None, code=None):
    return Resp(status, Body.data(error_body(message, type_, param, code),
                                  "application/json; charset=utf-8"))


NO_KEY = ("You didn't provide an API key. You need to provide your API key in an "
          "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), "
          "or as the password field (with blank username) if you're accessing the API "
          "from your browser and are prompted for a username. You can obtain an API key "
          "from https://platform.openai.com/account/api-keys.")

BAD_JSON = ("We could not parse the JSON body of your request. (HINT: This likely means "
            "you aren't using your HTTP library correctly. The OpenAI API expects a JSON "
            "payload, but what was sent was not valid JSON. If you have trouble figuring "
            "out how to fix this, please contact us through our help center at "
            "help.openai.com.)")


def request_key(req):
    auth = req.hmap.get("authorization")
    if auth is not None:
        if auth[:7].lower() == "bearer ":
            return auth[7:].strip()
        return ""
    return req.hmap.get("api-key")


def wrong_key(key):
    return err(401, "Incorrect API key provided: %s. You can find your API key at "
               "https://platform.openai.com/account/api-keys." % mask_key(key),
               code="invalid_api_key")


def check_auth(req, config):
    want = config.get("require_key")
    if not want:
        return None
    got = request_key(req)
    if not got:
        return err(401, NO_KEY)
    if got != want:
        return wrong_key(got)
    return None


def status_error(req, status):
    """An OpenAI-shaped error body for a scripted status without a body."""
    model = req.json.get("model") if isinstance(req.json, dict) else None
    model = model if isinstance(model, str) else "gpt-4o-mini"
    if status == 401:
        return wrong_key(request_key(req) or "sk-none")
    if status == 403:
        return err(403, "Country, region, or territory not supported", "request_forbidden",
                   code="unsupported_country_region_territory")
    if status == 404:
        return err(404, "The model `%s` does not exist or you do not have access to it." % model,
                   code="model_not_found")
    if status == 429:
        return err(429, "Rate limit reached for %s in organization org-fake on requests per "
                   "min (RPM): Limit 500, Used 500, Requested 1. Please try again in 120ms. "
                   "Visit https://platform.openai.com/account/rate-limits to learn more."
                   % model, "requests", code="rate_limit_exceeded")
    if status == 500:
        return err(500, "The server had an error processing your request. Sorry about that! "
                   "You can retry your request, or contact us through our help center at "
                   "help.openai.com if you keep seeing this error.", "server_error")
    if status == 502:
        return err(502, "Bad gateway.", "cf_bad_gateway", code=502)
    if status == 503:
        return err(503, "That model is currently overloaded with other requests. You can "
                   "retry your request, or contact us through our help center at "
                   "help.openai.com if the error persists.", "server_error")
    if status == 504:
        return err(504, "Gateway timeout.", "cf_gateway_timeout", code=504)
    return err(status, reason_of(status) + " (scripted by the fake server)",
               "server_error" if status >= 500 else "invalid_request_error")


def parse_body_json(req):
    """(dict, None) or (None, error Resp)."""
    if not req.body:
        return None, err(400, BAD_JSON)
    if not isinstance(req.json, dict):
        return None, err(400, BAD_JSON)
    js = req.json
    if not isinstance(js.get("model"), str) or not js.get("model"):
        # Azure names the model in the path and lets requests omit it
        m = re.search(r"/deployments/([^/]+)/", req.path)
        if not m:
            return None, err(400, "you must provide a model parameter")
        js = dict(js, model=m.group(1))
    return js, None


def prompt_tokens(messages):
    n = 3
    for m in messages if isinstance(messages, list) else []:
        n += 4
        c = m.get("content") if isinstance(m, dict) else m
        if isinstance(c, list):
            for part in c:
                if isinstance(part, dict) and isinstance(part.get("text"), str):
                    n += tokens(part["text"])
                else:
                    n += 85
        elif c is not None:
            n += tokens(c)
    return n


def n_of(js):
    n = js.get("n", 1)
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        return 1
    return min(n, 128)


def limit_words(js, ws):
    lim = js.get("max_completion_tokens", js.get("max_tokens"))
    if isinstance(lim, int) and not isinstance(lim, bool) and 0 <= lim < len(ws):
        return ws[:lim], "length"
    return ws, "stop"


def chat_usage(p, c):
    return {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                                          "accepted_prediction_tokens": 0,
                                          "rejected_prediction_tokens": 0}}


def include_usage(js):
    so = js.get("stream_options")
    return isinstance(so, dict) and so.get("include_usage") is True


def chat_reply(req, config):
    js, e = parse_body_json(req)
    if e:
        return e
    if "messages" not in js:
        return err(400, "Missing required parameter: 'messages'.", param="messages",
                   code="missing_required_parameter")
    model, n = js["model"], n_of(js)
    ws, finish = limit_words(js, words(config.get("chat_text", CHAT_TEXT)))
    text = "".join(ws)
    p = prompt_tokens(js.get("messages"))
    usage = chat_usage(p, len(ws) * n)
    cid = "chatcmpl-fake%d" % STATE.next_obj()
    created = int(time.time())
    if js.get("stream") is not True:
        body = {"id": cid, "object": "chat.completion", "created": created, "model": model,
                "choices": [{"index": i,
                             "message": {"role": "assistant", "content": text,
                                         "refusal": None, "annotations": []},
                             "logprobs": None, "finish_reason": finish} for i in range(n)],
                "usage": usage, "service_tier": "default", "system_fingerprint": "fp_fake"}
        return Resp(200, Body.data(dumps_pretty(body), "application/json"))
    inc = include_usage(js)

    def chunk(choices, usage=None):
        d = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
             "service_tier": "default", "system_fingerprint": "fp_fake", "choices": choices}
        if inc:
            d["usage"] = usage
        return sse_event(d)

    def choice(i, delta, fr=None):
        return [{"index": i, "delta": delta, "logprobs": None, "finish_reason": fr}]

    evs = [chunk(choice(i, {"role": "assistant", "content": "", "refusal": None}))
           for i in range(n)]
    for w in ws:
        evs.extend(chunk(choice(i, {"content": w})) for i in range(n))
    evs.extend(chunk(choice(i, {}, finish)) for i in range(n))
    if inc:
        evs.append(chunk([], usage))
    evs.append(DONE)
    return Resp(200, Body.events(evs))


def completion_reply(req, config):
    js, e = parse_body_json(req)
    if e:
        return e
    if "prompt" not in js:
        return err(400, "Missing required parameter: 'prompt'.", param="prompt",
                   code="missing_required_parameter")
    model, n = js["model"], n_of(js)
    prompts = js["prompt"] if isinstance(js["prompt"], list) and js["prompt"] and \
        all(isinstance(x, str) for x in js["prompt"]) else [js["prompt"]]
    ws, finish = limit_words(js, words(config.get("completion_text", COMPLETION_TEXT)))
    text = "".join(ws)
    total = n * len(prompts)
    p = sum(tokens(x) for x in prompts)
    usage = {"prompt_tokens": p, "completion_tokens": len(ws) * total,
             "total_tokens": p + len(ws) * total}
    cid = "cmpl-fake%d" % STATE.next_obj()
    created = int(time.time())
    if js.get("stream") is not True:
        body = {"id": cid, "object": "text_completion", "created": created, "model": model,
                "choices": [{"text": text, "index": i, "logprobs": None, "finish_reason": finish}
                            for i in range(total)],
                "usage": usage}
        return Resp(200, Body.data(dumps_pretty(body), "application/json"))
    inc = include_usage(js)

    def chunk(choices, usage=None):
        d = {"id": cid, "object": "text_completion", "created": created, "choices": choices,
             "model": model}
        if inc:
            d["usage"] = usage
        return sse_event(d)

    evs = []
    for k, w in enumerate(ws):
        last = k == len(ws) - 1
        evs.extend(chunk([{"text": w, "index": i, "logprobs": None,
                           "finish_reason": finish if last else None}]) for i in range(total))
    if inc:
        evs.append(chunk([], usage))
    evs.append(DONE)
    return Resp(200, Body.events(evs))


def model_obj(m):
    return {"id": m[0], "object": "model", "created": m[1], "owned_by": m[2]}


def models_reply(req, config):
    body = {"object": "list", "data": [model_obj(m) for m in MODELS]}
    return Resp(200, Body.data(dumps_pretty(body, newline=False), "application/json"))


def model_reply(req, config, mid):
    for m in MODELS:
        if m[0] == mid:
            return Resp(200, Body.data(dumps_pretty(model_obj(m), newline=False),
                                       "application/json"))
    return err(404, "The model `%s` does not exist or you do not have access to it." % mid,
               code="model_not_found")


def embedding(text, dims):
    import hashlib
    out = []
    block = 0
    while len(out) < dims:
        h = hashlib.sha256(("%d:%s" % (block, text)).encode("utf-8")).digest()
        # (b - 128) / 128 is exact in float32 and short in decimal.
        out.extend((b - 128) / 128 for b in h)
        block += 1
    return out[:dims]


def embeddings_reply(req, config):
    js, e = parse_body_json(req)
    if e:
        return e
    if "input" not in js:
        return err(400, "Missing required parameter: 'input'.", param="input",
                   code="missing_required_parameter")
    inp = js["input"]
    if isinstance(inp, str) or (isinstance(inp, list) and inp and isinstance(inp[0], int)):
        inputs = [inp]
    elif isinstance(inp, list) and inp:
        inputs = inp
    else:
        return err(400, "'$.input' is invalid. Please check the API reference: "
                   "https://platform.openai.com/docs/api-reference.", param="input")
    dims = js.get("dimensions", 8)
    if not isinstance(dims, int) or isinstance(dims, bool) or dims < 1:
        dims = 8
    b64 = js.get("encoding_format") == "base64"
    data = []
    for i, x in enumerate(inputs):
        vec = embedding(x if isinstance(x, str) else json.dumps(x), dims)
        if b64:
            vec = base64.b64encode(struct.pack("<%df" % dims, *vec)).decode("ascii")
        data.append({"object": "embedding", "index": i, "embedding": vec})
    p = sum(tokens(x) for x in inputs)
    body = {"object": "list", "data": data, "model": js["model"],
            "usage": {"prompt_tokens": p, "total_tokens": p}}
    return Resp(200, Body.data(dumps_pretty(body), "application/json"))


_MODEL_ID = re.compile(r"/models/([^/]+)$")


def api_reply(req, config):
    p = req.path.rstrip("/") if req.path != "/" else req.path
    m = req.method
    if m == "POST" and p.endswith("/chat/completions"):
        return chat_reply(req, config)
    if m == "POST" and p.endswith("/completions"):
        return completion_reply(req, config)
    if m == "GET" and p.endswith("/models"):
        return models_reply(req, config)
    mm = _MODEL_ID.search(p)
    if m == "GET" and mm:
        return model_reply(req, config, mm.group(1))
    if m == "POST" and p.endswith("/embeddings"):
        return embeddings_reply(req, config)
    return err(404, "Invalid URL (%s %s)" % (m, req.path))


# ---------------------------------------------------------------------------
# Scripted replies

BODY_FIELDS = ("body", "body_b64", "body_file", "json", "sse", "sse_raw", "sse_raw_b64",
               "sse_file", "sse_repeat", "sse_big_line", "body_big", "raw", "raw_b64")
REPLY_FIELDS = set(BODY_FIELDS) | {
    "path", "method", "body_contains", "status", "reason", "headers", "default_headers", "body_encoding",
    "split", "seed", "delay", "chunk_delay", "chunked", "gzip", "drop_before_status",
    "drop_after", "drop_mode", "stall", "stall_after_headers", "trickle", "close",
    "repeat", "length", "headers_big", "comment"}


class ScriptError(Exception):
    pass


def resolve_file(name):
    """Absolute paths as they are; relative ones against the wire folder,
    else against the current directory (the repo root under busted)."""
    if os.path.isabs(name):
        return name
    p = os.path.join(WIRE_DIR, name)
    return p if os.path.exists(p) or not os.path.exists(name) else name


def _num(r, k, lo=0):
    v = r.get(k)
    if v is None:
        return
    if not isinstance(v, (int, float)) or isinstance(v, bool) or v < lo:
        raise ScriptError("reply field %r must be a number >= %s" % (k, lo))


def validate(r):
    if not isinstance(r, dict):
        raise ScriptError("a reply must be a JSON object")
    bad = sorted(set(r) - REPLY_FIELDS)
    if bad:
        raise ScriptError("unknown reply field(s): %s" % ", ".join(bad))
    given = [k for k in BODY_FIELDS if k in r]
    if len(given) > 1:
        raise ScriptError("reply fields %s are exclusive" % ", ".join(given))
    st = r.get("status", 200)
    if not isinstance(st, int) or isinstance(st, bool) or not 100 <= st <= 999:
        raise ScriptError("reply field 'status' must be an integer 100..999")
    h = r.get("headers")
    if h is not None:
        if h == {}:
            r["headers"] = h = []
        if not isinstance(h, list) or not all(
                isinstance(x, list) and len(x) == 2 and all(isinstance(y, str) for y in x)
                for x in h):
            raise ScriptError("reply field 'headers' must be a list of [name, value] strings")
    sp = r.get("split")
    if sp is not None and sp not in ("whole", "events", "bytes", "random") and not (
            isinstance(sp, int) and not isinstance(sp, bool) and sp >= 1):
        raise ScriptError("reply field 'split' must be whole|events|bytes|random|N>=1")
    for k in ("delay", "chunk_delay", "stall", "stall_after_headers", "drop_after"):
        _num(r, k)
    _num(r, "trickle", 1e-9)
    if r.get("drop_mode", "rst") not in ("rst", "fin"):
        raise ScriptError("reply field 'drop_mode' must be rst|fin")
    rep = r.get("repeat", 1)
    if not isinstance(rep, int) or isinstance(rep, bool) or rep == 0:
        raise ScriptError("reply field 'repeat' must be a non-zero integer (<0 = forever)")
    if r.get("body_encoding", "utf-8") not in ("utf-8", "utf8", "latin1", "latin-1"):
        raise ScriptError("reply field 'body_encoding' must be utf-8|latin1")
    for k in ("body", "raw", "sse_raw", "body_contains", "path", "method"):
        if k in r and not isinstance(r[k], str):
            raise ScriptError("reply field %r must be a string" % k)
    for k in ("body_b64", "raw_b64", "sse_raw_b64"):
        if k in r:
            try:
                base64.b64decode(r[k], validate=True)
            except Exception:
                raise ScriptError("reply field %r is not valid base64" % k)
    if "sse" in r:
        if r["sse"] == {}:
            r["sse"] = []
        if not isinstance(r["sse"], list):
            raise ScriptError("reply field 'sse' must be a list")
    for k in ("body_file", "sse_file"):
        if k in r and not os.path.isfile(resolve_file(str(r[k]))):
            raise ScriptError("reply field %r: no such file %s" % (k, resolve_file(str(r[k]))))
    for k in ("sse_big_line", "body_big", "headers_big"):
        if k in r and not (isinstance(r[k], dict) and isinstance(r[k].get("bytes"), int)):
            raise ScriptError("reply field %r must be {\"bytes\": N}" % k)
    if "sse_repeat" in r and not (isinstance(r["sse_repeat"], dict)
                                  and isinstance(r["sse_repeat"].get("count"), int)):
        raise ScriptError("reply field 'sse_repeat' must be {\"data\": ..., \"count\": N}")
    return r


def text_bytes(r, s):
    if r.get("body_encoding") not in ("latin1", "latin-1"):
        return utf8(s)
    try:
        return s.encode("latin-1")
    except UnicodeEncodeError:
        raise ScriptError("reply text does not fit body_encoding latin1")


def guess_ctype(name):
    if name.endswith(".sse"):
        return "text/event-stream; charset=utf-8"
    if name.endswith(".json"):
        return "application/json"
    return "application/octet-stream"


def scripted_body(r):
    """The Body of a scripted reply, or None when it gives no body field."""
    if "body" in r:
        return Body.data(text_bytes(r, r["body"]), "application/json")
    if "body_b64" in r:
        return Body.data(base64.b64decode(r["body_b64"]), "application/json")
    if "body_file" in r:
        name = resolve_file(r["body_file"])
        with open(name, "rb") as f:
            b = f.read()
        if name.endswith(".sse"):
            return Body.events(split_events(b))
        return Body.data(b, guess_ctype(name))
    if "json" in r:
        return Body.data(dumps_compact(r["json"]), "application/json")
    if "sse" in r:
        return Body.events([sse_event(s) for s in r["sse"]])
    if "sse_raw" in r:
        return Body.events(split_events(text_bytes(r, r["sse_raw"])))
    if "sse_raw_b64" in r:
        return Body.events(split_events(base64.b64decode(r["sse_raw_b64"])))
    if "sse_file" in r:
        with open(resolve_file(r["sse_file"]), "rb") as f:
            return Body.events(split_events(f.read()))
    if "sse_repeat" in r:
        return gen_repeat(r["sse_repeat"])
    if "sse_big_line" in r:
        return gen_big_line(r["sse_big_line"])
    if "body_big" in r:
        return gen_big_body(r["body_big"])
    return None


def take_script(req):
    with STATE.lock:
        for i, entry in enumerate(STATE.queue):
            r = entry[0]
            if "path" in r and not req.path.endswith(r["path"]):
                continue
            if "method" in r and r["method"].upper() != req.method:
                continue
            if "body_contains" in r and utf8(r["body_contains"]) not in req.body:
                continue
            if entry[1] > 0:
                entry[1] -= 1
                if entry[1] == 0:
                    del STATE.queue[i]
            return r
    return None


def reason_of(status):
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


# ---------------------------------------------------------------------------
# HTTP: reading requests

class BadRequest(Exception):
    pass


class Closed(Exception):
    pass


class Drop(Exception):
    pass


class Request:
    pass


class Conn:
    def __init__(self, sock, tcp_id):
        self.sock = sock
        self.tcp_id = tcp_id
        self.api_id = None
        self.buf = bytearray()

    def _fill(self):
        d = self.sock.recv(65536)
        if not d:
            return False
        self.buf += d
        return True

    def readline(self):
        start = 0
        while True:
            i = self.buf.find(b"\n", start)
            if i >= 0:
                line = bytes(self.buf[:i + 1])
                del self.buf[:i + 1]
                return line
            start = len(self.buf)
            if start > MAX_LINE:
                raise BadRequest("line too long")
            if not self._fill():
                line = bytes(self.buf)
                self.buf.clear()
                return line

    def read(self, n):
        while len(self.buf) < n:
            if not self._fill():
                raise Closed()
        data = bytes(self.buf[:n])
        del self.buf[:n]
        return data


def read_request(c):
    line = c.readline()
    while line in (b"\r\n", b"\n"):
        line = c.readline()
    if not line:
        return None
    if not line.endswith(b"\n"):
        raise Closed()
    parts = line.decode("latin-1").rstrip("\r\n").split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/"):
        raise BadRequest("bad request line")
    req = Request()
    req.method, req.target, version = parts
    req.http_version = version[5:]
    headers = []
    while True:
        h = c.readline()
        if not h.endswith(b"\n"):
            raise Closed()
        if h in (b"\r\n", b"\n"):
            break
        name, sep, value = h.decode("latin-1").rstrip("\r\n").partition(":")
        if not sep or not name or name != name.strip():
            raise BadRequest("bad header line")
        headers.append([name, value.strip(" \t")])
        if len(headers) > MAX_HEADERS:
            raise BadRequest("too many headers")
    req.headers = headers
    hmap = {}
    for name, value in headers:
        k = name.lower()
        hmap[k] = hmap[k] + ", " + value if k in hmap else value
    req.hmap = hmap
    target = req.target
    if target.startswith(("http://", "https://")):
        target = "/" + target.split("/", 3)[3] if target.count("/") >= 3 else "/"
    req.path, _, req.query = target.partition("?")
    if hmap.get("expect", "").lower() == "100-continue":
        c.sock.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
    te = hmap.get("transfer-encoding", "").lower()
    if "chunked" in te:
        parts = []
        while True:
            sl = c.readline()
            if not sl.endswith(b"\n"):
                raise Closed()
            try:
                size = int(sl.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise BadRequest("bad chunk size")
            if size == 0:
                while c.readline() not in (b"\r\n", b"\n", b""):
                    pass
                break
            parts.append(c.read(size))
            if c.readline() not in (b"\r\n", b"\n"):
                raise BadRequest("bad chunk end")
        req.body = b"".join(parts)
    elif "content-length" in hmap:
        try:
            n = int(hmap["content-length"].split(",")[0])
        except ValueError:
            raise BadRequest("bad content-length")
        req.body = c.read(n) if n > 0 else b""
    else:
        req.body = b""
    req.json = None
    if req.body:
        try:
            req.json = json.loads(req.body.decode("utf-8"))
        except ValueError:
            req.json = None
    conn_hdr = hmap.get("connection", "").lower()
    if req.http_version == "1.0":
        req.keep = "keep-alive" in conn_hdr
    else:
        req.keep = "close" not in conn_hdr
    return req


def record(req, conn_id):
    with STATE.lock:
        STATE.record_seq += 1
        rec = {
            "id": STATE.record_seq,
            "method": req.method,
            "path": req.path,
            "query": req.query,
            "args": dict(parse_qsl(req.query, keep_blank_values=True)),
            "headers": req.headers,
            "header": {k: v for k, v in req.hmap.items()},
            "body": req.body.decode("latin-1"),
            "body_b64": base64.b64encode(req.body).decode("ascii"),
            "json": req.json,
            "conn": conn_id,
            "http_version": req.http_version,
            "time": time.time(),
        }
        STATE.records.append(rec)
        return rec


# ---------------------------------------------------------------------------
# HTTP: writing responses

class Out:
    """Writes to the socket, each call one send; stops after `limit` bytes."""

    def __init__(self, sock, limit=None):
        self.sock = sock
        self.limit = limit
        self.sent = 0

    def write(self, data):
        if not data:
            return
        if self.limit is not None:
            room = self.limit - self.sent
            if len(data) >= room:
                if room > 0:
                    self.sock.sendall(data[:room])
                    self.sent += room
                raise Drop()
        self.sock.sendall(data)
        self.sent += len(data)


def rechunk(blobs, sizefn):
    need = sizefn()
    acc = bytearray()
    for b in blobs:
        mv = memoryview(b)
        pos, n = 0, len(b)
        while pos < n:
            if not acc and n - pos >= need:
                yield bytes(mv[pos:pos + need])
                pos += need
                need = sizefn()
                continue
            take = min(need - len(acc), n - pos)
            acc += mv[pos:pos + take]
            pos += take
            if len(acc) == need:
                yield bytes(acc)
                acc = bytearray()
                need = sizefn()
    if acc:
        yield bytes(acc)


def pieces(body_blobs, lazy, mode, seed):
    if mode == "events":
        return (b for b in body_blobs if b)
    if mode == "whole":
        if lazy:
            return rechunk(body_blobs, lambda: PIECE)
        data = b"".join(body_blobs)
        return iter([data] if data else [])
    if mode == "bytes":
        return rechunk(body_blobs, lambda: 1)
    if mode == "random":
        import random
        rnd = random.Random(seed)
        return rechunk(body_blobs, lambda: rnd.randint(1, 64))
    return rechunk(body_blobs, lambda: mode)


def gzip_blobs(blobs):
    co = zlib.compressobj(6, zlib.DEFLATED, 31)
    for b in blobs:
        out = co.compress(b) + co.flush(zlib.Z_SYNC_FLUSH)
        if out:
            yield out
    yield co.flush()


def default_headers(ctype, status):
    rid = "req_" + os.urandom(16).hex()
    h = [["date", httpdate()]]
    if ctype:
        h.append(["content-type", ctype])
    h += [
        ["access-control-expose-headers", "X-Request-ID"],
        ["openai-organization", "user-fake"],
        ["openai-processing-ms", "7"],
        ["openai-project", "proj_fake"],
        ["openai-version", "2020-10-01"],
        ["x-ratelimit-limit-requests", "10000"],
        ["x-ratelimit-limit-tokens", "200000"],
        ["x-ratelimit-remaining-requests", "0" if status == 429 else "9999"],
        ["x-ratelimit-remaining-tokens", "199990"],
        ["x-ratelimit-reset-requests", "6ms"],
        ["x-ratelimit-reset-tokens", "1m30s"],
        ["x-request-id", rid],
        ["x-content-type-options", "nosniff"],
        ["server", "fake-openai"],
    ]
    return h


def send_reply(c, req, resp, r):
    """Writes resp shaped by the scripted reply r ({} for defaults).
    Returns True when the connection may be kept open."""
    out = Out(c.sock, r.get("drop_after"))
    rst = r.get("drop_mode", "rst") == "rst"
    try:
        keep = _send(c, req, resp, r, out)
    except Drop:
        _close(c.sock, rst)
        return False
    if "drop_after" in r:        # response shorter than N: still end the same way
        _close(c.sock, rst)
        return False
    return keep


def _send(c, req, resp, r, out):
    if r.get("drop_before_status"):
        raise Drop()
    if r.get("stall"):
        time.sleep(r["stall"])
        return False
    if r.get("delay"):
        time.sleep(r["delay"])
    mode = r.get("split")
    seed = r.get("seed", 1)
    chunk_delay = r.get("chunk_delay") or 0
    trickle = r.get("trickle")

    for k in ("raw", "raw_b64"):
        if k in r:
            data = text_bytes(r, r[k]) if k == "raw" else base64.b64decode(r[k])
            first = True
            for p in pieces([data], False, mode or "whole", seed):
                if not first and chunk_delay:
                    time.sleep(chunk_delay)
                first = False
                out.write(p)
            return False

    body = resp.body
    status = resp.status
    reason = r.get("reason") or resp.reason or reason_of(status)
    user = r.get("headers")
    if user is None:
        headers = resp.headers if resp.headers is not None else default_headers(body.ctype, status)
    elif r.get("default_headers"):
        names = {n.lower() for n, _ in user}
        base = resp.headers if resp.headers is not None else default_headers(body.ctype, status)
        headers = [h for h in base if h[0].lower() not in names] + list(user)
    else:
        headers = list(user)
    if "headers_big" in r:
        hb = r["headers_big"]
        headers.append([hb.get("name", "x-fake-big"), "a" * int(hb["bytes"])])
    names = {n.lower(): v for n, v in headers}

    chunked = r.get("chunked")
    if chunked is None:
        chunked = "chunked" in names["transfer-encoding"].lower() \
            if "transfer-encoding" in names else body.sse
    gz = bool(r.get("gzip"))
    blobs_fn = body.blobs
    length = body.length
    lazy = body.lazy
    if gz:
        if chunked:
            blobs_fn = lambda: gzip_blobs(body.blobs())
        else:
            data = list(gzip_blobs(body.blobs()))
            blobs_fn = lambda: iter(data)
            length = sum(len(d) for d in data)
            lazy = False
    close = bool(r.get("close")) or not req.keep or r.get("length") is False \
        or "close" in names.get("connection", "").lower()

    framing = []
    if gz and "content-encoding" not in names:
        framing.append(["Content-Encoding", "gzip"])
    if chunked:
        if "transfer-encoding" not in names:
            framing.append(["Transfer-Encoding", "chunked"])
    elif "content-length" not in names and r.get("length") is not False \
            and status >= 200 and status not in (204, 304):
        framing.append(["Content-Length", str(length)])
    if "connection" not in names:
        framing.append(["Connection", "close" if close else "keep-alive"])
    if user is None or r.get("default_headers"):
        # defaults: framing right after content-type, as the real API orders it
        at = next((i + 1 for i, h in enumerate(headers) if h[0].lower() == "content-type"), 1)
        headers = headers[:at] + framing + headers[at:]
    else:
        headers = headers + framing
    head = ("HTTP/1.1 %d %s\r\n" % (status, reason)
            + "".join("%s: %s\r\n" % (n, v) for n, v in headers) + "\r\n")
    head = utf8(head)

    if r.get("stall_after_headers") is not None:
        out.write(head)
        time.sleep(r["stall_after_headers"])
        return False

    if trickle:
        size = max(1, int(trickle / 10))
        it = rechunk(blobs_fn(), lambda: size)
    else:
        if mode is None:
            mode = "events" if body.sse else "whole"
        it = pieces(blobs_fn(), lazy, mode, seed)

    if mode == "whole" and not trickle and not lazy:
        # one write: head and the whole body (and the chunked terminator)
        data = b"".join(it)
        if chunked:
            data = (b"%x\r\n%s\r\n" % (len(data), data) if data else b"") + b"0\r\n\r\n"
        out.write(head + data)
        return not close

    out.write(head)
    t0 = time.monotonic()
    sent = 0
    first = True
    for p in it:
        if trickle:
            wait = t0 + sent / trickle - time.monotonic()
            if wait > 0:
                time.sleep(wait)
        elif chunk_delay and not first:
            time.sleep(chunk_delay)
        first = False
        out.write(b"%x\r\n%s\r\n" % (len(p), p) if chunked else p)
        sent += len(p)
    if chunked:
        if chunk_delay and not first:
            time.sleep(chunk_delay)
        out.write(b"0\r\n\r\n")
    return not close


def _close(sock, rst):
    try:
        if rst:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        else:
            sock.shutdown(socket.SHUT_WR)
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass


def json_resp(status, obj):
    return Resp(status, Body.data(dumps_compact(obj), "application/json"),
                headers=[["Content-Type", "application/json"]])


# ---------------------------------------------------------------------------
# Control API

def control(c, req):
    """Returns (Resp, after) where after() runs once the reply is sent."""
    p, m = req.path, req.method
    try:
        req.json = json.loads(req.body.decode("utf-8", "surrogateescape")) if req.body else None
    except ValueError as e:
        return json_resp(400, {"error": "control body is not JSON: %s" % e}), None
    if p == "/_fake/script" and m == "POST":
        items = req.json if isinstance(req.json, list) else [req.json]
        try:
            items = [validate(x) for x in items]
        except ScriptError as e:
            return json_resp(400, {"error": str(e)}), None
        with STATE.lock:
            for x in items:
                STATE.queue.append([x, x.get("repeat", 1)])
            n = len(STATE.queue)
        return json_resp(200, {"queued": n, "added": len(items)}), None
    if p == "/_fake/requests" and m == "GET":
        q = dict(parse_qsl(req.query))
        with STATE.lock:
            recs = list(STATE.records)
        try:
            if "since" in q:            # records with id > since
                recs = [x for x in recs if x["id"] > int(q["since"])]
            if "last" in q:             # only the last N
                n = int(q["last"])
                recs = recs[-n:] if n > 0 else []
        except ValueError:
            return json_resp(400, {"error": "since/last must be integers"}), None
        return json_resp(200, recs), None
    if p == "/_fake/reset" and m == "POST":
        with STATE.lock:
            STATE.queue.clear()
            STATE.records.clear()
            STATE.config = {}
        return json_resp(200, {"ok": True}), None
    if p == "/_fake/config" and m == "POST":
        if not isinstance(req.json, dict):
            return json_resp(400, {"error": "config must be a JSON object"}), None
        with STATE.lock:
            for k, v in req.json.items():
                if v is None:
                    STATE.config.pop(k, None)
                else:
                    STATE.config[k] = v
            cfg = dict(STATE.config)
        return json_resp(200, cfg), None
    if p == "/_fake/config" and m == "GET":
        with STATE.lock:
            return json_resp(200, dict(STATE.config)), None
    if p == "/_fake/connections" and m == "GET":
        with STATE.lock:
            return json_resp(200, {"accepted": STATE.api, "open": STATE.open_api,
                                   "tcp": STATE.tcp}), None
    if p == "/_fake/queue" and m == "GET":
        with STATE.lock:
            return json_resp(200, {"queued": len(STATE.queue)}), None
    if p == "/_fake/ping":
        return json_resp(200, {"ok": True, "pid": os.getpid()}), None
    if p == "/_fake/shutdown" and m == "POST":
        return json_resp(200, {"ok": True}), lambda: os._exit(0)
    return json_resp(404, {"error": "unknown control request %s %s" % (m, p)}), None


# ---------------------------------------------------------------------------
# Connections

def serve_conn(sock, tcp_id):
    c = Conn(sock, tcp_id)
    try:
        while True:
            try:
                req = read_request(c)
            except BadRequest as e:
                sock.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\n"
                             b"Content-Length: %d\r\nConnection: close\r\n\r\n%s"
                             % (len(str(e)), str(e).encode()))
                break
            if req is None:
                break
            log(req.method, req.target, "conn", tcp_id)
            if req.path.startswith("/_fake/"):
                resp, after = control(c, req)
                keep = send_reply(c, req, resp, {})
                if after:
                    _close(sock, False)
                    after()
            else:
                if c.api_id is None:
                    with STATE.lock:
                        STATE.api += 1
                        STATE.open_api += 1
                        c.api_id = STATE.api
                with STATE.lock:
                    config = dict(STATE.config)
                record(req, c.api_id)
                r = {}
                resp = check_auth(req, config)
                if resp is None:
                    r = take_script(req) or {}
                    try:
                        resp = reply_for(req, r, config)
                    except ScriptError as e:
                        r, resp = {}, err(500, "fake server: %s" % e, "server_error")
                keep = send_reply(c, req, resp, r)
            if not keep:
                break
    except (Closed, Drop, OSError):
        pass
    except Exception as e:          # never let one connection kill the server
        import traceback
        sys.stderr.write("fake_openai: connection %d: %r\n" % (tcp_id, e))
        if VERBOSE:
            traceback.print_exc()
    finally:
        if c.api_id is not None:
            with STATE.lock:
                STATE.open_api -= 1
        if sock.fileno() >= 0:
            _close(sock, False)


def reply_for(req, r, config):
    if "raw" in r or "raw_b64" in r:
        return Resp(200)
    status = r.get("status", 200)
    body = scripted_body(r)
    if body is not None:
        resp = Resp(status, body)
    elif status in (204, 304) or status < 200:
        resp = Resp(status)
    elif status < 300:
        resp = api_reply(req, config)
        if "status" in r:
            resp.status = status
    else:
        resp = status_error(req, status)
    return resp


def accept_loop(lsock):
    while True:
        try:
            sock, _ = lsock.accept()
        except InterruptedError:
            continue
        except OSError:
            if lsock.fileno() < 0:
                return
            time.sleep(0.01)
            continue
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with STATE.lock:
            STATE.tcp += 1
            tcp_id = STATE.tcp
        t = threading.Thread(target=serve_conn, args=(sock, tcp_id), daemon=True)
        t.start()


def watch_stdin(ppid):
    def read():
        try:
            while os.read(0, 65536):
                pass
        except OSError:
            pass
        os._exit(0)

    def parent():
        while True:
            time.sleep(0.5)
            if os.getppid() != ppid:
                os._exit(0)

    threading.Thread(target=read, daemon=True).start()
    threading.Thread(target=parent, daemon=True).start()


USAGE = ("usage: fake_openai.py [--port N] [--host 127.0.0.1] [--port-file PATH]\n"
         "                      [--exit-on-stdin-eof] [--wire-dir DIR] [--verbose]\n")


def parse_args(argv):
    """A tiny argv parser (argparse costs start-up time we do not need)."""
    class A:
        port = 0
        host = "127.0.0.1"
        port_file = None
        exit_on_stdin_eof = False
        wire_dir = os.environ.get("WIRE_DIR") or DEFAULT_WIRE_DIR
        verbose = False
    a = A()
    valued = {"--port": "port", "--host": "host", "--port-file": "port_file",
              "--wire-dir": "wire_dir"}
    flags = {"--exit-on-stdin-eof": "exit_on_stdin_eof", "--verbose": "verbose"}
    i = 0
    while i < len(argv):
        arg = argv[i]
        name, eq, val = arg.partition("=")
        if arg in ("-h", "--help"):
            sys.stdout.write(USAGE + __doc__)
            sys.exit(0)
        elif name in valued:
            if not eq:
                i += 1
                if i >= len(argv):
                    usage_error("%s needs a value" % name)
                val = argv[i]
            setattr(a, valued[name], val)
        elif arg in flags:
            setattr(a, flags[arg], True)
        else:
            usage_error("unknown argument %r" % arg)
        i += 1
    try:
        a.port = int(a.port)
    except ValueError:
        usage_error("--port must be an integer")
    return a


def usage_error(msg):
    sys.stderr.write(USAGE + "fake_openai.py: error: %s\n" % msg)
    sys.exit(2)


def main(argv):
    global VERBOSE, WIRE_DIR
    a = parse_args(argv)
    VERBOSE = a.verbose
    WIRE_DIR = a.wire_dir
    # 203.0.113.0/24 (TEST-NET-3) only ever exists on the lo of a spec's
    # private network namespace (spec/origin_spec.lua)
    if a.host not in ("127.0.0.1", "localhost", "::1") and not a.host.startswith("127.") \
            and not a.host.startswith("203.0.113."):
        usage_error("--host must be a loopback address (or 203.0.113.x in a namespace)")
    fam = socket.AF_INET6 if ":" in a.host else socket.AF_INET
    lsock = socket.socket(fam, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind((a.host, a.port))
    lsock.listen(1024)
    port = lsock.getsockname()[1]

    def bye(signum, frame):
        os._exit(0)

    signal.signal(signal.SIGTERM, bye)
    signal.signal(signal.SIGINT, bye)
    if a.exit_on_stdin_eof:
        watch_stdin(os.getppid())
    if a.port_file:
        tmp = "%s.%d.tmp" % (a.port_file, os.getpid())
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.replace(tmp, a.port_file)
    try:
        sys.stdout.write("%d\n" % port)
        sys.stdout.flush()
    except OSError:
        pass
    accept_loop(lsock)


if __name__ == "__main__":
    main(sys.argv[1:])
