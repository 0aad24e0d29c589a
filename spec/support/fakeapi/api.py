"""The API emulation: one function per endpoint, giving the reply the real
API would (the scripted queue, in script.py, can override any of it).

The Responses API, moderations, images, audio and files are platform.py's,
declared the same way. To add an endpoint, write one function and declare it:

    @endpoint("POST", "/responses")
    def responses(req, config):
        js, e = parse_body_json(req)
        if e:
            return e
        return json_reply({...})              # or sse_reply([...]), or
                                              # Resp(200, Body.data(b, ctype))

The path matches the end of the request path ("/v1/responses", Azure's
"/openai/deployments/x/responses"); a "{name}" segment matches any one
segment and is passed as an argument after config. When several paths
match, the one with the most segments wins ("/chat/completions" before
"/completions"). req has method, path, query, headers [[n, v]...], hmap
{lower-name: v}, body (bytes) and json (the decoded body, or None).
"""

import base64
import json
import os
import re
import struct
import time

from .model import answer, arguments, tool_to_call
from .reply import DONE, Body, Resp, dumps_pretty, httpdate, reason_of, sse_event
from .state import STATE

COMPLETION_TEXT = "Once upon a time there was a fake server."

MODELS = [
    ("gpt-4o-mini", 1721172741, "system"),
    ("gpt-4o", 1715367049, "system"),
    ("gpt-3.5-turbo", 1677610602, "openai"),
    ("gpt-3.5-turbo-instruct", 1692901427, "system"),
    ("text-embedding-3-small", 1705948997, "system"),
]


# ---------------------------------------------------------------------------
# Routing

ROUTES = []                # (method, compiled path, segments, fn)


def endpoint(method, path):
    """Declares fn(req, config, *segments) as the reply to METHOD .../path."""
    parts = [("([^/]+)" if p.startswith("{") and p.endswith("}") else re.escape(p))
             for p in path.strip("/").split("/")]
    rx = re.compile("/" + "/".join(parts) + "$")

    def declare(fn):
        ROUTES.append((method, rx, len(parts), fn))
        ROUTES.sort(key=lambda r: -r[2])   # stable: most segments first
        return fn
    return declare


def api_reply(req, config):
    p = req.path.rstrip("/") if req.path != "/" else req.path
    for method, rx, _, fn in ROUTES:
        if method == req.method:
            m = rx.search(p)
            if m:
                return fn(req, config, *m.groups())
    return err(404, "Invalid URL (%s %s)" % (req.method, req.path))


def json_reply(obj, newline=True):
    """200 with obj as the API writes JSON: 2-space indent."""
    return Resp(200, Body.data(dumps_pretty(obj, newline=newline), "application/json"))


def sse_reply(payloads, done=True):
    """200 with one SSE event per payload (JSON unless bytes/str), then [DONE]."""
    evs = [sse_event(x) for x in payloads]
    if done:
        evs.append(DONE)
    return Resp(200, Body.events(evs))


# ---------------------------------------------------------------------------
# Errors and auth, worded as the real API words them

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


# ---------------------------------------------------------------------------
# Endpoints

def tokens(s):
    if not isinstance(s, str):
        s = json.dumps(s)
    return len(re.findall(r"\w+|[^\w\s]", s))


def words(text):
    return re.findall(r"\s*\S+", text) or [text]


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


def chat_tools(js):
    """The request's function tools, as model.py takes them."""
    return [t["function"] for t in js.get("tools") or []
            if isinstance(t, dict) and t.get("type") == "function"
            and isinstance(t.get("function"), dict)]


def chat_results(messages):
    """The contents of the tool messages that end the history."""
    msgs = [m for m in messages if isinstance(m, dict)] if isinstance(messages, list) else []
    tail = []
    while msgs and msgs[-1].get("role") == "tool":
        tail.insert(0, msgs.pop().get("content"))
    return tail


def chat_call(tool, config, k):
    return {"id": "call_fake%d_%d" % (STATE.next_obj(), k), "type": "function",
            "function": {"name": tool.get("name"), "arguments": arguments(tool, config)}}


