-- Runs inside headless Neovim started by spec/hosts/run.sh as README's
-- Neovim quick start says, from a checkout built with `make nvim`:
--   python3 spec/support/fake_openai.py --run nvim --cmd 'set rtp^=.'
-- (with -u NONE, so that only that runtimepath finds the module). Runs
-- README's Lua block of that section as written, waits for the answer it
-- puts in the buffer, and writes "ok ..." or "FAILED ..." to $HOST_RESULT.
-- luacheck: read globals vim
local out = assert(os.getenv("HOST_RESULT"))

local function finish(line)
  local f = assert(io.open(out, "w"))
  f:write(line, "\n")
  f:close()
  vim.cmd("qall!")
end

local ok, err = pcall(function()
  local f = assert(io.open("README.md"))
  local text = f:read("*a")
  f:close()
  local section = assert(text:match("\n## Quick start: Neovim\n(.-)\n## "), "no Neovim quick start")
  local block
  for code in section:gmatch("\n```lua\n(.-)\n```\n") do
    if code:find('require "chatgpt"', 1, true) then block = code end
  end
  assert(block, "no Lua block in it that requires chatgpt")
  assert((loadstring or load)(block, "=README"))()
  local done = vim.wait(30000, function()   -- the editor's loop runs meanwhile
    return table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, false), "\n"):find("Hello", 1, true) ~= nil
  end, 20)
  local lines = table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, false), " | ")
  assert(done, "no answer in the buffer after 30 s: " .. lines)
  return lines
end)
finish(ok and "ok README's Neovim block: " .. err or "FAILED " .. tostring(err))
