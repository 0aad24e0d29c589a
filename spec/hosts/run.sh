#!/bin/sh
# make test-hosts: the module inside real hosts, against the fake server.
#   headless Neovim (LuaJIT, the examples/nvim plugin on Neovim's loop)
#   LOVE under xvfb-run (examples/love: NPC lines streaming while frames tick)
# Ends with "N passed, N failed"; a host that is not installed fails.
build=${CHATGPT_BUILD:-build/luajit}
py=${PYTHON:-python3}
passed=0 failed=0
tmp=$(mktemp -d)
$py spec/support/fake_openai.py --port 0 --port-file "$tmp/port" --exit-on-stdin-eof >/dev/null 2>&1 </dev/zero &
fake=$!
i=0; while [ ! -s "$tmp/port" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
port=$(cat "$tmp/port")
base="http://127.0.0.1:$port/v1"
want="Hello! I am the local fake OpenAI server."

check() { # name result-file
  if grep -q '^ok' "$2" 2>/dev/null; then
    echo "$1: $(cat "$2")"; passed=$((passed + 1))
  else
    echo "$1: FAILED: $(cat "$2" 2>/dev/null || echo 'no result')"; failed=$((failed + 1))
  fi
}

if command -v nvim >/dev/null 2>&1; then
  HOST_RESULT=$tmp/nvim HOST_WANT=$want CHATGPT_BUILD=$build OPENAI_BASE_URL=$base \
    OPENAI_API_KEY=sk-test timeout 60 nvim --headless -u NONE -i NONE -c 'luafile spec/hosts/nvim_test.lua' >/dev/null 2>&1
  check "neovim" "$tmp/nvim"
else
  echo "neovim: FAILED: nvim not installed (make deps)"; failed=$((failed + 1))
fi

if command -v love >/dev/null 2>&1 && command -v xvfb-run >/dev/null 2>&1; then
  # three streams of 25 words, 20 ms apart: frames must keep ticking meanwhile
  $py - "$port" <<'PY'
import json, sys, urllib.request
chunk = json.dumps({"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m",
                    "choices": [{"index": 0, "delta": {"content": "word "}, "finish_reason": None}]})
reply = {"sse_repeat": {"data": chunk, "count": 25}, "chunk_delay": 0.02, "repeat": 3}
req = urllib.request.Request("http://127.0.0.1:%s/_fake/script" % sys.argv[1],
                             data=json.dumps(reply).encode(), headers={"Content-Type": "application/json"})
urllib.request.urlopen(req).read()
PY
  HOST_RESULT=$tmp/love CHATGPT_BUILD=$build OPENAI_BASE_URL=$base OPENAI_API_KEY=sk-test \
    timeout 60 xvfb-run -a love examples/love >/dev/null 2>&1
  check "love" "$tmp/love"
else
  echo "love: FAILED: love or xvfb-run not installed (make deps)"; failed=$((failed + 1))
fi

kill $fake 2>/dev/null
rm -rf "$tmp"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
