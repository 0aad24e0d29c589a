"""Helpers shared by bench/scale.py and bench/idle.py (bench/harness.py
keeps its own copies)."""
import os
import re
import statistics
import subprocess

HZ = os.sysconf("SC_CLK_TCK")

# bench/harness.py carries everything below this line over from the previous
# report; the scripts' sections live there, each between its own markers.
MARK = "<!-- written by hand below this line; bench/harness.py keeps it -->"


def parse_kv(line):
    return {k: (float(v) if re.match(r"^-?[\d.]+$", v) else v)
            for k, v in re.findall(r"(\w+)=(\S+)", line)}


def server_cpu(pids):
    """CPU seconds used so far by the server processes and their children
    (10 ms ticks)."""
    total = 0
    want = set(pids)
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            st = open("/proc/%s/stat" % d).read()
        except OSError:
            continue
        f = st[st.rindex(")") + 2:].split()
        if int(d) in want or int(f[1]) in want:
            total += int(f[11]) + int(f[12])
    return total / HZ


def measured(measure, out, timeout, argv, env, server_pids=()):
    """Runs argv under bench/measure.c (fresh process; wall, CPU and peak RSS
    from wait4). Returns the measurement, the child's last stdout line
    parsed, that line, and the server CPU used meanwhile."""
    s0 = server_cpu(server_pids)
    m = parse_kv(subprocess.run([measure, out, str(timeout)] + argv, env=env,
                                stdout=subprocess.PIPE, text=True).stdout)
    s1 = server_cpu(server_pids)
    try:
        lines = open(out).read().strip().splitlines()
    except OSError:
        lines = []
    line = lines[-1] if lines else ""
    return m, parse_kv(line), line, s1 - s0


def med(vals):
    vals = [v for v in vals if isinstance(v, (int, float))]
    return statistics.median(vals) if vals else None


def f(v, fmt="%.3f"):
    return "—" if v is None else fmt % v


def ratio(a, b):
    return None if a is None or b is None or b <= 0 else a / b


def verdict(ok):
    return "—" if ok is None else ("**met**" if ok else "**MISSED**")


def write_section(path, name, text):
    """Puts text into path's hand-written part between
    <!-- begin NAME --> and <!-- end NAME -->, in place of the previous
    one, or at the end; adds the hand-written marker if missing."""
    begin, end = "<!-- begin %s -->" % name, "<!-- end %s -->" % name
    block = "%s\n%s\n%s\n" % (begin, text.strip("\n"), end)
    try:
        old = open(path).read()
    except OSError:
        old = ""
    if MARK not in old:
        old = old.rstrip("\n") + ("\n\n" if old else "") + MARK + "\n"
    if begin in old and end in old[old.index(begin):]:
        a = old.index(begin)
        b = old.index(end, a) + len(end)
        new = old[:a] + block.rstrip("\n") + old[b:]
    else:
        new = old.rstrip("\n") + "\n\n" + block
    with open(path, "w") as fh:
        fh.write(new)
