"""The rest of the platform, beside api.py's chat family: the Responses API
(JSON and SSE, stored responses and their chains), moderations, images,
audio (transcriptions in, speech out) and files. One function per
endpoint, declared with api.endpoint; api.py imports this module last.

Shapes follow the real captures in spec/fixtures/wire (sections E and F of
SOURCES.md): Responses bodies 2-space, ASCII-only, no trailing newline;
their streams `event: <type>` + compact `data:` lines with the keys after
`type` sorted (the 2026 order), ending with the terminal event and no
`data: [DONE]`; transcription streams data-only and CRLF-framed, ending
with [DONE]; speech binary and chunked.

Default behaviour of POST /responses (no scripted reply):
  text, tool calls  as model.py decides (text.format is the format; the
                tool results are the function_call_output items ending the
                input): one function_call item, or a message whose text
                comes as one output_text.delta per word when streamed
  max_output_tokens  fewer words than the text: status "incomplete",
                incomplete_details {reason: "max_output_tokens"}
  store         (default true) keeps the response: GET/DELETE
                /responses/{id}, POST /responses/{id}/cancel, and
                previous_response_id (400 previous_response_not_found for
                an unknown one; 400 when a function call of the previous
                response gets no function_call_output)
  background    true: answered "in_progress" with no output; the first GET
                completes it, cancel cancels it
"""

import base64
import hashlib
import json
import time

from . import multipart
from .api import BAD_JSON, default_headers, endpoint, err, json_reply, \
    parse_body_json, tokens, words
from .model import answer, arguments, tool_to_call
from .reply import Body, Resp, utf8
from .state import STATE

DONE_CRLF = b"data: [DONE]\r\n\r\n"


def ids(prefix):
    return "%s_%s" % (prefix, hashlib.sha256(b"%d" % STATE.next_obj()).hexdigest()[:48])


def stored():
    return STATE.stored


def ascii_pretty(obj):
    """Responses bodies: 2-space, ASCII-only, no trailing newline."""
    return json.dumps(obj, indent=2, ensure_ascii=True).encode("ascii")


def ascii_reply(obj):
    return Resp(200, Body.data(ascii_pretty(obj), "application/json"))


def not_found(what, oid):
    return err(404, "%s with id '%s' not found." % (what, oid))


# ---------------------------------------------------------------------------
# Responses: the answer

def input_items(js):
    inp = js.get("input")
    if isinstance(inp, str):
        return [{"role": "user", "content": inp}]
    return inp if isinstance(inp, list) else []


def function_tools(js):
    """The request's function tools, as model.py takes them."""
    return [t for t in js.get("tools") or [] if isinstance(t, dict) and t.get("type") == "function"]


def tool_results(items):
    """The outputs of the function_call_output items that end the input."""
    outs = [i for i in items if isinstance(i, dict)]
    tail = []
    while outs and outs[-1].get("type") == "function_call_output":
        tail.insert(0, outs.pop().get("output"))
    return tail


def message_item(text, status="completed"):
    return {"id": ids("msg"), "type": "message", "status": status,
            "content": [{"type": "output_text", "annotations": [], "logprobs": [], "text": text}],
            "role": "assistant"}


def call_item(tool, config):
    return {"id": ids("fc"), "type": "function_call", "status": "completed",
            "arguments": arguments(tool, config),
            "call_id": "call_" + ids("x")[2:26], "name": tool.get("name")}


def answer_text(js, results, config):
    text = js.get("text") if isinstance(js.get("text"), dict) else {}
    return answer(text.get("format"), results, config.get("respond_text", config.get("chat_text")))


