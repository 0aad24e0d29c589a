#!/usr/bin/env python3
"""A local fake of the OpenAI REST API, for lua-chatgpt's specs.

Python 3 standard library only. Usage:

    python3 spec/support/fake_openai.py [--port N] [--host 127.0.0.1]
        [--port-file PATH] [--exit-on-stdin-eof] [--wire-dir DIR] [--verbose]
        [--run COMMAND [ARG...]]

Binds a loopback address (port 0 = ephemeral), prints the port alone on the
first stdout line (and, with --port-file, writes it to PATH via a rename), then
serves until POST /_fake/shutdown, SIGTERM/SIGINT, or (with
--exit-on-stdin-eof) the end of its stdin or the death of its parent.

--run COMMAND [ARG...] (the last option) tries a program without a key: it
runs COMMAND with OPENAI_BASE_URL set to this server and OPENAI_API_KEY
unset, prints no port, serves while COMMAND runs, and exits with its status.
Relative body_file/sse_file names resolve against --wire-dir (default:
$WIRE_DIR, else spec/fixtures/wire).

This script is the command line; the server is the package fakeapi/ beside
it (fakeapi/__init__.py maps it): wire.py the HTTP layer, api.py the
endpoints (one function each), script.py the reply queue and the control
API. The HTTP layer is written on raw sockets rather than http.server, so
that every byte on the wire (framing, chunk boundaries, resets) is ours to
choose. One thread per connection; HTTP/1.1 keep-alive; request bodies with
Content-Length or chunked; "Expect: 100-continue" is answered.

API (matched by path suffix, query ignored)
  POST .../chat/completions   chat.completion, or SSE chunks when stream:true
                              (n choices, interleaved; include_usage honoured;
                              max_tokens/max_completion_tokens cut the reply
                              with finish_reason "length"); tool calls and
                              json_schema answers: see fakeapi/model.py
  POST .../completions        legacy text_completion (stream too)
  GET  .../models, .../models/ID
  POST .../embeddings         deterministic 8-float vectors ("dimensions"
                              honoured); encoding_format "base64" = LE float32
  POST .../responses          a response, or its SSE events when stream:true
                              (tool calls and json_schema as for chat;
                              max_output_tokens, store, previous_response_id,
                              background: see fakeapi/platform.py); GET/DELETE .../responses/ID,
                              POST .../responses/ID/cancel
  POST .../moderations        flagged when the text says "kill"
  POST .../images/generations b64_json (a 1x1 PNG) or url (dall-e-*)
  POST .../audio/transcriptions  multipart; json, text, verbose_json, or a
                              CRLF-framed SSE stream with stream=true
  POST .../audio/speech       binary audio/mpeg (config speech_bytes, 8192),
                              chunked without Content-Length
  POST .../files (multipart), GET .../files, GET/DELETE .../files/ID,
  GET .../files/ID/content    uploads kept until /_fake/reset
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
                          bytes), body_b64, json (or null), form (a multipart
                          body's parts [{name, filename, type, size,
                          data_b64}], or null), conn, http_version, time}
  POST /_fake/reset       first waits (up to 10 s) until every request already
                          sent is recorded, then clears queue, records,
                          config, stored responses and files (not the
                          counters): a request a spec sent and cancelled is
                          never recorded, nor takes a script, after it
  POST /_fake/config      merges keys; a null value removes one. Keys:
                          require_key (401 unless "Authorization: Bearer K" or
                          "api-key: K"; checked before the queue, so a refused
                          request does not consume a scripted reply),
                          chat_text, completion_text, respond_text,
                          transcript_text (default reply texts),
                          tool_arguments, speech_bytes
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

import os
import signal
import socket
import subprocess
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fakeapi import server                  # noqa: E402
from fakeapi.state import DEFAULT_WIRE_DIR, STATE  # noqa: E402

USAGE = ("usage: fake_openai.py [--port N] [--host 127.0.0.1] [--port-file PATH]\n"
         "                      [--exit-on-stdin-eof] [--wire-dir DIR] [--verbose]\n"
         "                      [--run COMMAND [ARG...]]\n")


def parse_args(argv):
    """A tiny argv parser (argparse costs start-up time we do not need)."""
    class A:
        port = 0
        host = "127.0.0.1"
        port_file = None
        exit_on_stdin_eof = False
        wire_dir = os.environ.get("WIRE_DIR") or DEFAULT_WIRE_DIR
        verbose = False
        run = None
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
        elif arg == "--run":
            a.run = argv[i + 1:]
            if not a.run:
                usage_error("--run needs a command")
            break
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


def run(lsock, port, argv):
    """Serves while argv runs with OPENAI_BASE_URL pointing here; its status."""
    base = "http://127.0.0.1:%d/v1" % port if ":" not in lsock.getsockname()[0] \
        else "http://[::1]:%d/v1" % port
    env = dict(os.environ, OPENAI_BASE_URL=base)
    env.pop("OPENAI_API_KEY", None)
    # Ctrl-C is the command's: a handler (not SIG_IGN) here, so that the
    # command starts with the default one
    signal.signal(signal.SIGINT, lambda signum, frame: None)
    threading.Thread(target=server.accept_loop, args=(lsock,), daemon=True).start()
    sys.stderr.write("[the bundled local server at %s; no key needed]\n" % base)
    sys.stderr.flush()
    try:
        status = subprocess.call(argv, env=env)
    except OSError as e:
        sys.stderr.write("fake_openai.py: cannot run %s: %s\n" % (argv[0], e.strerror))
        return 127
    return 128 - status if status < 0 else status


def main(argv):
    a = parse_args(argv)
    STATE.verbose = a.verbose
    STATE.wire_dir = a.wire_dir
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
        server.watch_stdin(os.getppid())
    if a.run:
        sys.exit(run(lsock, port, a.run))
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
    server.accept_loop(lsock)


if __name__ == "__main__":
    main(sys.argv[1:])
