#!/bin/sh
# lua-chatgpt benchmarks: lua-chatgpt side by side with the floor (raw
# libcurl, bench/raw_curl.c) and the official OpenAI Node SDK, against local
# servers only (127.0.0.1). Writes bench/RESULTS.md.
#
# Usage:  make bench            (builds the module first; never part of make test)
#         sh bench/run.sh       (from the repository root, module already built)
#   BENCH_ROUNDS=5 sh bench/run.sh      more rounds (default 3; medians)
#   BENCH_NO_NODE=1 sh bench/run.sh     leave the Node SDK out
#   BENCH_NO_CALLGRIND=1 sh bench/run.sh
#                                       skip the instruction counts (valgrind)
#   BENCH_OUT=/tmp/r.md sh bench/run.sh write the report elsewhere
#   BENCH_NGINX=none sh bench/run.sh    no nginx: the Python server serves all
#   BENCH_MODULE_ROOT=/tmp/other sh bench/run.sh
#                                       benchmark the lua/ and build/ of another
#                                       tree (e.g. a patched copy) with this harness
#   BENCH_ONLY=scale sh bench/run.sh    run only some parts: harness, scale, idle,
#                                       tokenizer (comma-separated; default all four)
#   BENCH_IDLE_ROUNDS=9 sh bench/run.sh rounds of the idle-editor runs (default 7)
# Takes about 12 minutes on 2 cores (harness 1-2, scale ~2, idle ~6,
# tokenizer ~3).
#
# What it does:
#  1. Installs what is missing when it can (root or sudo, apt): nginx-light
#     (nginx + the echo module), lua-cjson, lua-socket; and, with npm, the
#     `openai` package pinned in bench/package.json into bench/node_modules
#     (if that fails - no registry - the Node column is skipped with a note).
#  2. Builds bench/measure.c (fork/exec/wait4 runner: wall, CPU, peak RSS)
#     and bench/raw_curl.c into bench/.work/bin.
#  3. bench/fixtures.py writes the served bodies (a 600-byte chat.completion,
#     SSE streams of 10, 200 and 5,000 chunks), an nginx config and the
#     expected counts into bench/.work/.
#  4. Starts nginx (foreground master, one worker, as the current user, prefix
#     bench/.work) and bench/servers.py (Python asyncio: 200/300 ms answers,
#     stalled and dripping streams) on free loopback ports. Without nginx's
#     echo module the Python server serves the streams; without nginx, all.
#  5. bench/harness.py runs every scenario x peer in fresh processes, 3
#     interleaved rounds, checks each result line against what was served,
#     counts instructions per request and per chunk once under callgrind
#     (when valgrind is there: immune to the machine's noise), and writes
#     the Markdown report. Every server is stopped on exit.
#  6. bench/scale.py: 1,000 paced streams in one Lua state (bench/scale.lua),
#     polling and on luv, against one stream alone; writes its section into
#     RESULTS.md's hand-written part. Raises `ulimit -n` to 4096 first.
#  7. bench/idle.py: CPU of headless Neovim, idle and with one 5-second
#     stream (bench/idle_nvim.lua) on the uv adapter or a 10 ms polling
#     timer, and the same stream read by a bare vim.loop socket (the
#     floor); builds the module for LuaJIT (make LUA=luajit) first; writes
#     its section into RESULTS.md's hand-written part. Skipped without nvim.
#  8. bench/tokenizer.py: chatgpt.tokenizer against tiktoken (WASM) and
#     js-tiktoken (npm, bench/package.json) on prose, code, CJK and one
#     repeated character; writes its section into RESULTS.md's hand-written
#     part. Needs no server: it runs before them, and alone with
#     BENCH_ONLY=tokenizer.
# bench/.work and bench/node_modules are git-ignored scratch.
set -eu
cd "$(dirname "$0")/.."
ROOT=$(pwd)
WORK=$ROOT/bench/.work
ROUNDS=${BENCH_ROUNDS:-3}
OUT=${BENCH_OUT:-$ROOT/bench/RESULTS.md}
LUA=${LUA:-lua5.4}
PY=${PYTHON:-python3}
MROOT=${BENCH_MODULE_ROOT:-$ROOT}
MODULE=$MROOT/build/chatgpt/core.so
ONLY=${BENCH_ONLY:-harness,scale,idle,tokenizer}
want_part() { case ",$ONLY," in *",$1,"*) return 0 ;; esac; return 1; }

