#!/bin/sh
# Runs the game against the fake OpenAI server bundled for the tests
# (spec/support/fake_openai.py): no key, no network. From anywhere:
#
#   sh examples/love/try.sh
#
# Builds the module for LuaJIT first when it is missing (make nvim).
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
[ -f "$root/build/luajit/chatgpt/core.so" ] || [ -f "$root/lua/chatgpt/core.so" ] ||
  make -C "$root" nvim || exit 1
tmp=$(mktemp -d)
python3 "$root/spec/support/fake_openai.py" --port 0 --port-file "$tmp/port" >/dev/null 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; rm -rf "$tmp"' EXIT INT TERM
i=0; while [ ! -s "$tmp/port" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
[ -s "$tmp/port" ] || { echo "the fake server did not start (python3?)"; exit 1; }
OPENAI_BASE_URL="http://127.0.0.1:$(cat "$tmp/port")/v1" love "$here"
