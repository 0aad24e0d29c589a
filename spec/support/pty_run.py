#!/usr/bin/env python3
"""Runs a command in a real terminal (a pty) as a person would, for the
specs of `chatgpt -i` and of what the command writes to a terminal.

    pty_run.py SPEC.json  ->  prints {"status", "output", "failed"} as JSON

SPEC: {"command": "shell command", "cols": 80, "rows": 24, "timeout": 20,
       "steps": [{"expect": "text"}, {"send": "keys"}, {"sleep": 0.1}, ...]}
"expect" waits (up to the timeout) for the text to appear in the output
after the previous expect's match; "send" types the keys (a string of code
points below 256 is sent as those bytes, e.g. "\\u0003" for Ctrl-C; others
as UTF-8). After the last step the command is waited for; "status" is its
exit status (128 + N for signal N, as a shell says it), "output" what the
terminal received (base64), "failed" the index of
the step that timed out (or "exit" when the command did not end), else
null. Python's standard library only.
"""
import base64
import fcntl
import json
import os
import pty
import select
import signal
import struct
import sys
import termios
import time


def keys(s):
    try:
        return s.encode("latin-1")
    except UnicodeEncodeError:
        return s.encode("utf-8")


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        spec = json.load(f)
    timeout = float(spec.get("timeout", 20))
    pid, fd = pty.fork()
    if pid == 0:
        os.execvp("sh", ["sh", "-c", "exec " + spec["command"]])
    fcntl.ioctl(fd, termios.TIOCSWINSZ,
                struct.pack("HHHH", spec.get("rows", 24), spec.get("cols", 80), 0, 0))
    out = bytearray()
    eof = False

    def pump(wait):
        nonlocal eof
        if eof:
            time.sleep(min(wait, 0.05))
            return
        r, _, _ = select.select([fd], [], [], wait)
        if r:
            try:
                data = os.read(fd, 65536)
            except OSError:
                data = b""
            if data:
                out.extend(data)
            else:
                eof = True

    failed = None
    seen = 0
    for i, step in enumerate(spec["steps"]):
        if "send" in step:
            os.write(fd, keys(step["send"]))
        elif "sleep" in step:
            end = time.monotonic() + float(step["sleep"])
            while time.monotonic() < end:
                pump(max(0.0, end - time.monotonic()))
        elif "expect" in step:
            want = keys(step["expect"])
            end = time.monotonic() + timeout
            while True:
                at = out.find(want, seen)
                if at >= 0:
                    seen = at + len(want)
                    break
                if time.monotonic() > end or (eof and out.find(want, seen) < 0):
                    failed = i
                    break
                pump(0.05)
            if failed is not None:
                break
    status = None
    end = time.monotonic() + (timeout if failed is None else 0)
    while True:
        got, st = os.waitpid(pid, os.WNOHANG)
        if got == pid:
            status = os.waitstatus_to_exitcode(st)
            if status < 0:
                status = 128 - status
            break
        if time.monotonic() > end:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            if failed is None:
                failed = "exit"
            break
        pump(0.05)
    while not eof:
        r, _, _ = select.select([fd], [], [], 0.2)
        if not r:
            break
        pump(0)
    os.close(fd)
    json.dump({"status": status, "output": base64.b64encode(bytes(out)).decode("ascii"),
               "failed": failed}, sys.stdout)


if __name__ == "__main__":
    main()