@endpoint("POST", "/chat/completions")
def chat_reply(req, config):
    """The default text (model.py's answer), cut by max_tokens, or a tool call
    (its tool_to_call) in every choice; streamed as the API streams them."""
    js, e = parse_body_json(req)
    if e:
        return e
    if "messages" not in js:
        return err(400, "Missing required parameter: 'messages'.", param="messages",
                   code="missing_required_parameter")
    model_name, n = js["model"], n_of(js)
    results = chat_results(js["messages"])
    tool = tool_to_call(chat_tools(js), js.get("tool_choice"), bool(results))
    calls = [chat_call(tool, config, i) for i in range(n)] if tool else None
    if calls:
        ws, finish = [], "tool_calls"
        completion = tokens(calls[0]["function"]["arguments"])
    else:
        fmt = js.get("response_format")
        if isinstance(fmt, dict) and isinstance(fmt.get("json_schema"), dict):
            fmt = dict(fmt, schema=fmt["json_schema"].get("schema"))
        ws, finish = limit_words(js, words(answer(fmt, results, config.get("chat_text"))))
        completion = len(ws)
    text = "".join(ws)
    p = prompt_tokens(js.get("messages"))
    usage = chat_usage(p, completion * n)
    cid = "chatcmpl-fake%d" % STATE.next_obj()
    created = int(time.time())
    if js.get("stream") is not True:
        def message(i):
            if calls:
                return {"role": "assistant", "content": None, "tool_calls": [calls[i]],
                        "refusal": None, "annotations": []}
            return {"role": "assistant", "content": text, "refusal": None, "annotations": []}
        body = {"id": cid, "object": "chat.completion", "created": created, "model": model_name,
                "choices": [{"index": i, "message": message(i), "logprobs": None,
                             "finish_reason": finish} for i in range(n)],
                "usage": usage, "service_tier": "default", "system_fingerprint": "fp_fake"}
        return json_reply(body)
    inc = include_usage(js)

    def chunk(choices, usage=None):
        d = {"id": cid, "object": "chat.completion.chunk", "created": created,
             "model": model_name, "service_tier": "default", "system_fingerprint": "fp_fake",
             "choices": choices}
        if inc:
            d["usage"] = usage
        return sse_event(d)

    def choice(i, delta, fr=None):
        return [{"index": i, "delta": delta, "logprobs": None, "finish_reason": fr}]

    evs = [chunk(choice(i, {"role": "assistant", "content": None if calls else "",
                            "refusal": None})) for i in range(n)]
    if calls:
        for i, c in enumerate(calls):
            args = c["function"]["arguments"]
            evs.append(chunk(choice(i, {"tool_calls": [{"index": 0, "id": c["id"], "type": "function",
                                                       "function": {"name": c["function"]["name"],
                                                                    "arguments": ""}}]})))
            evs.extend(chunk(choice(i, {"tool_calls": [{"index": 0, "function": {
                "arguments": args[k:k + 8]}}]})) for k in range(0, len(args), 8))
    for w in ws:
        evs.extend(chunk(choice(i, {"content": w})) for i in range(n))
    evs.extend(chunk(choice(i, {}, finish)) for i in range(n))
    if inc:
        evs.append(chunk([], usage))
    evs.append(DONE)
    return Resp(200, Body.events(evs))


@endpoint("POST", "/completions")
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
        return json_reply(body)
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


@endpoint("GET", "/models")
def models_reply(req, config):
    body = {"object": "list", "data": [model_obj(m) for m in MODELS]}
    return json_reply(body, newline=False)


@endpoint("GET", "/models/{id}")
def model_reply(req, config, mid):
    for m in MODELS:
        if m[0] == mid:
            return json_reply(model_obj(m), newline=False)
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


@endpoint("POST", "/embeddings")
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
    return json_reply(body)


# ---------------------------------------------------------------------------
# Headers

def default_headers(ctype, status):
    """The headers the real API sends with a reply of this type and status."""
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


# The rest of the platform (Responses, moderations, images, audio, files):
# imported last, as it declares its endpoints with the names above.
from . import platform  # noqa: E402,F401
