"""What every connection of the fake server shares, under one lock."""

import os
import select
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
# spec/support/fakeapi -> spec/fixtures/wire, the captures kept in the repository
DEFAULT_WIRE_DIR = os.path.normpath(os.path.join(HERE, "..", "..", "fixtures", "wire"))


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
        self.stored = {}         # stored responses and uploaded files, by id (platform.py)
        self.conns = set()       # open connections (wire.Conn), for server.quiet()
        self.lsock = None        # the listening socket
        self.accepting = False   # a connection between the backlog and conns
        # settings from the command line
        self.verbose = False
        self.wire_dir = DEFAULT_WIRE_DIR

    def next_obj(self):
        with self.lock:
            self.obj_seq += 1
            return self.obj_seq


STATE = State()


def log(*a):
    if STATE.verbose:
        sys.stderr.write("fake_openai: " + " ".join(str(x) for x in a) + "\n")
        sys.stderr.flush()


def quiet():
    """Whether every request a client has sent is recorded: no connection
    waits to be accepted, none is being read, and none has unread bytes.
    (A request sent just before a reset, by a spec that then cancelled
    it, must not be recorded after it, nor take the next spec's script.)"""
    if STATE.accepting or (STATE.lsock is not None and readable(STATE.lsock)):
        return False
    with STATE.lock:
        conns = list(STATE.conns)
    return not any(c.phase == "reading" or c.unread() for c in conns)


def readable(sock, ms=0):
    """Whether sock has something to read (or accept), waiting at most ms."""
    p = select.poll()
    p.register(sock, select.POLLIN)
    return bool(p.poll(ms))


def wait_quiet(seconds):
    """Waits until quiet(), at most seconds; whether it came."""
    deadline = time.monotonic() + seconds
    while not quiet():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.002)
    return True
