#!/usr/bin/env python3
"""The tokenizer against tiktoken (the npm package: its WASM build of
OpenAI's Rust core) and js-tiktoken (pure JavaScript), on the same texts in
one run: English prose, code, CJK, and one character repeated. Run by
bench/run.sh (part "tokenizer": BENCH_ONLY=tokenizer sh bench/run.sh);
writes its section into bench/RESULTS.md's hand-written part (between
<!-- begin tokenizer --> and <!-- end tokenizer -->).

    python3 bench/tokenizer.py --work DIR --lua LUA --lua-path P --lua-cpath P
        --out bench/RESULTS.md [--rounds 3] [--node NODE]

Each peer runs in a fresh process per round and encoding (bench/tokenizer.lua,
bench/tokenizer.js), encodes each text REPS times and reports the median
CPU time of one encode; the table has the medians over the rounds, which
are interleaved. tiktoken and js-tiktoken are quadratic on a long run of
one character (1 MiB crashes tiktoken's WASM build), so they get a shorter
run of it; the table says how long.
"""
import argparse
import datetime
import glob
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import f, med, parse_kv, ratio, write_section  # noqa: E402

BENCH = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH)
ap = argparse.ArgumentParser()
for k in ("work", "lua", "lua-path", "lua-cpath", "out"):
    ap.add_argument("--" + k, required=True)
ap.add_argument("--node", default="")
ap.add_argument("--rounds", type=int, default=3)
A = ap.parse_args()

REPS = 5
ENCODINGS = ("o200k_base", "cl100k_base")
REPEAT = {"lua-chatgpt": 1 << 20, "tiktoken": 64 << 10, "js-tiktoken": 4 << 10}
CJK = ("机器学习是人工智能的一个分支，它使计算机能够从数据中学习，而无需明确编程。"
       "深度学习使用多层神经网络来处理图像、语音和自然语言。\n"
       "東京は日本の首都であり、世界でも有数の大都市です。日本語ではひらがな、カタカナ、"
       "漢字を組み合わせて文章を書きます。\n"
       "서울은 대한민국의 수도이며 한강을 중심으로 발전한 도시입니다. 한국어는 한글로 씁니다.\n")