def response_obj(rid, js, status, output, usage, created):
    text = js.get("text") if isinstance(js.get("text"), dict) else {}
    fmt = text.get("format") if isinstance(text.get("format"), dict) else {"type": "text"}
    return {
        "id": rid, "object": "response", "created_at": created, "status": status,
        "background": bool(js.get("background", False)), "billing": {"payer": "developer"},
        "completed_at": int(time.time()) if status == "completed" else None,
        "error": None, "frequency_penalty": 0.0,
        "incomplete_details": {"reason": "max_output_tokens"} if status == "incomplete" else None,
        "instructions": js.get("instructions"), "max_output_tokens": js.get("max_output_tokens"),
        "max_tool_calls": None, "model": js["model"], "output": output,
        "parallel_tool_calls": True, "presence_penalty": 0.0,
        "previous_response_id": js.get("previous_response_id"),
        "prompt_cache_key": None, "prompt_cache_retention": None,
        "reasoning": {"effort": None, "summary": None}, "safety_identifier": None,
        "service_tier": "default", "store": js.get("store", True) is not False,
        "temperature": js.get("temperature", 1.0),
        "text": {"format": fmt, "verbosity": "medium"},
        "tool_choice": js.get("tool_choice", "auto"), "tools": js.get("tools") or [],
        "top_logprobs": 0, "top_p": 1.0, "truncation": "disabled", "usage": usage,
        "user": None, "metadata": js.get("metadata") or {},
    }


def chain_items(prev_id):
    """Every item of the chain ending at prev_id, oldest first."""
    out = []
    while prev_id:
        entry = stored().get(prev_id)
        if entry is None or entry["kind"] != "response":
            break
        out[:0] = entry["items"]
        prev_id = entry["response"].get("previous_response_id")
    return out


@endpoint("POST", "/responses")
def responses(req, config):
    js, e = parse_body_json(req)
    if e:
        return e
    prev = js.get("previous_response_id")
    if "input" not in js and not prev:
        return err(400, "Missing required parameter: 'input'.", param="input",
                   code="missing_required_parameter")
    items = input_items(js)
    history = []
    if prev:
        entry = stored().get(prev)
        if entry is None or entry["kind"] != "response":
            return err(400, "Previous response with id '%s' not found." % prev,
                       param="previous_response_id", code="previous_response_not_found")
        given = {i.get("call_id") for i in items
                 if isinstance(i, dict) and i.get("type") == "function_call_output"}
        for o in entry["response"]["output"]:
            if o.get("type") == "function_call" and o.get("call_id") not in given:
                return err(400, "No tool output found for function call %s." % o["call_id"],
                           param="input")
        history = chain_items(prev)
    results = tool_results(items)
    tool = tool_to_call(function_tools(js), js.get("tool_choice"), bool(results))
    ws = []
    if tool is not None:
        output, status = [call_item(tool, config)], "completed"
    else:
        ws = words(answer_text(js, results, config))
        lim = js.get("max_output_tokens")
        status = "completed"
        if isinstance(lim, int) and not isinstance(lim, bool) and 0 <= lim < len(ws):
            ws, status = ws[:lim], "incomplete"
        output = [message_item("".join(ws), status)]
    n_in = 3 + tokens(js.get("instructions") or "") + sum(
        tokens(i) for i in history + items)
    n_out = tokens(output[0]["arguments"]) if tool is not None else len(ws)
    usage = {"input_tokens": n_in, "input_tokens_details": {"cached_tokens": 0},
             "output_tokens": n_out, "output_tokens_details": {"reasoning_tokens": 0},
             "total_tokens": n_in + n_out}
    rid, created = ids("resp"), int(time.time())
    final = response_obj(rid, js, status, output, usage, created)
    background = js.get("background") is True
    if js.get("store", True) is not False:
        shown = response_obj(rid, js, "in_progress", [], None, created) if background else final
        with STATE.lock:
            stored()[rid] = {"kind": "response", "response": shown, "final": final,
                             "items": items + output}
    if background:
        return ascii_reply(stored()[rid]["response"])
    if js.get("stream") is True:
        return Resp(200, Body.events(stream_events(final, created)))
    return ascii_reply(final)


# ---------------------------------------------------------------------------
# Responses: the stream

class Seq:
    def __init__(self):
        self.n = 0
        self.out = []

    def add(self, type_, **fields):
        fields["sequence_number"] = self.n
        self.n += 1
        d = {"type": type_}
        for k in sorted(fields):
            d[k] = fields[k]
        data = json.dumps(d, separators=(",", ":"), ensure_ascii=False)
        self.out.append(utf8("event: %s\ndata: %s\n\n" % (type_, data)))


