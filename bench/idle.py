#!/usr/bin/env python3
"""An idle editor stays idle: the CPU of headless Neovim (LuaJIT) over the
same 5.5 s, idle, with the module loaded, with one 5-second streaming
request driven by the uv adapter (its turns on the main loop, the default
in Neovim, and inside libuv's callbacks), and with the same request driven
by a 10 ms polling timer; the floor under the request (the same stream read
by a bare vim.loop socket, with and without a vim.schedule a read); and the
latency from a socket's wake-up to its on_delta in either uv mode (what
scheduling the turns adds). Run by bench/run.sh (its servers; the module
built for LuaJIT); writes its section into bench/RESULTS.md's hand-written part
(between <!-- begin idle --> and <!-- end idle -->).

    python3 bench/idle.py --work DIR --streams URL --bin DIR --root DIR
        --build DIR --server-pids PID,... --rounds 7 --out bench/RESULTS.md
        [--streams-note WHO-SERVES-THE-STREAMS]

Each run is a fresh `nvim --headless -u NONE -i NONE` under bench/measure.c
(CPU from wait4: the whole process, start-up included) running
bench/idle_nvim.lua, which also reports its own CPU from its first line to
the quit (os.clock). Rounds are interleaved, the modes' order rotated;
figures are medians.
"""
import argparse
import datetime
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import f, measured, med, parse_kv, ratio, verdict, write_section  # noqa: E402

BENCH = os.path.dirname(os.path.abspath(__file__))
ap = argparse.ArgumentParser()
for k in ("work", "streams", "bin", "root", "build", "server-pids", "out"):
    ap.add_argument("--" + k, required=True)
ap.add_argument("--nvim", default="nvim")
ap.add_argument("--streams-note", default="the bench's server")
ap.add_argument("--rounds", type=int, default=7)
ap.add_argument("--seconds", type=float, default=5.5)
A = ap.parse_args()

GAP, N_CHUNKS = 100, 50
ROUTE = "p%ds%d" % (GAP, N_CHUNKS)
MODES = [
    ("idle", "idle Neovim"),
    ("loaded", "idle, `require \"chatgpt\"` and a client made"),
    ("uv", "one streaming request, uv adapter (`chatgpt.uv` on `vim.loop`; turns from the main loop)"),
    ("uvfast", "the same, `{schedule = false}`: turns inside libuv's callbacks"),
    ("poll", "the same request, 10 ms `vim.loop` timer calling `chatgpt.poll(0)`"),
    ("raw", "the floor: the module loaded, the same stream read by a bare `vim.loop` TCP socket"),
    ("rawsched", "the floor, each read also asking `vim.schedule` for an empty function"),
]
# timed from inside (latency, turns counted): run beside, not in the CPU table
TIMED = [
    ("uvlat", "uv, timed: latency from a socket's wake-up to its delta, `drive` calls counted"),
    ("uvfastlat", "uvfast, timed the same way"),
]
STREAMING = ("uv", "uvfast", "poll", "uvlat", "uvfastlat")
RAW = ("raw", "rawsched")
pids = [int(p) for p in A.server_pids.split(",") if p]
# the text the request must return: the content of the served chunks
TEXT = os.path.join(A.work, "www", "stream%d.txt" % N_CHUNKS)
with open(os.path.join(A.work, "www", "stream%d.sse" % N_CHUNKS)) as fh, open(TEXT, "w") as out:
    for ev in fh.read().split("\n\n"):
        if ev.startswith("data: {"):
            out.write(json.loads(ev[6:])["choices"][0]["delta"].get("content") or "")
env = dict(os.environ, BENCH_SECONDS=str(A.seconds), BENCH_URL="%s/%s/v1" % (A.streams, ROUTE),
           BENCH_TEXT=TEXT, BENCH_ROOT=A.root, BENCH_BUILD=A.build)
argv = [A.nvim, "--headless", "-u", "NONE", "-i", "NONE", "-c",
        "luafile " + os.path.join(BENCH, "idle_nvim.lua")]

