#!/bin/sh
# Runs the example plugin against the fake OpenAI server bundled for the
# tests (spec/support/fake_openai.py --run: OPENAI_BASE_URL set to it, no
# key, no network). From anywhere:
#
#   sh examples/nvim/try.sh [prompt]
#
# Builds the module for Neovim first when it is missing (make nvim), then
# opens Neovim with :LuaChatGPT Hello (your own config left out: --clean).
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
[ -f "$root/lua/chatgpt/core.so" ] || make -C "$root" nvim || exit 1
exec python3 "$root/spec/support/fake_openai.py" --run \
  nvim --clean --cmd "set rtp^=$root,$here" -c "LuaChatGPT ${*:-Hello}"
