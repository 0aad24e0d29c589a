#!/usr/bin/env python3
"""Scale in one Lua state: 1,000 paced streams at once, in polling mode
(chatgpt.poll(0) every 10 ms, or in a busy loop) and in socket mode
(chatgpt.uv on luv),
against one stream alone and 100 at once. Run by bench/run.sh after the
harness (its servers); writes its section into bench/RESULTS.md's
hand-written part (between <!-- begin scale --> and <!-- end scale -->).

    python3 bench/scale.py --work DIR --streams URL --bin DIR --lua LUA
        --lua-path P --lua-cpath P --server-pids PID,... --rounds 3
        --out bench/RESULTS.md [--streams-note WHO-SERVES-THE-STREAMS]

Every run is a fresh process under bench/measure.c (CPU and peak RSS from
wait4), running bench/scale.lua, which checks every request's text and
times every poll(0) / drive() call; rounds are interleaved, figures are
medians of rounds unless said.
"""
import argparse
import datetime
import json
import os
import resource
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import f, measured, med, ratio, verdict, write_section  # noqa: E402

BENCH = os.path.dirname(os.path.abspath(__file__))
ap = argparse.ArgumentParser()
for k in ("work", "streams", "bin", "lua", "lua-path", "lua-cpath", "server-pids", "out"):
    ap.add_argument("--" + k, required=True)
ap.add_argument("--streams-note", default="the bench's server")
ap.add_argument("--rounds", type=int, default=3)
A = ap.parse_args()

PACED = json.load(open(os.path.join(A.work, "www", "paced.json")))
EXP = json.load(open(os.path.join(A.work, "expected.json")))
GAP, N_CHUNKS = 100, 50
VARIANTS = sorted(k for k in PACED if k.startswith("p%ds%dv" % (GAP, N_CHUNKS)))
URLS = ",".join("%s/%s/v1" % (A.streams, v) for v in VARIANTS)
SSE = os.path.join(A.work, "www", "stream%d.sse" % N_CHUNKS)
WARM = A.streams + "/s10/v1"
FRAME_MS = 10
BIG = 1000


def scale(mode, n, urls=URLS, sse=SSE, frame_ms=FRAME_MS, gc="gc"):
    return [A.lua, os.path.join(BENCH, "scale.lua"), mode, urls, str(n), sse, WARM, "0", str(frame_ms), gc]


# id, label, argv, streams, chunks per stream
SCENARIOS = [
    ("one-chat", "1 stream, `client:chat` (the engine waits in poll(2))", scale("chat", 1), 1, N_CHUNKS),
    ("one-uv", "1 stream, luv (`chatgpt.uv`)", scale("uv", 1), 1, N_CHUNKS),
    ("h-poll", "100 at once, `poll(0)` every %d ms" % FRAME_MS, scale("poll", 100), 100, N_CHUNKS),
    ("h-uv", "100 at once, luv", scale("uv", 100), 100, N_CHUNKS),
    ("k-poll", "1,000 at once, `poll(0)` every %d ms" % FRAME_MS, scale("poll", BIG), BIG, N_CHUNKS),
    ("k-uv", "1,000 at once, luv", scale("uv", BIG), BIG, N_CHUNKS),
    ("k-busy", "1,000 at once, `poll(0)` in a busy loop", scale("poll", BIG, frame_ms=0), BIG, N_CHUNKS),
    # the same as k-poll with Lua's collector stopped: what the engine's own
    # work in a call is, without the collector steps that fall inside it
    ("k-nogc", "1,000 at once, `poll(0)` every %d ms, collector stopped" % FRAME_MS,
     scale("poll", BIG, gc="nogc"), BIG, N_CHUNKS),
    ("fast", "1 unpaced stream of 5,000 chunks, `client:chat`",
     scale("chat", 1, A.streams + "/s5000/v1", os.path.join(A.work, "www", "stream5000.sse")), 1, 5000),
    # raw libcurl on the same stream, paced and not: what a wake-up costs here
    ("raw-paced", "raw libcurl, 1 paced stream",
     [os.path.join(A.bin, "raw_curl"), "stream", URLS.split(",")[0], "1"], 1, N_CHUNKS),
    ("raw-fast", "raw libcurl, the same stream unpaced",
     [os.path.join(A.bin, "raw_curl"), "stream", A.streams + "/s%d/v1" % N_CHUNKS, "1"], 1, N_CHUNKS),
]
RAW = ("raw-paced", "raw-fast")

soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
NOTE = ""
if soft != resource.RLIM_INFINITY and soft < BIG + 200:
    SCENARIOS = [s for s in SCENARIOS if s[3] < BIG]
    NOTE = ("**1,000-stream runs skipped:** `ulimit -n` is %d here (bench/run.sh raises it to "
            "4096 when the hard limit allows)." % soft)
    print("scale: " + NOTE)

env = dict(os.environ, LUA_PATH=A.lua_path, LUA_CPATH=A.lua_cpath)
pids = [int(p) for p in A.server_pids.split(",") if p]
runs = {}
for rnd in range(1, A.rounds + 1):
    print("scale: round %d of %d" % (rnd, A.rounds), flush=True)
    order = SCENARIOS[rnd - 1:] + SCENARIOS[:rnd - 1]
    for sid, _, argv, n, chunks in order:
        out = os.path.join(A.work, "runs", "scale.%s.%d.out" % (sid, rnd))
        m, res, line, srv = measured(os.path.join(A.bin, "measure"), out, 120, argv, env, pids)
        per = EXP["stream%d" % chunks]
        why = None
        if m.get("status") != 0:
            why = "exit %s: %s" % (m.get("status"), line[:160])
        elif not line.startswith("ok "):
            why = "no ok line: " + line[:160]
        else:
            want = (("requests", n), ("events", n * per["events"])) if sid in RAW else \
                (("requests", n), ("deltas", n * per["deltas"]), ("chars", n * per["chars"]),
                 ("chunks", n * chunks))
            for k, v in want:
                if res.get(k) != v:
                    why = "%s=%s, expected %s" % (k, res.get(k), v)
                    break
        r = {"cpu": m.get("user", 0) + m.get("sys", 0), "rss": m.get("maxrss_kb", 0) / 1024,
             "srv": srv, "res": res, "failed": why}
        runs.setdefault(sid, []).append(r)
        print("  r%d %-8s cpu %.3f s  rss %.1f MB  %.2f us/chunk  slowest call %s us (cpu %s)  %s" % (
            rnd, sid, r["cpu"], r["rss"], res.get("us_per_chunk", 0), f(res.get("max_us"), "%.0f"),
            f(res.get("max_cpu_us"), "%.0f"), "FAILED " + why if why else "ok"), flush=True)


def ok_runs(sid):
    return [r for r in runs.get(sid, []) if not r["failed"]]


def m_res(sid, key):
    return med([r["res"].get(key) for r in ok_runs(sid)])


def worst(sid, key, src="res"):
    vals = [(r[src].get(key) if src == "res" else r[key]) for r in ok_runs(sid)]
    vals = [v for v in vals if isinstance(v, (int, float))]
    return max(vals) if vals else None


def total(sid, key):
    return sum(r["res"].get(key, 0) for r in ok_runs(sid))


def ms(us):
    return None if us is None else us / 1000


def result(sid):
    fl = [r["failed"] for r in runs.get(sid, []) if r["failed"]]
    return "ok" if not fl else "**FAILED %d/%d**: %s" % (len(fl), len(runs[sid]), fl[0])


L = []
w = L.append
w("## Scale: 1,000 streams in one Lua state")
w("")
w("Written by `bench/scale.py` (run by `make bench`; alone: `BENCH_ONLY=scale sh bench/run.sh`) "
  "on %s, %d interleaved rounds, medians unless said." % (
      datetime.datetime.now().strftime("%Y-%m-%d %H:%M"), A.rounds))
