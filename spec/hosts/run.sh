#!/bin/sh
# make test-hosts: the module inside real hosts, both on LuaJIT, against the
# fake server (spec/support/fake_openai.py):
#   headless Neovim
#     nvim_test.lua       the examples/nvim plugin, server up, then down
#     nvim_callbacks.lua  every callback calls vim.api directly (chatgpt.uv)
#     nvim_quiet.lua      server down, reset, cancel, detach: nothing on
#                         stdout, stderr or :messages
#     nvim_pack.lua       a pack/ install in a temporary HOME built with
#                         make nvim: require, :help chatgpt, :checkhealth
#     nvim_readme.lua     README's Neovim block, started by its no-key
#                         command from that copy (the checkout)
#   LOVE under xvfb-run, examples/love started from another folder: no key,
#     the server down, a refused key, the server up (streams wrapped to the
#     window while frames tick); the game shipped with the module beside
#     main.lua, and fused with it next to the executable
# The pack/ copy builds in the background meanwhile. DOWN_URL is a port
# bound and never listened on: refused, and nobody else's while held.
# Ends with "N passed, N failed"; a host that is not installed fails.
build=${CHATGPT_BUILD:-build/luajit}
root=$(pwd)
py=${PYTHON:-python3}
passed=0 failed=0
tmp=$(mktemp -d)
fake='' hold='' builder=''
trap 'kill $fake $hold $builder 2>/dev/null; rm -rf "$tmp"' EXIT

# the pack/ install: the repository as a plugin manager would clone it
pack=$tmp/home/.local/share/nvim/site/pack/test/start/lua-chatgpt
mkdir -p "$pack" "$tmp/elsewhere"
tar -cf - --exclude=./build --exclude=./.git --exclude=./dist --exclude=./bench/node_modules \
    --exclude=./bench/.work --exclude=./spec/fixtures --exclude=./lua/chatgpt/core.so . | tar -xf - -C "$pack"
( cd "$pack" && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u LUA -u BUILD make nvim >"$tmp/pack.log" 2>&1
  echo $? >"$tmp/pack.rc" ) &
builder=$!

$py spec/support/fake_openai.py --port 0 --port-file "$tmp/port" --exit-on-stdin-eof >/dev/null 2>&1 </dev/zero &
fake=$!
$py -c '
import os, socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", 0))
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write(str(s.getsockname()[1]))
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
time.sleep(600)' "$tmp/down" &
hold=$!
i=0; while { [ ! -s "$tmp/port" ] || [ ! -s "$tmp/down" ]; } && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
port=$(cat "$tmp/port")
base="http://127.0.0.1:$port/v1"
down="http://127.0.0.1:$(cat "$tmp/down")/v1"
want="Hello! I am the local fake OpenAI server."

# fake_post PATH JSON: the fake server's control API
fake_post() {
  $py - "$port" "$1" "$2" <<'PY'
import sys, urllib.request
req = urllib.request.Request("http://127.0.0.1:%s%s" % (sys.argv[1], sys.argv[2]), data=sys.argv[3].encode(),
                             headers={"Content-Type": "application/json"})
urllib.request.urlopen(req).read()
PY
}

pass() { echo "$1: $2"; passed=$((passed + 1)); }
fail() { echo "$1: FAILED: $2"; failed=$((failed + 1)); }
# check NAME: the result file says ok
check() {
  if grep -q '^ok' "$tmp/$1" 2>/dev/null; then pass "$1" "$(cat "$tmp/$1")"
  else fail "$1" "$(cat "$tmp/$1" 2>/dev/null || echo 'no result') $(head -c 600 "$tmp/$1.err" 2>/dev/null)"; fi
}