def obfuscation(s):
    return hashlib.sha256(utf8(s)).hexdigest()[:max(1, 16 - len(s))]


def stream_events(final, created):
    """The events of a stream that ends in `final`, as the API sends them."""
    ev = Seq()
    start = dict(final, status="in_progress", output=[], usage=None, completed_at=None,
                 incomplete_details=None)
    ev.add("response.created", response=start)
    ev.add("response.in_progress", response=start)
    for oi, item in enumerate(final["output"]):
        if item["type"] == "message":
            part = item["content"][0]
            text = part["text"]
            ev.add("response.output_item.added", output_index=oi,
                   item=dict(item, status="in_progress", content=[]))
            ev.add("response.content_part.added", content_index=0, item_id=item["id"],
                   output_index=oi, part=dict(part, text=""))
            for w in (words(text) if text else []):
                ev.add("response.output_text.delta", content_index=0, delta=w,
                       item_id=item["id"], logprobs=[], obfuscation=obfuscation(w),
                       output_index=oi)
            ev.add("response.output_text.done", content_index=0, item_id=item["id"],
                   logprobs=[], output_index=oi, text=text)
            ev.add("response.content_part.done", content_index=0, item_id=item["id"],
                   output_index=oi, part=part)
        elif item["type"] == "function_call":
            args = item["arguments"]
            ev.add("response.output_item.added", output_index=oi,
                   item=dict(item, status="in_progress", arguments=""))
            for i in range(0, len(args), 8):
                piece = args[i:i + 8]
                ev.add("response.function_call_arguments.delta", delta=piece,
                       item_id=item["id"], obfuscation=obfuscation(piece), output_index=oi)
            ev.add("response.function_call_arguments.done", arguments=args,
                   item_id=item["id"], output_index=oi)
        ev.add("response.output_item.done", item=item, output_index=oi)
    ev.add("response.incomplete" if final["status"] == "incomplete" else "response.completed",
           response=final)
    return ev.out


# ---------------------------------------------------------------------------
# Responses: stored ones

def stored_response(rid):
    entry = stored().get(rid)
    if entry is None or entry["kind"] != "response":
        return None
    return entry


@endpoint("GET", "/responses/{id}")
def response_get(req, config, rid):
    entry = stored_response(rid)
    if entry is None:
        return not_found("Response", rid)
    if entry["response"]["status"] == "in_progress":       # background: done now
        entry["response"] = entry["final"]
    return ascii_reply(entry["response"])


@endpoint("DELETE", "/responses/{id}")
def response_delete(req, config, rid):
    if stored_response(rid) is None:
        return not_found("Response", rid)
    with STATE.lock:
        del stored()[rid]
    return ascii_reply({"id": rid, "object": "response.deleted", "deleted": True})


@endpoint("POST", "/responses/{id}/cancel")
def response_cancel(req, config, rid):
    entry = stored_response(rid)
    if entry is None:
        return not_found("Response", rid)
    r = entry["response"]
    if not r.get("background"):
        return err(400, "Only responses created with background=true can be cancelled.")
    if r["status"] == "in_progress":
        entry["response"] = entry["final"] = dict(r, status="cancelled")
    return ascii_reply(entry["response"])


# ---------------------------------------------------------------------------
# Moderations and images

CATEGORIES = ["harassment", "harassment/threatening", "sexual", "hate", "hate/threatening",
              "illicit", "illicit/violent", "self-harm/intent", "self-harm/instructions",
              "self-harm", "sexual/minors", "violence", "violence/graphic"]


