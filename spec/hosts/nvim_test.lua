-- Runs inside headless Neovim (spec/hosts/run.sh): the examples/nvim plugin
-- streams a chat from the fake server into a buffer on Neovim's own loop
-- (chatgpt.uv), and the buffer's text is checked. Writes "ok ..." or
-- "FAILED ..." to $HOST_RESULT, then quits.
local out = assert(os.getenv("HOST_RESULT"))
local function finish(line)
  local f = assert(io.open(out, "w"))
  f:write(line, "\n")
  f:close()
  vim.cmd("qa!")
end

local ok, err = pcall(function()
  package.path = "lua/?.lua;lua/?/init.lua;examples/nvim/lua/?.lua;" .. package.path
  package.cpath = os.getenv("CHATGPT_BUILD") .. "/?.so;" .. package.cpath
  vim.opt.runtimepath:append("examples/nvim")
  vim.cmd("runtime plugin/chatgpt.lua")
  vim.cmd("ChatGPT hello from neovim")
  local buf = vim.api.nvim_get_current_buf()
  local done = vim.wait(10000, function() return vim.b[buf].chatgpt_status ~= nil end, 20)
  local text = table.concat(vim.api.nvim_buf_get_lines(buf, 0, -1, false), "\n")
  local want = os.getenv("HOST_WANT")
  if done and vim.b[buf].chatgpt_status == "done" and text == want then
    finish("ok nvim " .. tostring(jit and jit.version) .. ": " .. text)
  else
    finish(("FAILED nvim: status %s, buffer %q"):format(tostring(vim.b[buf].chatgpt_status), text))
  end
end)
if not ok then finish("FAILED nvim: " .. tostring(err)) end