# nv NAME FILE [VAR=value ...]: headless Neovim runs FILE; its stdout and
# stderr are kept in NAME.out and NAME.err
nv() {
  name=$1 file=$2
  shift 2
  env OPENAI_API_KEY=sk-test OPENAI_BASE_URL="$base" DOWN_URL="$down" HOST_WANT="$want" \
      CHATGPT_BUILD="$build" HOST_RESULT="$tmp/$name" "$@" \
    timeout 60 nvim --headless -u NONE -i NONE -c "luafile $file" >"$tmp/$name.out" 2>"$tmp/$name.err" </dev/null
}

if command -v nvim >/dev/null 2>&1; then
  nv nvim-plugin spec/hosts/nvim_test.lua
  check nvim-plugin
  nv nvim-plugin-down spec/hosts/nvim_test.lua OPENAI_BASE_URL="$down" HOST_WANT_ERROR=1
  check nvim-plugin-down
  nv nvim-callbacks spec/hosts/nvim_callbacks.lua
  check nvim-callbacks
  for what in reset-me cancel-me detach-me; do
    case $what in
      reset-me) r='"drop_after": 600, "chunk_delay": 0.005' ;;
      *) r='"chunk_delay": 0.05' ;;
    esac
    fake_post /_fake/script "{\"body_contains\": \"$what\", \"sse_repeat\": {\"data\":
      {\"choices\": [{\"index\": 0, \"delta\": {\"content\": \"x \"}}]}, \"count\": 40}, $r}"
  done
  nv nvim-quiet spec/hosts/nvim_quiet.lua
  if [ -s "$tmp/nvim-quiet.out" ] || [ -s "$tmp/nvim-quiet.err" ]; then
    fail nvim-quiet "printed: $(cat "$tmp/nvim-quiet.out" "$tmp/nvim-quiet.err" | head -c 600)"
  else
    check nvim-quiet
  fi
  fake_post /_fake/reset '{}'
  wait "$builder"
  builder=''
  if [ "$(cat "$tmp/pack.rc" 2>/dev/null)" = 0 ]; then
    (cd "$tmp/elsewhere" && env -u XDG_CONFIG_HOME -u XDG_DATA_HOME -u XDG_STATE_HOME -u XDG_CACHE_HOME \
       -u VIMINIT -u NVIM_APPNAME HOME="$tmp/home" OPENAI_BASE_URL="$base" PACK_DIR="$pack" \
       HOST_RESULT="$tmp/nvim-pack" timeout 60 nvim --headless -u NORC -i NONE \
       -c "luafile $root/spec/hosts/nvim_pack.lua" >"$tmp/nvim-pack.out" 2>"$tmp/nvim-pack.err" </dev/null)
    check nvim-pack
    # README's no-key command and Lua block, from the checkout (the copy)
    (cd "$pack" && env -u XDG_CONFIG_HOME -u XDG_DATA_HOME -u XDG_STATE_HOME -u XDG_CACHE_HOME \
       -u VIMINIT -u NVIM_APPNAME HOME="$tmp/elsewhere" HOST_RESULT="$tmp/nvim-readme" \
       timeout 60 $py spec/support/fake_openai.py --run nvim --cmd 'set rtp^=.' --headless -u NONE -i NONE \
       -c "luafile $root/spec/hosts/nvim_readme.lua" >"$tmp/nvim-readme.out" 2>"$tmp/nvim-readme.err" </dev/null)
    check nvim-readme
  else
    fail nvim-pack "make nvim in the pack/ copy: $(tail -5 "$tmp/pack.log")"
  fi
else
  fail neovim "nvim not installed (make deps)"
fi

# lv NAME GAME [VAR=value ...]: LOVE runs GAME from another folder
lv() {
  name=$1 game=$2
  shift 2
  (cd "$tmp/elsewhere" && env OPENAI_API_KEY=sk-test OPENAI_BASE_URL="$base" HOST_RESULT="$tmp/$name" "$@" \
     timeout 60 xvfb-run -a $game >"$tmp/$name.out" 2>&1)
}
# seen NAME STATES PATTERN...: the game ended with STATES (its requests'),
# its text within the window, and a line of the screen with each PATTERN
seen() {
  name=$1 states=$2
  shift 2
  info=$(grep '^info ' "$tmp/$name" 2>/dev/null)
  why=''
  case $info in *"states=$states"*) ;; *) why="states, not $states" ;; esac
  set -- "$@"
  for p in "$@"; do grep -q "^line .*$p" "$tmp/$name" || why="$why; no line with '$p'"; done
  w=$(echo "$info" | sed -n 's/.*widest=\([0-9]*\) .*width=\([0-9]*\) .*/\1 \2/p')
  h=$(echo "$info" | sed -n 's/.*bottom=\([0-9]*\) .*height=\([0-9]*\) .*/\1 \2/p')
  [ -n "$w" ] && [ "${w% *}" -le "${w#* }" ] || why="$why; wider than the window ($w)"
  [ -n "$h" ] && [ "${h% *}" -le "${h#* }" ] || why="$why; taller than the window ($h)"
  if [ -z "$why" ]; then pass "$name" "$info"; else fail "$name" "$why: $(head -c 900 "$tmp/$name" "$tmp/$name.out")"; fi
}

