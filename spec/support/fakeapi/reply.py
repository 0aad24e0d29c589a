"""What a response is made of before it is framed: a Body (bytes, SSE
events or lazily generated pieces), a Resp (status, body, headers), and the
JSON and SSE text they hold."""

import json
import re
import time
from http import HTTPStatus

PIECE = 64 * 1024          # write size for lazily generated bodies


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


def httpdate():
    return time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime())


def reason_of(status):
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


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


class Resp:
    """A reply before framing. headers None = the API's defaults (filled in
    by script.answer); raw = bytes that are the whole response, head and all,
    sent as they are before the connection closes."""

    def __init__(self, status=200, body=None, headers=None, reason=None, raw=None):
        self.status = status
        self.reason = reason
        self.body = body if body is not None else Body.data(b"", None)
        self.headers = headers
        self.raw = raw
