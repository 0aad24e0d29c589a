"""multipart/form-data request bodies: parsed for the endpoints that take
uploads (audio transcriptions, files) and for the records specs read."""

import base64
import re

_BOUNDARY = re.compile(r'boundary="?([^";]+)"?', re.I)
_DISPOSITION = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def boundary_of(req):
    ctype = req.hmap.get("content-type", "")
    if not ctype.lower().startswith("multipart/form-data"):
        return None
    m = _BOUNDARY.search(ctype)
    return m.group(1) if m else None


def parse(req):
    """A list of parts {name, filename (or None), type (or None), data
    (bytes)} in the order sent, or None when the body is not multipart (or
    not well-formed: a part without a name, a missing closing boundary)."""
    b = boundary_of(req)
    if b is None:
        return None
    sep = b"--" + b.encode("latin-1")
    body = req.body
    if not body.startswith(sep):
        return None
    parts = []
    pos = len(sep)
    while True:
        if body[pos:pos + 2] == b"--":
            return parts
        if body[pos:pos + 2] != b"\r\n":
            return None
        head_end = body.find(b"\r\n\r\n", pos + 2)
        if head_end < 0:
            return None
        headers = {}
        for line in body[pos + 2:head_end].split(b"\r\n"):
            k, _, v = line.decode("latin-1").partition(":")
            headers[k.strip().lower()] = v.strip()
        nxt = body.find(b"\r\n" + sep, head_end + 4)
        if nxt < 0:
            return None
        disp = dict(_DISPOSITION.findall(headers.get("content-disposition", "")))
        if "name" not in disp:
            return None
        parts.append({"name": disp["name"], "filename": disp.get("filename"),
                      "type": headers.get("content-type"), "data": body[head_end + 4:nxt]})
        pos = nxt + 2 + len(sep)


def fields(parts):
    """{name: text} of the parts that are not files (the last one wins), and
    the file parts."""
    plain, files = {}, []
    for p in parts:
        if p["filename"] is None:
            plain[p["name"]] = p["data"].decode("utf-8", "replace")
        else:
            files.append(p)
    return plain, files


def record(req):
    """What a request record shows of a multipart body: every part with its
    bytes in base64, or None for any other body."""
    parts = parse(req)
    if parts is None:
        return None
    return [{"name": p["name"], "filename": p["filename"], "type": p["type"],
             "size": len(p["data"]), "data_b64": base64.b64encode(p["data"]).decode("ascii")}
            for p in parts]
