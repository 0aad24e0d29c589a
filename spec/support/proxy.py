#!/usr/bin/env python3
"""A small HTTP proxy for lua-chatgpt's specs (Python 3 standard library).

    python3 spec/support/proxy.py --host 127.0.0.1 --port 0 --log FILE [--port-file PATH]
        [--exit-on-stdin-eof]

Prints its port on the first stdout line (and writes it to --port-file);
with --exit-on-stdin-eof it exits when its stdin ends (its starter's pipe).
Two ways through it, as libcurl uses them:
  CONNECT host:port       answers 200 and relays bytes both ways (https)
  GET http://host:port/p  plain forwarding of one request (http), sent on
                          as "GET /p" with Connection: close
Each request line and its header lines go to the --log file, one per line,
so that a spec can tell what went through and what the proxy could read.
It connects only to loopback addresses and to 203.0.113.0/24 (which exists
only inside a spec's network namespace): never anywhere else.
"""

import socket
import sys
import threading
from urllib.parse import urlsplit

LOG_LOCK = threading.Lock()


def allowed(host):
    return host in ("localhost", "::1") or host.startswith("127.") or host.startswith("203.0.113.")


def log(path, lines):
    with LOG_LOCK:
        with open(path, "a") as f:
            for line in lines:
                f.write(line + "\n")


def read_head(sock):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return None, b""
        data += chunk
    head, rest = data.split(b"\r\n\r\n", 1)
    return head.decode("latin-1").split("\r\n"), rest


def relay(a, b):
    try:
        while True:
            data = a.recv(65536)
            if not data:
                break
            b.sendall(data)
    except OSError:
        pass
    finally:
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def refuse(sock, status):
    sock.sendall(b"HTTP/1.1 %s\r\nContent-Length: 0\r\nConnection: close\r\n\r\n" % status)


def serve(sock, logpath):
    try:
        lines, rest = read_head(sock)
        if not lines:
            return
        log(logpath, lines)
        method, target, version = lines[0].split(" ", 2)
        if method == "CONNECT":
            host, _, port = target.rpartition(":")
            host = host.strip("[]")
            if not allowed(host):
                return refuse(sock, b"403 Forbidden")
            up = socket.create_connection((host, int(port)), timeout=10)
            up.settimeout(None)
            sock.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            if rest:
                up.sendall(rest)
            t = threading.Thread(target=relay, args=(up, sock), daemon=True)
            t.start()
            relay(sock, up)
            t.join(10)
            return
        u = urlsplit(target)
        if u.scheme != "http" or not u.hostname or not allowed(u.hostname):
            return refuse(sock, b"403 Forbidden")
        length = 0
        headers = []
        for h in lines[1:]:
            name = h.split(":", 1)[0].strip().lower()
            if name == "content-length":
                length = int(h.split(":", 1)[1])
            if name.startswith("proxy-") or name == "connection":
                continue
            headers.append(h)
        body = rest
        while len(body) < length:
            chunk = sock.recv(65536)
            if not chunk:
                break
            body += chunk
        path = u.path + ("?" + u.query if u.query else "")
        up = socket.create_connection((u.hostname, u.port or 80), timeout=30)
        head = "%s %s %s\r\n%s\r\nConnection: close\r\n\r\n" % (method, path or "/", version,
                                                                 "\r\n".join(headers))
        up.sendall(head.encode("latin-1") + body)
        while True:
            data = up.recv(65536)
            if not data:
                break
            sock.sendall(data)
        up.close()
    except (OSError, ValueError):
        pass
    finally:
        try:
            sock.close()
        except OSError:
            pass


def exit_on_eof():
    import os
    try:
        while os.read(0, 65536):
            pass
    except OSError:
        pass
    os._exit(0)


def main(argv):
    host, port, logpath, port_file = "127.0.0.1", 0, None, None
    i = 0
    while i < len(argv):
        k, v = argv[i], argv[i + 1] if i + 1 < len(argv) else None
        if k == "--exit-on-stdin-eof":
            threading.Thread(target=exit_on_eof, daemon=True).start()
            i += 1
            continue
        if k == "--host":
            host = v
        elif k == "--port":
            port = int(v)
        elif k == "--log":
            logpath = v
        elif k == "--port-file":
            port_file = v
        else:
            sys.exit("proxy.py: unknown argument %s" % k)
        i += 2
    if not logpath or not allowed(host):
        sys.exit("proxy.py: --log FILE and a loopback --host are needed")
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((host, port))
    ls.listen(64)
    port = ls.getsockname()[1]
    if port_file:
        with open(port_file + ".tmp", "w") as f:
            f.write("%d\n" % port)
        import os
        os.replace(port_file + ".tmp", port_file)
    sys.stdout.write("%d\n" % port)
    sys.stdout.flush()
    while True:
        s, _ = ls.accept()
        threading.Thread(target=serve, args=(s, logpath), daemon=True).start()


if __name__ == "__main__":
    main(sys.argv[1:])