runs = {}
for rnd in range(1, A.rounds + 1):
    print("idle: round %d of %d" % (rnd, A.rounds), flush=True)
    every = MODES + TIMED
    k = (rnd - 1) % len(every)
    for mode, _ in every[k:] + every[:k]:
        res_file = os.path.join(A.work, "runs", "idle.%s.%d.res" % (mode, rnd))
        if os.path.exists(res_file):
            os.remove(res_file)
        e = dict(env, BENCH_MODE=mode, BENCH_RESULT=res_file)
        m, _, _, _ = measured(os.path.join(A.bin, "measure"),
                                os.path.join(A.work, "runs", "idle.%s.%d.out" % (mode, rnd)),
                                int(A.seconds) + 30, argv, e, pids)
        try:
            line = open(res_file).read().strip()
        except OSError:
            line = ""
        res = parse_kv(line)
        why = None
        if m.get("status") != 0:
            why = "exit %s: %s" % (m.get("status"), line[:160])
        elif not line.startswith("ok "):
            why = "no ok line: " + (line[:160] or "(nothing)")
        elif mode in STREAMING and res.get("deltas") != N_CHUNKS - 2:
            why = "deltas=%s" % res.get("deltas")
        elif mode in RAW and not res.get("reads"):
            why = "no reads"
        r = {"cpu": (m.get("user", 0) + m.get("sys", 0)) * 1000, "rss": m.get("maxrss_kb", 0) / 1024,
             "res": res, "failed": why}
        runs.setdefault(mode, []).append(r)
        print("  r%d %-6s process %.1f ms  window %s ms  %s" % (
            rnd, mode, r["cpu"], f(res.get("cpu_ms"), "%.1f"), "FAILED " + why if why else "ok"),
            flush=True)


def ok_runs(mode):
    return [r for r in runs.get(mode, []) if not r["failed"]]


def proc(mode):
    return med([r["cpu"] for r in ok_runs(mode)])


def window(mode, key="cpu_ms"):
    return med([r["res"].get(key) for r in ok_runs(mode)])


def spread(mode):
    vals = [r["cpu"] for r in ok_runs(mode)]
    return "%.1f-%.1f" % (min(vals), max(vals)) if vals else "—"


def result(mode):
    fl = [r["failed"] for r in runs.get(mode, []) if r["failed"]]
    return "ok" if not fl else "**FAILED %d/%d**: %s" % (len(fl), len(runs[mode]), fl[0])


def version(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=10).stdout.splitlines()[0]
    except (OSError, IndexError, subprocess.TimeoutExpired):
        return "?"


nv = version([A.nvim, "--version"])
lj = version([A.nvim, "--headless", "-u", "NONE", "-i", "NONE", "--cmd",
              "lua io.stdout:write(jit and jit.version or _VERSION, '\\n')", "--cmd", "qa!"])
L = []
w = L.append
w("## An idle editor stays idle")
w("")
w("Written by `bench/idle.py` (run by `make bench`; alone: `BENCH_ONLY=idle sh bench/run.sh`) "
  "on %s: %s (%s), `nvim --headless -u NONE -i NONE`, the module built with `make LUA=luajit`; "
  "%d interleaved rounds, medians." % (
      datetime.datetime.now().strftime("%Y-%m-%d %H:%M"), nv, lj, A.rounds))
w("")
w("Every run lives %.1f s (`bench/idle_nvim.lua` quits then). The request streams the harness's "
  "50-chunk chat stream from %s, one chunk every %d ms (10 chunks/s, 5.0 s; the "
  "real API sends a few dozen a second) with `on_delta`; a `chatgpt.spawn`ed `req:wait()` hears "
  "its end, and its text is checked. *Process* = CPU of the whole nvim process from wait4 "
  "(start-up included, as an outside observer sees it); *in Lua* = `os.clock` from the "
  "script's first line to the quit (start-up left out); *request* = `os.clock` from "
  "`chat_async` to the request's end, the part that does not move with the machine's "
  "noise (loading libcurl and its TLS stack moves by several ms from run to run)." % (
      A.seconds, A.streams_note, GAP))
w("")
base, loaded = proc("idle"), proc("loaded")
HEAD = ("| nvim | CPU ms (process) | rounds' range | × idle | × idle with the module | CPU ms in Lua "
        "| request CPU ms | peak RSS MB | result |")
w(HEAD)
w("|---|---:|---:|---:|---:|---:|---:|---:|---|")
for mode, label in MODES:
    p = proc(mode)
    w("| %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
        label, f(p, "%.1f"), spread(mode), f(ratio(p, base), "%.2f"), f(ratio(p, loaded), "%.2f"),
        f(window(mode), "%.1f"), f(window(mode, "req_ms"), "%.1f") if mode in STREAMING + RAW else "",
        f(med([r["rss"] for r in ok_runs(mode)]), "%.1f"), result(mode)))
w("")
ru, rpl, nd = window("uv", "req_ms"), window("poll", "req_ms"), window("uvlat", "drives")
w("The request itself: %s ms of CPU with the uv adapter (%s `drive` calls in the timed runs, %s µs "
  "each: one wake-up a chunk), %s ms with the polling timer (%s calls of `poll(0)`): %s ×." % (
      f(ru, "%.1f"), f(nd, "%.0f"),
      f(None if ru is None or not nd else ru * 1000 / nd, "%.0f"),
      f(rpl, "%.1f"), f(window("poll", "polls"), "%.0f"), f(ratio(rpl, ru), "%.1f")))