if command -v love >/dev/null 2>&1 && command -v xvfb-run >/dev/null 2>&1; then
  game="love $root/examples/love"
  lv love-nokey "$game" OPENAI_API_KEY= OPENAI_BASE_URL=
  seen love-nokey none,none,none "no API key" "examples/love/try.sh"
  lv love-down "$game" OPENAI_BASE_URL="$down"
  seen love-down failed,failed,failed "COULDNT_CONNECT" "is the server up?"
  fake_post /_fake/config '{"require_key": "sk-right"}'
  lv love-401 "$game" OPENAI_API_KEY=sk-wrong
  seen love-401 failed,failed,failed "401" "check OPENAI_API_KEY"
  fake_post /_fake/config '{"require_key": null}'
  # three streams of 60 words, 10 ms apart: frames tick meanwhile, and the
  # lines wrap to the window
  fake_post /_fake/script '{"sse_repeat": {"data": {"id": "c", "object": "chat.completion.chunk",
    "created": 1, "model": "m", "choices": [{"index": 0, "delta": {"content": "word "},
    "finish_reason": null}]}, "count": 60}, "chunk_delay": 0.01, "repeat": 3}'
  lv love-up "$game"
  seen love-up done,done,done "Blacksmith: word word"
  # a poll that blocked would let a frame or two through while 0.6 s of
  # chunks come; the worst frame is only reported (a loaded machine stalls
  # any process now and then)
  if grep -q '^info .*frames=\([6-9]\|[1-9][0-9][0-9]*\) ' "$tmp/love-up"; then
    pass love-frames "frames kept ticking: $(grep -o 'frames=[0-9]* worst_ms=[0-9.]*' "$tmp/love-up")"
  else
    fail love-frames "$(grep '^info' "$tmp/love-up")"
  fi

  # shipped: the module beside main.lua (a game run from its folder) ...
  mkdir -p "$tmp/game/chatgpt" "$tmp/fused/chatgpt"
  cp examples/love/main.lua examples/love/conf.lua "$tmp/game/"
  cp lua/chatgpt/*.lua "$tmp/game/chatgpt/"
  cp "$build/chatgpt/core.so" "$tmp/game/chatgpt/core.so"
  lv love-beside "love $tmp/game"
  seen love-beside done,done,done "$want"
  # ... and fused: the game inside the executable, core.so next to it
  rm "$tmp/game/chatgpt/core.so"
  (cd "$tmp/game" && $py -m zipfile -c "$tmp/game.love" main.lua conf.lua chatgpt)
  cat "$(command -v love)" "$tmp/game.love" >"$tmp/fused/npcs"
  chmod 755 "$tmp/fused/npcs"
  cp "$build/chatgpt/core.so" "$tmp/fused/chatgpt/core.so"
  lv love-fused "$tmp/fused/npcs"
  seen love-fused done,done,done "$want"
else
  fail love "love or xvfb-run not installed (make deps)"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