say() { echo "bench: $*"; }
die() { echo "bench: $*" >&2; exit 1; }

[ -f "$MODULE" ] || die "no $MODULE: run 'make bench' (or 'make all' first)"
command -v "$LUA" >/dev/null || die "$LUA not found"
command -v "$PY" >/dev/null || die "$PY not found"
command -v cc >/dev/null || die "no C compiler (cc)"

# ---- 1. what is missing ----------------------------------------------------
mkdir -p "$WORK/bin" "$WORK/runs"
sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
need=""
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need="$need nginx-light"
"$LUA" -e 'require "cjson"' 2>/dev/null || need="$need lua-cjson"
"$LUA" -e 'require "socket"' 2>/dev/null || need="$need lua-socket"
"$LUA" -e 'require "luv"' 2>/dev/null || need="$need lua-luv"
if [ -n "$need" ] && command -v apt-get >/dev/null 2>&1; then
  say "installing:$need"
  { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq $need; } \
    >/dev/null 2>&1 || say "could not install$need; going on without"
fi
PATH=$PATH:/usr/sbin
NGINX=${BENCH_NGINX:-$(command -v nginx || true)}
[ "$NGINX" = none ] && NGINX=""

NODE=""
NODE_NOTE=""
if [ -n "${BENCH_NO_NODE:-}" ]; then
  NODE_NOTE="left out (BENCH_NO_NODE set)."
