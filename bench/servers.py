#!/usr/bin/env python3
"""The benchmark's slow server: Python standard library, asyncio, HTTP/1.1
keep-alive, on 127.0.0.1. Started and stopped by bench/run.sh.

    python3 bench/servers.py WORKDIR PORT

Routes (any method; the path prefix picks the behaviour, the rest of the
path and the request body are read and ignored):
  /d<MS>/...        waits MS milliseconds, then answers WORKDIR/www/completion.json
  /plain/...        the same at once (only used when nginx is missing)
  /stall/...        answers 200 text/event-stream headers, then nothing, until
                    the client hangs up (idle streams for the poll(0) cost)
  /drip<MS>x<N>/... N content chunks, one every MS milliseconds, then [DONE]
  /s<N>/...         WORKDIR/www/stream<N>.sse, one HTTP chunk per event, as
                    fast as it goes (only used when nginx has no echo module)
  /p<MS>s<N>[v<K>]/...  the same, paced as WORKDIR/www/paced.json says (only
                    used when nginx has no echo module)
  /stalled          the number of /stall connections open now (text/plain)
  /ping             "pong"
"""
import asyncio
import json
import os
import re
import sys

WORK = sys.argv[1]
PORT = int(sys.argv[2])

with open(os.path.join(WORK, "www", "completion.json"), "rb") as f:
    COMPLETION = f.read()
STREAMS = {}
for name in os.listdir(os.path.join(WORK, "www")):
    m = re.match(r"stream(\d+)\.sse$", name)
    if m:
        with open(os.path.join(WORK, "www", name), "rb") as f:
            STREAMS[int(m.group(1))] = [e + b"\n\n" for e in f.read().split(b"\n\n") if e]

with open(os.path.join(WORK, "www", "paced.json")) as f:
    PACED = json.load(f)

STALLED = 0                                 # /stall connections open now

SSE_HEAD = (b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\n"
            b"Cache-Control: no-cache\r\nx-request-id: req_bench\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n")


def drip_chunk(i):
    return ("data: " + json.dumps({
        "id": "chatcmpl-drip", "object": "chat.completion.chunk", "created": 1770747154,
        "model": "gpt-4.1-2025-04-14", "service_tier": "default",
        "system_fingerprint": "fp_8b22347a3e",
        "choices": [{"index": 0, "delta": {"content": " tok%d" % i}, "logprobs": None,
                     "finish_reason": None}],
        "usage": None, "obfuscation": "abcdefgh"}, separators=(",", ":")) + "\n\n").encode()


def chunked(b):
    return b"%x\r\n%s\r\n" % (len(b), b)


def plain(body, ctype=b"application/json"):
    return (b"HTTP/1.1 200 OK\r\nContent-Type: %s\r\nContent-Length: %d\r\n"
            b"x-request-id: req_bench\r\n\r\n%s" % (ctype, len(body), body))


async def handle(reader, writer):
    global STALLED
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.split(b"\r\n")
            path = lines[0].split(b" ")[1].decode()
            length, te = 0, False
            close = lines[0].endswith(b"HTTP/1.0")
            for ln in lines[1:]:
                k, _, v = ln.partition(b":")
                k = k.strip().lower()
                if k == b"content-length":
                    length = int(v)
                elif k == b"transfer-encoding" and b"chunked" in v.lower():
                    te = True
                elif k == b"connection" and b"close" in v.lower():
                    close = True
                elif k == b"expect" and b"100-continue" in v.lower():
                    writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            if te:                                  # not sent by our peers; read it anyway
                while True:
                    size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
                    await reader.readexactly(size + 2)
                    if size == 0:
                        break
            elif length:
                await reader.readexactly(length)
            m = re.match(r"/(d(\d+)|stall|drip(\d+)x(\d+)|s(\d+)|ping|stalled|plain|p\d+s\d+(?:v\d+)?)(/|$)", path)
            if not m:
                writer.write(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
            elif m.group(2):
                await asyncio.sleep(int(m.group(2)) / 1000)
                writer.write(plain(COMPLETION))
            elif m.group(1) == "plain":
                writer.write(plain(COMPLETION))
            elif m.group(1) == "stall":
                writer.write(SSE_HEAD)
                await writer.drain()
                STALLED += 1
                try:
                    await reader.read()             # until the client hangs up
                finally:
                    STALLED -= 1
                return
            elif m.group(3):
                writer.write(SSE_HEAD)
                every, n = int(m.group(3)) / 1000, int(m.group(4))
                for i in range(n):
                    await asyncio.sleep(every)
                    writer.write(chunked(drip_chunk(i)))
                    await writer.drain()
                writer.write(chunked(b"data: [DONE]\n\n") + b"0\r\n\r\n")
            elif m.group(5):
                writer.write(SSE_HEAD)
                for e in STREAMS[int(m.group(5))]:
                    writer.write(chunked(e))
                    await writer.drain()
                writer.write(b"0\r\n\r\n")
            elif m.group(1) in PACED:
                r = PACED[m.group(1)]
                writer.write(SSE_HEAD)
                for e, gap in zip(STREAMS[r["n"]], r["gaps"]):
                    if gap:
                        await asyncio.sleep(gap / 1000)
                    writer.write(chunked(e))
                    await writer.drain()
                writer.write(b"0\r\n\r\n")
            elif m.group(1) == "stalled":
                writer.write(plain(b"%d" % STALLED, b"text/plain"))
            else:
                writer.write(plain(b"pong", b"text/plain"))
            await writer.drain()
            if close:
                return
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", PORT, backlog=4096,
                                        reuse_address=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