w("")
w("Every stream is the 50-chunk chat stream of the harness (~325 bytes a chunk), paced: %s "
  "serves one chunk about every %d ms (%d variants, each with its own seeded gaps of %d-%d ms, "
  "used round robin; a stream takes ~5 s), i.e. 10 chunks/s a stream and 10,000 chunks/s for "
  "1,000 streams. `bench/scale.lua` checks every request's text and every on_delta piece, "
  "and times every `chatgpt.poll(0)` call (polling: one a %d ms frame, then it sleeps to the "
  "next frame, as an editor's timer or a game does; or a busy loop, as the harness's drip "
  "scenario) or every `chatgpt.drive` call (luv: `chatgpt.uv` attached to `require \"luv\"`, "
  "Lua 5.4). `chatgpt.configure{max_host_connections = 1000}`. *CPU per chunk* = the "
  "process's CPU (`os.clock`) from the first request to the last end, over the chunks; "
  "a warm-up request before it keeps first-call costs out. *Start phase*: until every "
  "request has had its first delta (connecting, sending, headers); *steady*: after it. "
  "Calls are judged on their CPU time (a wall time far above it is the OS running "
  "something else: 2 shared cores)." % (
      A.streams_note, GAP, len(VARIANTS),
      GAP * 8 // 10, GAP * 12 // 10, FRAME_MS))
w("")
if NOTE:
    w(NOTE)
    w("")
w("| scenario | wall s | CPU s (process) | µs per chunk | × 1 stream | peak RSS MB | server CPU s | result |")
w("|---|---:|---:|---:|---:|---:|---:|---|")
for sid, label, _, n, _ in SCENARIOS:
    if sid in RAW:
        continue
    ref = {"h-poll": "one-chat", "k-poll": "one-chat", "h-uv": "one-uv", "k-uv": "one-uv"}.get(sid)
    pc = None if sid == "k-busy" else m_res(sid, "us_per_chunk")   # a busy loop uses all the CPU
    w("| %s | %s | %s | %s | %s | %s | %s | %s |" % (
        label, f(m_res(sid, "wall_s")), f(med([r["cpu"] for r in ok_runs(sid)])), f(pc, "%.2f"),
        f(ratio(pc, m_res(ref, "us_per_chunk")), "%.2f") if ref else "1" if sid in ("one-chat", "one-uv") else "—",
        f(worst(sid, "rss", "run"), "%.1f"), f(med([r["srv"] for r in ok_runs(sid)]), "%.2f"),
        result(sid)))
w("")
rp, rf = (med([r["cpu"] for r in ok_runs(s)]) for s in RAW)
wake = None if rp is None or rf is None else (rp - rf) / N_CHUNKS * 1e6
w("Peak RSS: worst round. The unpaced stream is the harness's single-stream figure measured "
  "the same way: there one read brings ~50 chunks; a paced chunk comes alone, and costs a "
  "wake-up, a `poll`/`epoll` and a curl socket action of its own. What a wake-up costs on "
  "this machine: raw libcurl (`bench/raw_curl.c`, counting bytes, no parsing) uses %s ms of "
  "CPU on one paced stream and %s ms on the same stream unpaced (whole process, wait4): "
  "%s µs more per chunk, before any parsing or Lua." % (
      f(None if rp is None else rp * 1e3, "%.1f"), f(None if rf is None else rf * 1e3, "%.1f"),
      f(wake, "%.0f")))
w("")
w("| scenario | calls (steady) | p99 µs | slowest: wall / CPU µs | calls > 5 ms CPU (wall) | "
  "start: calls | start: slowest CPU µs | start: calls > 5 ms CPU | longest `chat_async` batch ms |")
w("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
for sid, label, _, n, _ in SCENARIOS:
    if sid in ("one-chat", "fast") or sid in RAW:
        continue
    w("| %s | %s | %s | %s / %s | %d (%d) | %s | %s | %d | %s |" % (
        label, f(m_res(sid, "calls"), "%.0f"), f(m_res(sid, "p99_us"), "%.0f"),
        f(worst(sid, "max_us"), "%.0f"), f(worst(sid, "max_cpu_us"), "%.0f"),
        total(sid, "over_5ms_cpu"), total(sid, "over_5ms"), f(m_res(sid, "start_calls"), "%.0f"),
        f(worst(sid, "start_max_cpu_us"), "%.0f"), total(sid, "start_over_5ms_cpu"),
        f(ms(worst(sid, "async_cpu_us")), "%.1f")))
w("")
w("Slowest calls and `chat_async` batches: worst round; counts: all rounds together. "
  "The `chat_async` batch is the loop that starts every request (1,000 calls), before "
  "the first poll or drive: the host is busy there too.")
w("")
w("### Targets (item 7 of issue 13)")
w("")
w("| target | measured | verdict |")
w("|---|---|---|")
big = [s for s in ("k-poll", "k-uv", "k-busy") if s in runs]   # k-nogc's RSS is not a figure
allruns = sum(len(v) for v in runs.values())
okruns = sum(len(ok_runs(s)) for s in runs)
w("| every request completes with the text served | %d of %d runs ok (each checks every text "
  "and every delta) | %s |" % (okruns, allruns, verdict(okruns == allruns if allruns else None)))
rss = max([worst(s, "rss", "run") or 0 for s in big] or [0]) or None
w("| 1,000 streams: peak RSS < 60 MB | %s MB (worst run) | %s |" % (
    f(rss, "%.1f"), verdict(None if rss is None else rss < 60)))
for sid, ref, label in (("k-poll", "one-chat", "polling"), ("k-uv", "one-uv", "luv")):
    if sid not in runs:
        continue
    a, b, fast = m_res(sid, "us_per_chunk"), m_res(ref, "us_per_chunk"), m_res("fast", "us_per_chunk")
    r = ratio(a, b)
    w("| 1,000 streams, %s: CPU per chunk ≤ 1.2 × one stream alone | %s × (%s µs vs %s µs for the "
      "same paced stream alone; %s × the unpaced stream's %s µs) | %s |" % (
          label, f(r, "%.2f"), f(a, "%.1f"), f(b, "%.1f"), f(ratio(a, fast), "%.1f"), f(fast, "%.2f"),
          verdict(None if r is None else r <= 1.2)))
for sid, what in (("k-poll", "no `poll(0)` call (one a %d ms frame)" % FRAME_MS),
                  ("k-busy", "no `poll(0)` call (busy loop)"), ("k-uv", "no `drive()` call"),
                  ("k-nogc", "collector stopped, no `poll(0)` call (one a %d ms frame)" % FRAME_MS)):
    if sid not in runs:
        continue
    st, sw = worst(sid, "max_cpu_us"), worst(sid, "max_us")
    w("| 1,000 streams, steady: %s over 5 ms | slowest %s µs CPU (wall %s µs), %d calls over "
      "5 ms CPU in %d rounds | %s |" % (what, f(st, "%.0f"), f(sw, "%.0f"), total(sid, "over_5ms_cpu"),
                                       len(runs[sid]), verdict(None if st is None else st <= 5000)))
    s1 = worst(sid, "start_max_cpu_us")
    w("| 1,000 streams, start: %s over 5 ms | slowest %s µs CPU, %d calls over 5 ms CPU in %d "
      "rounds | %s |" % (what, f(s1, "%.0f"), total(sid, "start_over_5ms_cpu"), len(runs[sid]),
                         verdict(None if s1 is None else s1 <= 5000)))
w("")
w("Rerun: `BENCH_ONLY=scale sh bench/run.sh` (after `make all`); raw result lines in "
  "`bench/.work/runs/scale.*`.")
write_section(A.out, "scale", "\n".join(L))
print("\n".join(L[L.index("### Targets (item 7 of issue 13)"):]))
print("scale: wrote its section into " + A.out)