@endpoint("POST", "/moderations")
def moderations(req, config):
    js = req.json if isinstance(req.json, dict) else None
    if js is None or "input" not in js:
        return err(400, "Missing required parameter: 'input'.", param="input",
                   code="missing_required_parameter")
    inp = js["input"]
    parts = [inp] if isinstance(inp, str) else inp if isinstance(inp, list) else [inp]
    texts = [p if isinstance(p, str) else (p.get("text") or "") if isinstance(p, dict) else ""
             for p in parts]
    if parts and all(isinstance(p, dict) for p in parts):     # one multimodal input
        texts = [" ".join(texts)]
    results = []
    for t in texts:
        violent = "kill" in t.lower()
        results.append({
            "flagged": violent,
            "categories": {c: violent and c == "violence" for c in CATEGORIES},
            "category_scores": {c: 0.97 if violent and c == "violence" else 3.7e-6
                                for c in CATEGORIES},
            "category_applied_input_types": {c: ["text"] for c in CATEGORIES},
        })
    body = {"id": "modr-%d" % STATE.next_obj(), "model": js.get("model", "omni-moderation-latest"),
            "results": results}
    return json_reply(body, newline=False)


# A 1x1 PNG, what every fake image is.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==")


@endpoint("POST", "/images/generations")
def images(req, config):
    js = req.json
    if not isinstance(js, dict):
        return err(400, BAD_JSON)
    if not isinstance(js.get("prompt"), str):
        return err(400, "Missing required parameter: 'prompt'.", param="prompt",
                   code="missing_required_parameter")
    model = js.get("model") or "dall-e-2"
    fmt = js.get("response_format") or ("url" if model.startswith("dall-e") else "b64_json")
    n = js.get("n") if isinstance(js.get("n"), int) and js.get("n") > 0 else 1
    data = []
    for _ in range(n):
        if fmt == "url":
            data.append({"url": "https://images.fake.invalid/img-%d.png" % STATE.next_obj()})
        else:
            data.append({"b64_json": base64.b64encode(PNG).decode("ascii")})
    body = {"created": int(time.time()), "data": data}
    if not model.startswith("dall-e"):
        body.update({"output_format": "png", "quality": "high", "size": js.get("size", "1024x1024"),
                     "usage": {"input_tokens": tokens(js["prompt"]), "output_tokens": 272,
                               "total_tokens": tokens(js["prompt"]) + 272}})
    return json_reply(body, newline=False)


# ---------------------------------------------------------------------------
# Audio

AUDIO_TYPES = {"mp3": "audio/mpeg", "wav": "audio/wav", "opus": "audio/opus", "aac": "audio/aac",
               "flac": "audio/flac", "pcm": "audio/pcm"}


def speech_bytes(text, size):
    """size bytes of fake MP3: a frame-sync header, then a pattern from text."""
    seed = hashlib.sha256(utf8(text)).digest()
    out = bytearray(b"\xff\xf3\xc4\xc4")
    while len(out) < size:
        seed = hashlib.sha256(seed).digest()
        out += seed
    return bytes(out[:size])


@endpoint("POST", "/audio/speech")
def speech(req, config):
    js, e = parse_body_json(req)
    if e:
        return e
    if not isinstance(js.get("input"), str):
        return err(400, "Missing required parameter: 'input'.", param="input",
                   code="missing_required_parameter")
    size = config.get("speech_bytes", 8192)
    ctype = AUDIO_TYPES.get(js.get("response_format") or "mp3", "audio/mpeg")
    resp = Resp(200, Body.data(speech_bytes(js["input"], size), ctype))
    # chunked, without Content-Length, as the API sends it
    resp.headers = default_headers(ctype, 200) + [["Transfer-Encoding", "chunked"]]
    return resp


def form_or_error(req, required):
    parts = multipart.parse(req)
    if parts is None:
        return None, None, err(400, "Invalid Content-Type header (%s), expected "
                               "multipart/form-data." % req.hmap.get("content-type", ""))
    plain, files = multipart.fields(parts)
    for name in required:
        if name == "file" and not any(f["name"] == "file" for f in files):
            return None, None, err(400, "Missing required parameter: 'file'.", param="file",
                                   code="missing_required_parameter")
        if name != "file" and name not in plain:
            return None, None, err(400, "Missing required parameter: '%s'." % name, param=name,
                                   code="missing_required_parameter")
    return plain, files, None


