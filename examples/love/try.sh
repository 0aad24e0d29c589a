#!/bin/sh
# Runs the game against the fake OpenAI server bundled for the tests
# (spec/support/fake_openai.py --run: OPENAI_BASE_URL set to it, no key, no
# network). From anywhere:
#
#   sh examples/love/try.sh
#
# Builds the module for LuaJIT first when it is missing (make nvim).
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
[ -f "$root/build/luajit/chatgpt/core.so" ] || [ -f "$root/lua/chatgpt/core.so" ] ||
  make -C "$root" nvim || exit 1
exec python3 "$root/spec/support/fake_openai.py" --run love "$here"
