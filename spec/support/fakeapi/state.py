"""What every connection of the fake server shares, under one lock."""

import os
import sys
import threading

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