w("")
rr, rs, rf = window("raw", "req_ms"), window("rawsched", "req_ms"), window("uvfast", "req_ms")
w("Where the request's CPU goes: the same stream read by a bare `vim.loop` socket in the same "
  "Neovim (no parsing, %s reads) costs %s ms from connect to its last chunk, %s ms when each read "
  "also asks `vim.schedule` for an empty function: the wake-ups themselves (kernel, libuv, luv's "
  "callback) and Neovim's extra round of its loop per scheduled function, which no adapter on "
  "Neovim's loop avoids. The request on the uv adapter costs %s ms more than that scheduled floor "
  "(%s µs a wake-up), inside libuv's callbacks %s ms more than the bare read: curl, the engine "
  "and the Lua around each chunk." % (
      f(window("raw", "reads"), "%.0f"), f(rr, "%.1f"), f(rs, "%.1f"),
      f(None if ru is None or rs is None else ru - rs, "%.1f"),
      f(None if ru is None or rs is None or not nd else (ru - rs) * 1000 / nd, "%.0f"),
      f(None if rf is None or rr is None else rf - rr, "%.1f")))
w("")
ls, lf = window("uvlat", "lat_us_med"), window("uvfastlat", "lat_us_med")
added = None if ls is None or lf is None else ls - lf
w("From a socket's wake-up (its poll handle's callback) to the `on_delta` it brings, medians of "
  "each run's median (and 90th percentile) over its %d deltas: %s µs (%s µs) with the turns on the "
  "main loop, %s µs (%s µs) inside libuv's callback; scheduling adds %s µs. The turns asked of "
  "`vim.schedule` per run: %s `drive` calls, %s of them for the timer (one a chunk: one turn wakes "
  "for each, never two queued). These come from runs of their own, %d a mode (%s), as the "
  "timing costs CPU: the rows above carry none of it." % (
      N_CHUNKS - 2, f(ls, "%.0f"), f(window("uvlat", "lat_us_p90"), "%.0f"), f(lf, "%.0f"),
      f(window("uvfastlat", "lat_us_p90"), "%.0f"), f(added, "%.0f"), f(nd, "%.0f"),
      f(window("uvlat", "timer_drives"), "%.0f"), A.rounds,
      "; ".join("%s: %s" % (m, result(m)) for m, _ in TIMED)))
w("")
w("### Targets (issue 13: an idle editor stays idle; issue 20: callbacks on the main loop)")
w("")
w("| target | measured | verdict |")
w("|---|---|---|")
r1, r2 = ratio(proc("uv"), loaded), ratio(proc("uv"), base)
est = None if ru is None or not loaded else 1 + ru / loaded
est_floor = None if rs is None or not loaded else 1 + rs / loaded
w("| uv adapter, one 5-second stream: process CPU ≤ 1.5 × an idle Neovim with the module "
  "loaded | %s × (medians: %s ms vs %s ms; the loaded editor's median plus the request's own "
  "%s ms: %s ×; plus only the scheduled floor's %s ms: %s ×); turns inside libuv's callbacks: "
  "%s ×; the polling timer: %s × | %s |" % (
      f(r1, "%.2f"), f(proc("uv"), "%.1f"), f(loaded, "%.1f"), f(ru, "%.1f"), f(est, "%.2f"),
      f(rs, "%.1f"), f(est_floor, "%.2f"),
      f(ratio(proc("uvfast"), loaded), "%.2f"), f(ratio(proc("poll"), loaded), "%.2f"),
      verdict(None if r1 is None else r1 <= 1.5)))
w("| the same against a bare idle Neovim (no module) | %s × (%s ms vs %s ms); the polling "
  "timer: %s ×; loading the module alone: %s × | %s |" % (
      f(r2, "%.2f"), f(proc("uv"), "%.1f"), f(base, "%.1f"), f(ratio(proc("poll"), base), "%.2f"),
      f(ratio(loaded, base), "%.2f"), verdict(None if r2 is None else r2 <= 1.5)))
w("| the latency that running the turns from the main loop adds to a delta: median < 1 ms "
  "| %s µs (%s µs against %s µs) | %s |" % (
      f(added, "%.0f"), f(ls, "%.0f"), f(lf, "%.0f"), verdict(None if added is None else added < 1000)))
w("")
w("Rerun: `BENCH_ONLY=idle sh bench/run.sh` (`BENCH_IDLE_ROUNDS=9` for more rounds); raw "
  "result lines in `bench/.work/runs/idle.*`.")
write_section(A.out, "idle", "\n".join(L))
print("\n".join(L[L.index(HEAD):]))
print("idle: wrote its section into " + A.out)