def texts():
    d = os.path.join(A.work, "tok")
    os.makedirs(d, exist_ok=True)
    prose = "".join(open(p, encoding="utf-8", errors="replace").read()
                    for p in sorted(glob.glob("/usr/share/common-licenses/*")) if os.path.isfile(p))
    code = "".join(open(p, encoding="utf-8").read()
                   for p in sorted(glob.glob(os.path.join(ROOT, "src", "*.[ch]")) +
                                   glob.glob(os.path.join(ROOT, "lua", "chatgpt", "*.lua")))
                   if not p.endswith("unicode_class.c"))
    files = {"prose": prose, "code": code, "cjk": CJK * (300000 // len(CJK.encode()) + 1)}
    out = {}
    for name, text in files.items():
        out[name] = os.path.join(d, name + ".txt")
        open(out[name], "w", encoding="utf-8").write(text)
    for peer, n in REPEAT.items():
        out["repeat-" + peer] = os.path.join(d, "repeat%d.txt" % n)
        open(out["repeat-" + peer], "w").write("a" * n)
    return out


def run(peer, enc, reps, files):
    if peer == "lua-chatgpt":
        env = dict(os.environ, LUA_PATH=A.lua_path, LUA_CPATH=A.lua_cpath)
        argv = [A.lua, os.path.join(BENCH, "tokenizer.lua"), enc, str(reps)] + files
    else:
        env = dict(os.environ)
        argv = [A.node, os.path.join(BENCH, "tokenizer.js"), peer, enc, str(reps)] + files
    p = subprocess.run(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=900)
    if p.returncode != 0:
        sys.exit("tokenizer bench: %s failed:\n%s" % (" ".join(argv), p.stderr[-2000:]))
    return [parse_kv(line) for line in p.stdout.splitlines()]


def main():
    files = texts()
    peers = ["lua-chatgpt"] + (["tiktoken", "js-tiktoken"] if A.node else [])
    res = {}   # (peer, enc, text) -> list of per-round results
    mem = {}   # (peer, enc) -> list of (memory, rss)
    for rnd in range(A.rounds):
        for enc in ENCODINGS:
            for peer in peers:
                names = ["prose", "code", "cjk"]
                lines = run(peer, enc, REPS, [files[n] for n in names])
                lines += run(peer, enc, REPS if peer == "lua-chatgpt" else 1,
                             [files["repeat-" + peer]])[1:]
                mem.setdefault((peer, enc), []).append((lines[0]["memory"], lines[0]["rss"]))
                for name, line in zip(names + ["repeat"], lines[1:]):
                    res.setdefault((peer, enc, name), []).append(line)
            print("tokenizer bench: round %d/%d done" % (rnd + 1, A.rounds), flush=True)
    write(res, mem)


def write(res, mem):
    now = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    node = subprocess.run([A.node, "-v"], stdout=subprocess.PIPE, text=True).stdout.strip() \
        if A.node else "not run"
    L = ["## Tokenizer", "",
         "Written by bench/tokenizer.py on %s: `chatgpt.tokenizer` against tiktoken 1.0.22 (npm, "
         "WASM) and js-tiktoken 1.0.21 (npm), node %s. Time is the CPU time of one `encode` "
         "(whole text, ids out), median of %d encodes in one process, then median of %d "
         "interleaved rounds of fresh processes; the machine is shared with other jobs, so CPU "
         "rather than wall time. *×* is the peer's time per MB over lua-chatgpt's (higher: "
         "lua-chatgpt is faster)." % (now, node, REPS, A.rounds), "",
         "| encoding | text | peer | bytes | tokens | ms per MB | MB/s | × |",
         "|---|---|---|---:|---:|---:|---:|---:|"]
    for enc in ENCODINGS:
        for name in ("prose", "code", "cjk", "repeat"):
            ours = None
            for peer in ("lua-chatgpt", "tiktoken", "js-tiktoken"):
                rows = res.get((peer, enc, name))
                if not rows:
                    continue
                size = rows[0]["bytes"]
                per_mb = med([r["seconds"] for r in rows]) / (size / 1e6) * 1000
                if peer == "lua-chatgpt":
                    ours = per_mb
                label = {"repeat": "one character × %d" % size}.get(name, name)
                L.append("| %s | %s | %s | %d | %d | %s | %s | %s |" % (
                    enc, label, peer, size, rows[0]["tokens"], f(per_mb, "%.1f"),
                    f(1000 / per_mb if per_mb else None, "%.3g"),
                    f(ratio(per_mb, ours), "%.3g")))
    L += ["", "The texts: prose is /usr/share/common-licenses/* (English licence texts), code "
          "this repository's src/*.[ch] and lua/chatgpt/*.lua, CJK a Chinese, Japanese and "
          "Korean paragraph repeated; every peer got the same bytes and gave the same number "
          "of tokens. On one repeated character tiktoken and js-tiktoken take time quadratic "
          "in its length, so their ms per MB there is for the shorter run shown and grows "
          "with the length; lua-chatgpt's heap merge (src/bpe.c) is O(n log n).", "",
          "| encoding | peer | vocabulary in memory | resident set growth on load |",
          "|---|---|---:|---:|"]
    for enc in ENCODINGS:
        for peer in ("lua-chatgpt", "tiktoken", "js-tiktoken"):
            m = mem.get((peer, enc))
            if not m:
                continue
            L.append("| %s | %s | %s | %s MB |" % (
                enc, peer, "%.2f MB" % (m[0][0] / 1e6) if m[0][0] else "—",
                f(med([x[1] for x in m]) / 1e6, "%.1f")))
    L += ["", "*vocabulary in memory* is what src/vocab.c allocates (`tok:memory()`): the "
          "token bytes, their offsets, the hash table and the two-byte table, shared by every "
          "tokenizer of the process. The resident-set growth includes reading the file (and, "
          "for the node peers, parsing the JavaScript that carries the ranks)."]
    write_section(A.out, "tokenizer", "\n".join(L))


main()