elif ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  NODE_NOTE="skipped: node/npm not installed."
else
  want=$(sed -n 's/.*"openai": *"\([^"]*\)".*/\1/p' bench/package.json)
  have=$(sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' bench/node_modules/openai/package.json 2>/dev/null | head -n 1)
  if [ "$have" != "$want" ] || [ ! -d bench/node_modules/tiktoken ] || [ ! -d bench/node_modules/js-tiktoken ]; then
    say "npm install openai@$want into bench/node_modules"
    timeout 300 npm install --prefix bench --no-audit --no-fund --no-package-lock \
      --loglevel=error >"$WORK/npm-install.log" 2>&1 || true
    have=$(sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' bench/node_modules/openai/package.json 2>/dev/null | head -n 1)
  fi
  if [ "$have" = "$want" ] && node -e "require('./bench/node_modules/openai')" >/dev/null 2>&1; then
    NODE=$(command -v node)
  else
    NODE_NOTE="skipped: npm could not install openai@$want (no registry?), see bench/.work/npm-install.log."
  fi
fi

# 1,000 streams at once need ~1,000 descriptors in the client and in nginx
# (both inherit this limit): 1,024 is a common soft limit
nofile=$(ulimit -n)
if [ "$nofile" != unlimited ] && [ "$nofile" -lt 4096 ]; then
  ulimit -n 4096 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
  say "ulimit -n: $nofile -> $(ulimit -n)"
fi

# ---- 2. build ----------------------------------------------------------------
rm -f "$WORK"/runs/*
CURL_CFLAGS=$(pkg-config --cflags libcurl 2>/dev/null || true)
CURL_LIBS=$(pkg-config --libs libcurl 2>/dev/null || echo -lcurl)
cc -O2 -Wall -Wextra -o "$WORK/bin/measure" bench/measure.c
cc -O2 -Wall -Wextra $CURL_CFLAGS -o "$WORK/bin/raw_curl" bench/raw_curl.c $CURL_LIBS

# ---- 2b. the tokenizer against tiktoken and js-tiktoken (no server) ------------
if want_part tokenizer; then
  TOK_NODE=""
  [ -n "$NODE" ] && node -e "require('./bench/node_modules/tiktoken'); require('./bench/node_modules/js-tiktoken/dist/lite.cjs')" \
    >/dev/null 2>&1 && TOK_NODE=$NODE
  [ -z "$TOK_NODE" ] && say "tokenizer: tiktoken or js-tiktoken missing from bench/node_modules; lua-chatgpt alone"
  "$PY" bench/tokenizer.py --work "$WORK" --lua "$LUA" \
    --lua-path "$MROOT/lua/?.lua;$MROOT/lua/?/init.lua;;" --lua-cpath "$MROOT/build/?.so;;" \
    ${TOK_NODE:+--node "$TOK_NODE"} --rounds "$ROUNDS" --out "$OUT"
  sed -n '/<!-- begin tokenizer -->/,/<!-- end tokenizer -->/p' "$OUT" | grep '^|' | head -n 30
fi
case ",$ONLY," in *,harness,* | *,scale,* | *,idle,*) ;; *) exit 0 ;; esac

# ---- 3. fixtures -------------------------------------------------------------
freeport() {
  "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
NGX_PORT=$(freeport)
SLOW_PORT=$(freeport)
while [ "$SLOW_PORT" = "$NGX_PORT" ]; do SLOW_PORT=$(freeport); done

ECHO_MOD=-
NGINX_NOTE=""
if [ -n "$NGINX" ]; then
  if "$NGINX" -V 2>&1 | grep -q 'echo-nginx-module'; then
    ECHO_MOD=builtin
  else
    for m in /usr/lib/nginx/modules/ngx_http_echo_module.so /usr/share/nginx/modules/ngx_http_echo_module.so; do
      [ -f "$m" ] && ECHO_MOD=$m && break
    done
  fi
fi
"$PY" bench/fixtures.py "$WORK" "$NGX_PORT" "$ECHO_MOD"
[ "$ECHO_MOD" = builtin ] && sed -i '/^load_module /d' "$WORK/conf/nginx.conf"

# ---- 4. servers --------------------------------------------------------------
NGX_PID=""
PY_PID=""
cleanup() {
  for p in $NGX_PID $PY_PID; do
    kill -TERM "$p" 2>/dev/null || true
  done
  for p in $NGX_PID $PY_PID; do
    wait "$p" 2>/dev/null || true
  done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

wait_up() {  # wait_up PORT: up to 5 s for "pong"
  "$PY" - "$1" <<'EOF'
import sys, time, urllib.request
for _ in range(100):
    try:
        if urllib.request.urlopen("http://127.0.0.1:%s/ping" % sys.argv[1], timeout=1).read() == b"pong":
            sys.exit(0)
    except Exception:
        time.sleep(0.05)
sys.exit(1)
EOF
}

"$PY" bench/servers.py "$WORK" "$SLOW_PORT" &
PY_PID=$!
wait_up "$SLOW_PORT" || die "the Python server did not start"
SLOW=http://127.0.0.1:$SLOW_PORT
NGX=$SLOW
STREAMS=$SLOW
if [ -n "$NGINX" ]; then
  "$NGINX" -p "$WORK" -c "$WORK/conf/nginx.conf" -e "$WORK/logs/error.log" -t -q \
    || die "nginx rejected $WORK/conf/nginx.conf"
  "$NGINX" -p "$WORK" -c "$WORK/conf/nginx.conf" -e "$WORK/logs/error.log" &
  NGX_PID=$!
  wait_up "$NGX_PORT" || die "nginx did not start (see $WORK/logs/error.log)"
  NGX=http://127.0.0.1:$NGX_PORT
  if [ "$ECHO_MOD" != - ]; then
    STREAMS=$NGX
    NGINX_NOTE="$("$NGINX" -v 2>&1 | sed 's/.*: //'), echo module"
  else
    NGINX_NOTE="$("$NGINX" -v 2>&1 | sed 's/.*: //'), no echo module: streams from the Python server"
  fi
else
  NGINX_NOTE="nginx missing: every body from the Python server"
fi
say "nginx $NGX, streams $STREAMS, slow server $SLOW"

# ---- 5. run ------------------------------------------------------------------
VERSIONS=""
[ "$MROOT" != "$ROOT" ] && VERSIONS="module from $MROOT, "
VERSIONS="$VERSIONS$("$LUA" -v 2>&1 | cut -d' ' -f1,2), libcurl $(curl-config --version 2>/dev/null | cut -d' ' -f2)"
[ -n "$NODE" ] && VERSIONS="$VERSIONS, node $("$NODE" -v), openai (npm) $want"
VERSIONS="$VERSIONS, $("$PY" -V 2>&1)"
SERVER_PIDS=$PY_PID${NGX_PID:+,$NGX_PID}
CALLGRIND=""
[ -z "${BENCH_NO_CALLGRIND:-}" ] && command -v valgrind >/dev/null 2>&1 && CALLGRIND=--callgrind
if want_part harness; then
  "$PY" bench/harness.py --work "$WORK" --nginx "$NGX" --streams "$STREAMS" --slow "$SLOW" \
    --bin "$WORK/bin" --lua "$LUA" \
    --lua-path "$MROOT/lua/?.lua;$MROOT/lua/?/init.lua;;" --lua-cpath "$MROOT/build/?.so;;" \
    ${NODE:+--node "$NODE"} --node-note "$NODE_NOTE" --nginx-note "$NGINX_NOTE" \
    --versions "$VERSIONS" --server-pids "$SERVER_PIDS" --rounds "$ROUNDS" --out "$OUT" $CALLGRIND
  sed -n '/^## Targets/,/^## Rerun/p' "$OUT" | sed '$d'
fi

# ---- 6. scale: 1,000 streams in one Lua state ---------------------------------
# who serves the paced streams, for the reports
if [ -n "$NGINX" ] && [ "$ECHO_MOD" != - ]; then
  STREAMS_NOTE="the bench's nginx (echo module, \`echo_sleep\`)"
else
  STREAMS_NOTE="the bench's Python server (bench/servers.py: no nginx echo module here)"
fi
if want_part scale; then
  if "$LUA" -e 'require "luv"' 2>/dev/null; then
    "$PY" bench/scale.py --work "$WORK" --streams "$STREAMS" --streams-note "$STREAMS_NOTE" \
      --bin "$WORK/bin" --lua "$LUA" \
      --lua-path "$MROOT/lua/?.lua;$MROOT/lua/?/init.lua;;" --lua-cpath "$MROOT/build/?.so;;" \
      --server-pids "$SERVER_PIDS" --rounds "$ROUNDS" --out "$OUT"
  else
    say "scale: skipped, no luv for $LUA (apt-get install lua-luv)"
  fi
fi

# ---- 7. an idle editor stays idle ------------------------------------------------
if want_part idle; then
  if ! command -v nvim >/dev/null 2>&1; then
    say "idle: skipped, nvim not installed (make deps)"
  elif ! make -C "$MROOT" --no-print-directory LUA=luajit all >"$WORK/luajit-build.log" 2>&1; then
    say "idle: skipped, make LUA=luajit failed (see bench/.work/luajit-build.log)"
  else
    "$PY" bench/idle.py --work "$WORK" --streams "$STREAMS" --streams-note "$STREAMS_NOTE" \
      --bin "$WORK/bin" --root "$MROOT" \
      --build "$MROOT/build/luajit" --server-pids "$SERVER_PIDS" \
      --rounds "${BENCH_IDLE_ROUNDS:-7}" --out "$OUT"
  fi
fi
