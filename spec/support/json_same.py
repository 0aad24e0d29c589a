#!/usr/bin/env python3
"""Are two JSON texts the same JSON value? The oracle of
spec/json_roundtrip_spec.lua: Python's own json module, not ours.

    python3 spec/support/json_same.py DIR N [--ordered]

compares DIR/a<i>.json with DIR/b<i>.json for i = 1..N and prints one line
per pair that differs ("<i>: <path>: <what>"), then "checked N". Same means:
the same types ([] is not {}, null is null, true is not 1), strings equal,
numbers equal, an integer still an integer (a float may come back as an
integer when it is integral: 2.0 and 2 are one JSON number), and objects
with the same members; with --ordered, in the same order too.
"""
import json
import sys


def diff(a, b, ordered, path):
    if isinstance(a, bool) or isinstance(b, bool):
        return None if a is b else "%r is not %r" % (a, b)
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        if isinstance(a, int) and not isinstance(b, int):
            return "the integer %r came back as %r" % (a, b)
        return None if a == b else "%r != %r" % (a, b)
    if type(a) is not type(b):
        return "%s is not %s" % (type(a).__name__, type(b).__name__)
    if isinstance(a, list):
        if len(a) != len(b):
            return "%d items, not %d" % (len(a), len(b))
        for i, (x, y) in enumerate(zip(a, b)):
            d = diff(x, y, ordered, "%s[%d]" % (path, i))
            if d:
                return d
        return None
    if isinstance(a, dict):
        if set(a) != set(b):
            return "%s: members %s, not %s" % (path, sorted(a), sorted(b))
        if ordered and list(a) != list(b):
            return "%s: order %s, not %s" % (path, list(a), list(b))
        for k in a:
            d = diff(a[k], b[k], ordered, "%s.%s" % (path, k))
            if d:
                return d
        return None
    return None if a == b else "%r != %r" % (a, b)


def main(argv):
    folder, n = argv[1], int(argv[2])
    ordered = "--ordered" in argv[3:]
    for i in range(1, n + 1):
        with open("%s/a%d.json" % (folder, i), "rb") as f:
            a = json.loads(f.read().decode("utf-8"))
        with open("%s/b%d.json" % (folder, i), "rb") as f:
            b = json.loads(f.read().decode("utf-8"))
        d = diff(a, b, ordered, "$")
        if d:
            print("%d: %s" % (i, d))
    print("checked %d" % n)


if __name__ == "__main__":
    main(sys.argv)
