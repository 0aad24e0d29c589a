"""HTTP/1.1 on raw sockets, so that every byte on the wire (framing, chunk
boundaries, resets) is ours to choose: reading requests (keep-alive,
Content-Length or chunked bodies, "Expect: 100-continue"), framing replies
(Content-Length or chunked, gzip, split into writes) and the faults a
scripted reply asks for (delays, stalls, trickles, resets)."""

import json
import select
import socket
import struct
import time
import zlib

from .reply import PIECE, reason_of, utf8

MAX_LINE = 64 * 1024
MAX_HEADERS = 200


# ---------------------------------------------------------------------------
# Reading requests

class BadRequest(Exception):
    pass


class Closed(Exception):
    pass


class Drop(Exception):
    pass


class Request:
    pass


class Conn:
    """One connection. phase, for quiet() below: "idle" while it waits for a
    request with nothing of it read, "reading" from its first byte until it
    is recorded, "answering" after."""

    def __init__(self, sock, tcp_id):
        self.sock = sock
        self.tcp_id = tcp_id
        self.api_id = None
        self.buf = bytearray()
        self.phase = "idle"

    def unread(self):
        """Whether bytes of a request wait in the kernel or our buffer
        (not an end of file: nothing to record there)."""
        if self.buf:
            return True
        try:
            return self.sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) != b""
        except OSError:             # none yet (EAGAIN), reset or closed
            return False

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
    if not c.buf:                   # waits without reading: idle all along
        c.phase = "idle"
        p = select.poll()
        p.register(c.sock, select.POLLIN)
        while not p.poll():
            pass
    c.phase = "reading"
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


# ---------------------------------------------------------------------------
# Writing responses

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


def send_reply(c, req, resp, r):
    """Writes resp shaped by the scripted reply r ({} for defaults): its
    headers, framing, splits, delays and faults. resp.headers are the
    defaults that r's "headers" replace or (with "default_headers") amend.
    Returns True when the connection may be kept open."""
    out = Out(c.sock, r.get("drop_after"))
    rst = r.get("drop_mode", "rst") == "rst"
    try:
        keep = _send(c, req, resp, r, out)
    except Drop:
        close_socket(c.sock, rst)
        return False
    if "drop_after" in r:        # response shorter than N: still end the same way
        close_socket(c.sock, rst)
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

    if resp.raw is not None:            # these bytes are the whole response
        first = True
        for p in pieces([resp.raw], False, mode or "whole", seed):
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
        headers = list(resp.headers or [])
    elif r.get("default_headers"):
        names = {n.lower() for n, _ in user}
        base = resp.headers or []
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


def close_socket(sock, rst):
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