@endpoint("POST", "/audio/transcriptions")
def transcriptions(req, config):
    plain, files, e = form_or_error(req, ("file", "model"))
    if e:
        return e
    text = config.get("transcript_text", "Hello from the fake transcription.")
    fmt = plain.get("response_format", "json")
    usage = {"type": "duration", "seconds": 2}
    if plain.get("stream") == "true":
        evs = [utf8('data: {"type":"transcript.text.delta","delta":%s}\r\n\r\n'
                    % json.dumps(w, ensure_ascii=False)) for w in words(text)]
        done = {"type": "transcript.text.done", "text": text,
                "usage": {"type": "tokens", "total_tokens": 30, "input_tokens": 20,
                          "input_token_details": {"text_tokens": 0, "audio_tokens": 20},
                          "output_tokens": 10}}
        evs.append(utf8("data: %s\r\n\r\n" % json.dumps(done, separators=(",", ":"))))
        evs.append(DONE_CRLF)
        return Resp(200, Body.events(evs))
    if fmt in ("text", "srt", "vtt"):
        return Resp(200, Body.data(utf8(text + "\n"), "text/plain; charset=utf-8"))
    body = {"text": text, "usage": usage}
    if fmt == "verbose_json":
        body = {"task": "transcribe", "language": "english", "duration": 1.7, "text": text,
                "segments": [{"id": 0, "seek": 0, "start": 0.0, "end": 1.7, "text": text,
                              "tokens": [1, 2], "temperature": 0.0, "avg_logprob": -0.3,
                              "compression_ratio": 0.9, "no_speech_prob": 0.01}],
                "usage": usage}
    return Resp(200, Body.data(json.dumps(body, separators=(",", ":"), ensure_ascii=False)
                               .encode("utf-8"), "application/json"))


# ---------------------------------------------------------------------------
# Files

def file_obj(fid, entry):
    return {"object": "file", "id": fid, "purpose": entry["purpose"],
            "filename": entry["filename"], "bytes": len(entry["data"]),
            "created_at": entry["created_at"], "expires_at": None, "status": "processed",
            "status_details": None}


@endpoint("POST", "/files")
def files_upload(req, config):
    plain, files, e = form_or_error(req, ("file", "purpose"))
    if e:
        return e
    f = next(x for x in files if x["name"] == "file")
    fid = "file-" + hashlib.sha256(b"%d" % STATE.next_obj()).hexdigest()[:22]
    entry = {"kind": "file", "purpose": plain["purpose"], "filename": f["filename"],
             "data": f["data"], "created_at": int(time.time())}
    with STATE.lock:
        stored()[fid] = entry
    return json_reply(file_obj(fid, entry))


def stored_files():
    return [(k, v) for k, v in list(stored().items()) if v["kind"] == "file"]


@endpoint("GET", "/files")
def files_list(req, config):
    from urllib.parse import parse_qsl
    q = dict(parse_qsl(req.query))
    data = [file_obj(k, v) for k, v in stored_files()
            if "purpose" not in q or v["purpose"] == q["purpose"]]
    return json_reply({"object": "list", "data": data, "has_more": False,
                       "first_id": data[0]["id"] if data else None,
                       "last_id": data[-1]["id"] if data else None})


@endpoint("GET", "/files/{id}")
def file_get(req, config, fid):
    entry = stored().get(fid)
    if entry is None or entry["kind"] != "file":
        return err(404, "No such File object: %s" % fid, param="id")
    return json_reply(file_obj(fid, entry))


@endpoint("GET", "/files/{id}/content")
def file_content(req, config, fid):
    entry = stored().get(fid)
    if entry is None or entry["kind"] != "file":
        return err(404, "No such File object: %s" % fid, param="id")
    return Resp(200, Body.data(entry["data"], "application/octet-stream"))


@endpoint("DELETE", "/files/{id}")
def file_delete(req, config, fid):
    entry = stored().get(fid)
    if entry is None or entry["kind"] != "file":
        return err(404, "No such File object: %s" % fid, param="id")
    with STATE.lock:
        del stored()[fid]
    return json_reply({"object": "file", "deleted": True, "id": fid})
