"""The accept loop, one thread per connection, and the ends of the server
(stdin closed, parent gone)."""

import os
import socket
import sys
import threading
import time

from . import script, wire
from .state import STATE, log, readable


def serve_conn(c):
    sock, tcp_id = c.sock, c.tcp_id
    try:
        while True:
            try:
                req = wire.read_request(c)
            except wire.BadRequest as e:
                sock.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\n"
                             b"Content-Length: %d\r\nConnection: close\r\n\r\n%s"
                             % (len(str(e)), str(e).encode()))
                break
            if req is None:
                break
            log(req.method, req.target, "conn", tcp_id)
            if req.path.startswith("/_fake/"):
                c.phase = "answering"   # a reset waits for the others only
                resp, after = script.control(c, req)
                keep = wire.send_reply(c, req, resp, {})
                if after:
                    wire.close_socket(sock, False)
                    after()
            else:
                if c.api_id is None:
                    with STATE.lock:
                        STATE.api += 1
                        STATE.open_api += 1
                        c.api_id = STATE.api
                resp, r = script.answer(req, c.api_id)
                c.phase = "answering"   # recorded, its script taken
                keep = wire.send_reply(c, req, resp, r)
            if not keep:
                break
    except (wire.Closed, wire.Drop, OSError):
        pass
    except Exception as e:          # never let one connection kill the server
        import traceback
        sys.stderr.write("fake_openai: connection %d: %r\n" % (tcp_id, e))
        if STATE.verbose:
            traceback.print_exc()
    finally:
        with STATE.lock:
            STATE.conns.discard(c)
            if c.api_id is not None:
                STATE.open_api -= 1
        if sock.fileno() >= 0:
            wire.close_socket(sock, False)


def accept_loop(lsock):
    STATE.lsock = lsock
    while True:
        # accepting is set while a connection is neither in the backlog
        # (lsock readable) nor in STATE.conns, for quiet()
        STATE.accepting = False
        if lsock.fileno() < 0:
            return
        try:
            if not readable(lsock, 1000):
                continue
            STATE.accepting = True
            sock, _ = lsock.accept()
        except InterruptedError:
            continue
        except OSError:
            if lsock.fileno() < 0:
                return
            STATE.accepting = False
            time.sleep(0.01)
            continue
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with STATE.lock:
            STATE.tcp += 1
            c = wire.Conn(sock, STATE.tcp)
            STATE.conns.add(c)
        t = threading.Thread(target=serve_conn, args=(c,), daemon=True)
        t.start()


def watch_stdin(ppid):
    def read():
        try:
            while os.read(0, 65536):
                pass
        except OSError:
            pass
        os._exit(0)

    def parent():
        while True:
            time.sleep(0.5)
            if os.getppid() != ppid:
                os._exit(0)

    threading.Thread(target=read, daemon=True).start()
    threading.Thread(target=parent, daemon=True).start()
