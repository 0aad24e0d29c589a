"""Scripting: reply objects (fields documented in fake_openai.py), the queue
they wait in, matching them to requests, the records of what clients sent,
and the /_fake/ control API."""

import base64
import json
import os
import sys
import time
from urllib.parse import parse_qsl

from . import api, multipart
from .reply import Body, Resp, dumps_compact, gen_big_body, gen_big_line, gen_repeat, \
    split_events, sse_event, utf8
from .state import STATE, wait_quiet

# Seconds a reset waits for the requests already sent to be recorded (on a
# loaded machine a connection's thread may read its request seconds late).
RESET_WAIT = 10

# ---------------------------------------------------------------------------
# Reply objects

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
    p = os.path.join(STATE.wire_dir, name)
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


# ---------------------------------------------------------------------------
# The queue, and the reply to an API request

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


def reply_for(req, r, config):
    if "raw" in r:
        return Resp(200, raw=text_bytes(r, r["raw"]))
    if "raw_b64" in r:
        return Resp(200, raw=base64.b64decode(r["raw_b64"]))
    status = r.get("status", 200)
    body = scripted_body(r)
    if body is not None:
        resp = Resp(status, body)
    elif status in (204, 304) or status < 200:
        resp = Resp(status)
    elif status < 300:
        resp = api.api_reply(req, config)
        if "status" in r:
            resp.status = status
    else:
        resp = api.status_error(req, status)
    return resp


def answer(req, conn_id):
    """Records an API request and picks its reply: a refusal when a key is
    required and wrong, else the first matching scripted reply shaping the
    API's default one. Returns (Resp with its headers, the reply object)."""
    with STATE.lock:
        config = dict(STATE.config)
    record(req, conn_id)
    r = {}
    resp = api.check_auth(req, config)
    if resp is None:
        r = take_script(req) or {}
        try:
            resp = reply_for(req, r, config)
        except ScriptError as e:
            r, resp = {}, api.err(500, "fake server: %s" % e, "server_error")
    if resp.headers is None:
        resp.headers = api.default_headers(resp.body.ctype, resp.status)
    return resp, r


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
            "form": multipart.record(req),
            "conn": conn_id,
            "http_version": req.http_version,
            "time": time.time(),
        }
        STATE.records.append(rec)
        return rec


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
        if not wait_quiet(RESET_WAIT):
            sys.stderr.write("fake_openai: a reset waited %g s for requests still unread\n"
                             % RESET_WAIT)
        with STATE.lock:
            STATE.queue.clear()
            STATE.records.clear()
            STATE.stored.clear()
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
